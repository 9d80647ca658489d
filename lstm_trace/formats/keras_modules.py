"""Keras layers as modules: one per recurrent layer, and the stack of a chain of them.

A Keras recurrent layer (LSTM, GRU, RNN(LSTMCell), a Bidirectional of any: its two halves
are one module) is a module named as the layer is. Layers of one cell and size that follow
each other with nothing between them (a Sequential of stacked LSTMs) are also listed as one
stacked module, 'lstm+lstm_1', which lstm-trace traces as a multi-layer LSTM: what it traced
before modules existed, and still the default when it holds every layer of the file.

keras_module turns one layer's (or a chain's) variables and what a config says of them into
a Module: the architecture, the notes a reader owes the user (go_backwards, a bias-free GRU's
reset_after) and the facts only assumed; stack_module is the one test of whether layers
stack, for Keras model files and Keras names alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..cells import cell_of
from ..errors import ConfigError, FileError
from ..frameworks import KerasLayer, infer_keras
from .keras_config import stack_facts
from .keras_h5 import H5_ASSUMPTIONS, keras_layers_with_left_out
from .modules import Contents, Module, Untraced, module_kind

#: what a bias-free Keras GRU without a config cannot say
ASSUMED_RESET_AFTER = (
    "a GRU without biases does not show its reset_after (the (2, 3H) or (3H,) bias would); "
    "taken as reset_after=True, Keras's default (--no-reset-after says otherwise); a .keras "
    "file would say"
)
#: how a go_backwards layer's output lines up with Keras's
GO_BACKWARDS_NOTE = (
    "go_backwards=True: read as a reverse-only layer (direction reverse); lstm-trace's output "
    "is time-aligned, output[:, t] is h after reading x[:, t], while Keras returns the steps "
    "in reading order: its output[:, s] is lstm-trace's output[:, T-1-s]"
)
#: what Keras names in an .npz or .safetensors cannot say, said once on stderr
KERAS_NAMES_DIRECTION = (
    "Keras names hold no layer settings: read forward in time, go_backwards=False "
    "(--direction reverse for a stack whose first layer has go_backwards=True)"
)


def keras_module(
    path: Path,
    name: str,
    layers: list[KerasLayer],
    cfg: dict[str, Any] | None,
    notes: tuple[str, ...] = (),
    parts: tuple[str, ...] = (),
) -> Module:
    """The module of Keras layers (one, or a chain's), with what cfg (a model config's facts:
    go_backwards, reset_after, ...; None when the file has no config) says of them."""
    told = None if cfg is None else cfg.get("reset_after")
    try:
        arch = infer_keras(layers, reset_after=told)
    except ConfigError as exc:
        raise FileError(f"{path}: {exc.message}") from None
    assumed: dict[str, tuple[Any, ...]] = {}
    if cfg is not None and cfg.get("go_backwards"):
        arch = replace(arch, direction="reverse")
        notes += (f"{path}: {GO_BACKWARDS_NOTE}",)
    elif cfg is None and arch.direction == "uni":
        assumed["direction"] = ("uni", "reverse")  # go_backwards is not in the weights
        if not any(H5_ASSUMPTIONS in n for n in notes):  # a .weights.h5's note says it too
            notes += (f"{path}: {KERAS_NAMES_DIRECTION}",)
    if "reset_after" in cell_of(arch.cell).options and not arch.bias and told is None:
        notes += (f"{path}: {ASSUMED_RESET_AFTER}",)
        assumed["reset_after"] = (True, False)
    dtypes = {str(v.dtype) for layer in layers for d in layer for v in d.values()}
    return Module(
        name=name or module_kind(arch),
        kind=module_kind(arch),
        framework="keras",
        architecture=arch,
        keras=layers,
        keras_config=cfg,
        notes=notes,
        assumed=assumed,
        parts=parts,
        stored_dtype=dtypes.pop() if len(dtypes) == 1 else None,
    )


def stack_name(names: Sequence[str]) -> str:
    """'lstm+lstm_1': the stacked module of these layers, bottom first."""
    return "+".join(names)


def stack_module(
    path: Path,
    names: list[str],
    layers: list[KerasLayer],
    facts: list[dict[str, Any]] | None,
    notes: tuple[str, ...] = (),
) -> tuple[Module | None, str]:
    """The stacked module of layers that chain (facts: each one's, None without a config),
    or None and why not ('' when they differ in cell or size: plainly not one stack)."""
    cfg: dict[str, Any] | None = None
    if facts is not None:
        combined = stack_facts(names, facts)
        if isinstance(combined, str):
            return None, combined
        cfg = combined
    for k in range(1, len(layers)):
        reads = int(np.shape(layers[k][0]["kernel"])[0])
        below = len(layers[k - 1]) * int(np.shape(layers[k - 1][0]["recurrent_kernel"])[0])
        if reads != below:
            return None, ""
    try:
        return keras_module(path, stack_name(names), layers, cfg, notes, tuple(names)), ""
    except FileError:
        return None, ""  # mixed cells, sizes or biases: each layer is traced alone


def chain(
    path: Path,
    names: Sequence[str],
    layers: Sequence[KerasLayer],
    notes: tuple[str, ...] = (),
) -> list[Module]:
    """One module per layer of a file without a config, then the stacked module of all of
    them when they stack (stack_module); layers that do not are modules of their own."""
    pairs = zip(names, layers, strict=True)
    own = [keras_module(path, n, [layer], None, notes) for n, layer in pairs]
    if len(layers) < 2:
        return own
    stacked, _ = stack_module(path, list(names), list(layers), None, notes)
    return own if stacked is None else [*own, stacked]


def is_keras_name(name: str) -> bool:
    """A Keras variable path: '.../kernel', '.../recurrent_kernel', '.../bias', '.../vars/0'."""
    parts = name.replace(".", "/").split("/")
    return parts[-1] in ("kernel", "recurrent_kernel", "bias") or (
        len(parts) >= 2 and parts[-2] == "vars"
    )


def keras_named_modules(
    path: Path, arrays: Mapping[str, NDArray[Any]], *, ordered: bool
) -> Contents:
    """The Keras layers among named tensors ('lstm_1/kernel', ...), as modules."""
    layers, names, left_out = keras_layers_with_left_out(arrays, ordered=ordered)
    modules = chain(path, names, layers)
    untraced = tuple(Untraced(k, "tensor") for k in left_out)
    return Contents(path, tuple(modules), untraced)
