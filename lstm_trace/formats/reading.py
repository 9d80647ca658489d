"""Reading weights files. Files from users are data, never code.

- .npz: np.load(allow_pickle=False); PyTorch or Keras names, told apart by the keys.
- .safetensors: the optional `safetensors` package.
- .pt / .pth / .jit (and a .zip torch wrote): torch's zip archives read without torch by a
  restricted unpickler (torch_archive.py): a state_dict, a checkpoint holding any number of
  them, a pickled module or a TorchScript module; a legacy (pre-1.6) file the same way
  (torch_legacy.py).
- .keras / .weights.h5 / .h5: Keras models and weights (legacy Keras 2 .h5 too), through the
  optional `h5py` package (keras_archive.py).
- .onnx: every LSTM and GRU node, through the optional `onnx` package (onnx_read.py).

registry.py finds the reader by suffix. Every file becomes a Contents (modules.py): its
recurrent modules, found among named tensors by named.py (PyTorch's and a file's own names)
or keras_modules.py (Keras names), and the rest; read_weights gives the WeightsFile of the
module a trace takes.
The .npy inputs (x, h0, c0) are npz.read_array's. Writing is writing.py's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..config import DEFAULT_MAX_MEMORY, LSTMConfig
from ..errors import ConfigError, FileError
from ..frameworks import Architecture, from_keras, from_pytorch
from ..weights import LSTMWeights
from .dtype_policy import half_note
from .file_limits import must_exist
from .keras_modules import is_keras_name, keras_named_modules
from .layer_kinds import left_out_note
from .modules import Contents, Module, Untraced, pick_module, shape_text
from .named import pytorch_modules, rename
from .registry import kind_to_read


@dataclass(frozen=True)
class WeightsFile:
    """A weights file, read: the module traced (its tensors, the architecture they imply,
    what a config adds and what is only assumed: modules.Module) and the notes for stderr."""

    path: Path
    picked: Module
    #: what the user should know about how the file was read (shown on stderr)
    notes: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        """The module's name in the file ('encoder.lstm')."""
        return self.picked.name

    @property
    def kind(self) -> str:
        return self.picked.kind

    @property
    def framework(self) -> str:
        """'pytorch', 'keras' or 'onnx' (whose tensors come in PyTorch's names)."""
        return self.picked.framework

    @property
    def architecture(self) -> Architecture:
        return self.picked.architecture

    @property
    def keras_config(self) -> dict[str, Any] | None:
        return self.picked.keras_config

    @property
    def assumed(self) -> dict[str, tuple[Any, ...]]:
        """Facts the file cannot tell, only assumed, with the values an option may give them
        instead: a Keras file without a config cannot show go_backwards ({"direction": ("uni",
        "reverse")}), nor a bias-free GRU its reset_after ({"reset_after": (True, False)})."""
        return self.picked.assumed

    @property
    def initial(self) -> dict[str, NDArray[Any]]:
        """Initial states the file holds (ONNX's initial_h and initial_c), as h0 and c0."""
        return self.picked.initial

    def build(self, config: LSTMConfig) -> LSTMWeights:
        """The canonical weights in config's dtype; every name and shape checked."""
        try:
            if self.picked.pytorch is not None:
                return from_pytorch(self.picked.pytorch, config)
            assert self.picked.keras is not None
            return from_keras(self.picked.keras, config)
        except ConfigError as exc:
            raise FileError(f"{self.path}: {exc.message}") from None


def read_contents(
    path: str | Path,
    *,
    max_memory: int = DEFAULT_MAX_MEMORY,
    names: Mapping[str, str] | None = None,
) -> Contents:
    """Every recurrent module of a weights file, and what else it holds. The kind comes
    from the suffix, the framework from the names inside; names renames tensors first
    (--names). Declared sizes are checked against max_memory before reading."""
    path = Path(path)
    must_exist(path)
    kind = kind_to_read(path)
    if kind.read_contents is not None:
        if names:
            raise ConfigError(
                f"--names renames tensors of .npz, .safetensors and .pt files, not of {path}"
            )
        return kind.read_contents(path, max_memory)
    assert kind.read_named is not None
    arrays, dtypes, untraced = kind.read_named(path, max_memory)
    if names:
        arrays = rename(arrays, names)
    half = half_note(path, dtypes)
    notes: tuple[str, ...] = () if half is None else (half,)
    modules, rnns, taken = pytorch_modules(path, arrays)
    rest = [k for k in arrays if k not in taken]
    if modules or rnns:
        left = tuple(Untraced(k, f"tensor {shape_text(np.shape(arrays[k]))}") for k in rest)
        return Contents(path, tuple(modules), (*rnns, *left, *untraced), notes)
    if not arrays:
        raise FileError(f"{path}: holds no tensors at all")
    if not any(is_keras_name(k) for k in arrays):
        raise FileError(
            f"{path}: no recurrent weights found: {_unnamed(arrays)} are neither PyTorch "
            "names (weight_ih_l0, ...) nor Keras names (.../kernel, .../recurrent_kernel); "
            "--names OLD=NEW,... maps a file's own names to these"
        )
    try:
        keras = keras_named_modules(path, arrays, ordered=kind.keeps_order)
    except ConfigError as exc:
        raise FileError(f"{path}: {exc.message}") from None
    return replace(keras, notes=notes + keras.notes, untraced=keras.untraced + untraced)


def read_weights(
    path: str | Path,
    *,
    max_memory: int = DEFAULT_MAX_MEMORY,
    module: str | None = None,
    names: Mapping[str, str] | None = None,
) -> WeightsFile:
    """The module of a weights file a trace takes: the one named, else the file's only one
    (or the stack of all of them); several without a name, or a name that is not there, is
    a usage error listing the names."""
    contents = read_contents(path, max_memory=max_memory, names=names)
    return weights_file(contents, pick_module(contents, module))


def weights_file(contents: Contents, module: Module) -> WeightsFile:
    """The WeightsFile of one module of a file: its tensors, with the notes for stderr."""
    notes = contents.notes + module.notes
    others = [
        m.name for m in contents.modules if m.name != module.name and m.name not in module.parts
    ]
    left = [u.name for u in contents.untraced]
    if others or left:
        notes += (left_out_note(contents.path, module.name, others + left),)
    return WeightsFile(contents.path, module, notes)


def load_weights(
    path: str | Path,
    dtype: str | None = None,
    *,
    max_memory: int = DEFAULT_MAX_MEMORY,
    module: str | None = None,
    names: Mapping[str, str] | None = None,
) -> LSTMWeights:
    """A weights file read as the command line reads it: the architecture (sizes, layers,
    direction, projection, bias) from the file, the dtype the file's (float32 when it cannot
    say) unless given; module and names as read_weights's. The notes the command line would
    print are dropped; read_weights() keeps them (WeightsFile.notes)."""
    wf = read_weights(Path(path), max_memory=max_memory, module=module, names=names)
    return wf.build(wf.architecture.config(dtype))


def _unnamed(arrays: Mapping[str, Any]) -> str:
    keys = list(arrays)
    return ", ".join(keys[:4]) + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")
