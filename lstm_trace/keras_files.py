"""Keras 3 weight files: .weights.h5, .keras archives, and Keras names in .npz files.

The layout Keras 3 writes (checked against Keras 3.15 files in tests/fixtures/):

    layers/lstm/cell/vars/{0,1,2}         kernel (I, 4H), recurrent_kernel (H, 4H), bias (4H)
    layers/lstm_1/cell/vars/...           the second LSTM layer, and so on
    layers/bidirectional/forward_layer/cell/vars/...   (and backward_layer): Bidirectional

Group names are the class name plus a per-class counter in model order ('lstm', 'lstm_1', ...),
not the user's layer names; with use_bias=False there is no '2'. A .keras file is a zip of
config.json (the architecture, read as JSON data), metadata.json and model.weights.h5 in the
layout above. h5py is optional and imported only here.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import ConfigError, FileError
from .frameworks import KERAS_FIELDS, KerasLayer

_GROUP = re.compile(r"^(lstm|bidirectional)(?:_(\d+))?$")
_VAR_INDEX = {"0": "kernel", "1": "recurrent_kernel", "2": "bias"}


def _h5py() -> Any:
    from .io import optional

    return optional("h5py", "reading and writing Keras .h5/.keras files")


#: what a .weights.h5 cannot say, said once on stderr
H5_ASSUMPTIONS = (
    "a .weights.h5 holds weights, not layer settings: traced as tanh and sigmoid, "
    "go_backwards=False and merge_mode='concat'; a .keras file would be checked"
)


def read_keras_file(
    path: Path,
) -> tuple[list[KerasLayer], dict[str, Any] | None, list[str]]:
    """(layers, facts from config.json or None, notes for the user) from a .weights.h5, .h5
    or .keras file."""
    h5py = _h5py()
    config = None
    notes: list[str] = []
    try:
        if path.suffix.lower() == ".keras":
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
                if "model.weights.h5" not in names or "config.json" not in names:
                    raise FileError(
                        f"{path}: not a Keras 3 archive (no model.weights.h5 and config.json)"
                    )
                config = json.loads(archive.read("config.json"))
                blob = io.BytesIO(archive.read("model.weights.h5"))
            order, after = _layer_order(path, config)
            if after:
                notes.append(f"{path}: traced the LSTM layers only, not {', '.join(after)}")
            with h5py.File(blob, "r") as f:
                layers = _read_h5(path, f, order)
        else:
            with h5py.File(path, "r") as f:
                layers = _read_h5(path, f, None)
            notes.append(f"{path}: {H5_ASSUMPTIONS}")
        facts = _facts(path, config) if config is not None else None
    except FileError:
        raise
    except (OSError, zipfile.BadZipFile, json.JSONDecodeError, EOFError) as exc:
        raise FileError(
            f"{path}: not a readable Keras file ({type(exc).__name__}: {exc})"
        ) from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        # a config.json or an h5 layout other than Keras 3 writes: refuse, don't guess
        raise FileError(
            f"{path}: not laid out as a Keras 3 file ({type(exc).__name__}: {exc})"
        ) from None
    return layers, facts, notes


def _layer_order(path: Path, config: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The h5 group names of the LSTM layers in model order, from config.json, and the
    layers after the last of them (not traced). Layers between LSTMs are refused."""
    layers = config.get("config", {}).get("layers")
    if config.get("class_name") != "Sequential" or not isinstance(layers, list):
        raise FileError(
            f"{path}: only Sequential models are read from .keras files (this is a "
            f"{config.get('class_name')!r}); save the LSTM's weights as .weights.h5 instead"
        )
    counters: dict[str, int] = {}
    order: list[str] = []
    between: list[str] = []  # layers after an LSTM, before the next one
    for layer in layers:
        cls = layer.get("class_name", "")
        if cls in ("InputLayer", "Dropout"):  # Dropout does nothing at inference
            continue
        if cls == "Masking":
            raise FileError(f"{path}: a Masking layer changes what the LSTM computes; not traced")
        snake = _snake_case(cls)
        n = counters.get(snake, 0)
        counters[snake] = n + 1
        if cls in ("LSTM", "Bidirectional"):
            if order and between:
                raise FileError(
                    f"{path}: {', '.join(between)} between the LSTM layers; lstm-trace traces "
                    "a stack of LSTM layers only"
                )
            order.append(snake if n == 0 else f"{snake}_{n}")
        elif order:
            between.append(cls)
    return order, between


def _snake_case(name: str) -> str:
    """Keras's own rule for group names: 'LSTM' -> 'lstm', 'InputLayer' -> 'input_layer'."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _facts(path: Path, config: dict[str, Any]) -> dict[str, Any]:
    """What config.json says that the weights cannot: activations, return_sequences, T."""
    cells = []
    for layer in config["config"]["layers"]:
        cls = layer.get("class_name")
        if cls == "LSTM":
            cells.append(("forward", layer["config"]))
        elif cls == "Bidirectional":
            cfg = layer["config"]
            if cfg.get("merge_mode", "concat") != "concat":
                raise FileError(
                    f"{path}: Bidirectional merge_mode {cfg.get('merge_mode')!r} is not supported "
                    "(only 'concat', the PyTorch layout)"
                )
            cells.append(("forward", cfg["layer"]["config"]))
            cells.append(("backward", cfg.get("backward_layer", cfg["layer"])["config"]))
    for direction, cell in cells:
        act, rec = cell.get("activation"), cell.get("recurrent_activation")
        if (act, rec) != ("tanh", "sigmoid"):
            raise FileError(
                f"{path}: layer {cell.get('name')!r} uses activation {act!r} and "
                f"recurrent_activation {rec!r}; only tanh and sigmoid are the LSTM traced here"
            )
        if direction == "forward" and cell.get("go_backwards"):
            raise FileError(
                f"{path}: layer {cell.get('name')!r} has go_backwards=True (not supported)"
            )
    shape = config["config"]["layers"][0].get("config", {}).get("batch_shape") or [None, None]
    last = cells[-1][1] if cells else {}
    return {
        "return_sequences": bool(last.get("return_sequences", False)),
        "return_state": bool(last.get("return_state", False)),
        "units": last.get("units"),
        "seq_len": shape[-2] if len(shape) >= 2 else None,
    }


def _read_h5(path: Path, f: Any, order: list[str] | None) -> list[KerasLayer]:
    if "layers" not in f:
        raise FileError(f"{path}: no 'layers' group: not a Keras 3 weights file")
    groups = {name: f["layers"][name] for name in f["layers"] if _GROUP.match(name)}
    if not groups:
        raise FileError(f"{path}: no LSTM or Bidirectional layer inside")
    if order is None:
        kinds = {_GROUP.match(name).group(1) for name in groups}  # type: ignore[union-attr]
        if len(kinds) > 1:
            raise FileError(
                f"{path}: mixes LSTM and Bidirectional layers; lstm-trace traces stacks whose "
                "layers all have the same direction"
            )
        order = sorted(groups, key=lambda n: int(_GROUP.match(n).group(2) or 0))  # type: ignore[union-attr]
    layers = []
    for name in order:
        group = groups[name]
        if name.startswith("bidirectional"):
            layers.append(
                [
                    _cell_vars(path, group, f"{name}/{half}")
                    for half in ("forward_layer", "backward_layer")
                ]
            )
        else:
            layers.append([_cell_vars(path, group, name)])
    return layers


def _cell_vars(path: Path, root: Any, where: str) -> dict[str, NDArray[Any]]:
    sub = where.split("/", 1)[1] if "/" in where else ""
    try:
        vars_group = (root[sub] if sub else root)["cell"]["vars"]
    except KeyError:
        raise FileError(f"{path}: layers/{where}/cell/vars is missing") from None
    out: dict[str, NDArray[Any]] = {}
    for key in vars_group:
        if key not in _VAR_INDEX:
            raise FileError(f"{path}: unexpected variable layers/{where}/cell/vars/{key}")
        value = np.asarray(vars_group[key][()])
        if value.dtype.kind != "f":  # bfloat16 is stored as raw 2-byte void, complex as c
            raise FileError(
                f"{path}: layers/{where}/cell/vars/{key} holds {value.dtype} values; "
                "lstm-trace reads float16, float32 and float64 weights"
            )
        out[_VAR_INDEX[key]] = value
    for needed in ("kernel", "recurrent_kernel"):
        if needed not in out:
            raise FileError(f"{path}: layers/{where} has no {needed}")
    return out


# --- Keras names in .npz / .safetensors -------------------------------------------------------


def _natural(text: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def keras_layers_from_names(
    arrays: Mapping[str, NDArray[Any]], ordered: bool = True
) -> list[KerasLayer]:
    """Group arrays named '<layer path>/kernel' (or .../vars/0) into layers and directions.

    A path component starting with 'backward' marks the backward direction. Layers named as
    Keras names them by default (lstm, lstm_1, ..., bidirectional_2) are ordered by that
    number; other names keep the file's order when it has one (ordered: .npz keeps it,
    .safetensors sorts names), and are refused when it has none.
    """
    layers: dict[str, dict[str, dict[str, NDArray[Any]]]] = {}
    for key, value in arrays.items():
        parts = key.replace(".", "/").split("/")
        if len(parts) >= 2 and parts[-2] == "vars" and parts[-1] in _VAR_INDEX:
            field, parts = _VAR_INDEX[parts[-1]], parts[:-2]
        elif parts[-1] in KERAS_FIELDS:
            field, parts = parts[-1], parts[:-1]
        else:
            raise ConfigError(
                f"unexpected tensor {key!r}: neither PyTorch names (weight_ih_l0, ...) nor Keras "
                "names (.../kernel, .../recurrent_kernel, .../bias)"
            )
        direction = "backward" if any(p.startswith("backward") for p in parts) else "forward"
        layer = "/".join(
            p
            for p in parts
            if not p.startswith(("forward", "backward")) and p not in ("cell", "lstm_cell")
        )
        slot = layers.setdefault(layer, {}).setdefault(direction, {})
        if field in slot:
            raise ConfigError(f"two tensors for {layer or 'the layer'} {direction} {field}")
        slot[field] = value
    names = list(layers)
    auto = all(_GROUP.match(n.rsplit("/", 1)[-1]) for n in names)
    if auto:
        names.sort(key=lambda n: int(_GROUP.match(n.rsplit("/", 1)[-1]).group(2) or 0))  # type: ignore[union-attr]
    elif not ordered and len(names) > 1:
        raise ConfigError(
            f"layers {', '.join(names)}: their order is not recorded in this kind of file; "
            "save them as .npz (which keeps the order) or as a Keras .weights.h5"
        )
    out = []
    for name in names:
        directions = layers[name]
        out.append([directions[d] for d in ("forward", "backward") if d in directions])
        if "forward" not in directions:
            raise ConfigError(f"layer {name!r} has a backward direction but no forward one")
        for direction, variables in directions.items():
            for needed in ("kernel", "recurrent_kernel"):
                if needed not in variables:
                    raise ConfigError(f"layer {name or '0'!r} {direction}: no {needed}")
    return out


def _group_name(kind: str, n: int) -> str:
    return kind if n == 0 else f"{kind}_{n}"


def keras_names(layers: list[KerasLayer]) -> dict[str, NDArray[Any]]:
    """Keras variables named as Keras 3 groups them: 'lstm_1/kernel',
    'bidirectional/backward_layer/bias', ... (what keras_layers_from_names reads back)."""
    out: dict[str, NDArray[Any]] = {}
    for n, layer in enumerate(layers):
        if len(layer) == 1:
            prefixes = [_group_name("lstm", n)]
        else:
            base = _group_name("bidirectional", n)
            prefixes = [f"{base}/forward_layer", f"{base}/backward_layer"]
        for prefix, variables in zip(prefixes, layer, strict=True):
            for field in KERAS_FIELDS:
                if field in variables:  # no bias with use_bias=False
                    out[f"{prefix}/{field}"] = variables[field]
    return out


def write_keras_weights(path: Path, layers: list[KerasLayer]) -> None:
    """A .weights.h5 that model.load_weights() takes, for a Sequential model of these LSTM
    (or Bidirectional(LSTM)) layers, in order, and nothing else with weights. Layers without
    a bias get no vars/2, as Keras writes LSTM(use_bias=False)."""
    from .writing import atomic_open

    h5py = _h5py()
    with atomic_open(path, seekable=True) as raw, h5py.File(raw, "w") as f:
        f.create_group("vars").attrs["name"] = "sequential"
        top = f.create_group("layers")
        for n, layer in enumerate(layers):
            bi = len(layer) == 2
            name = _group_name("bidirectional" if bi else "lstm", n)
            group = top.create_group(name)
            group.create_group("vars").attrs["name"] = name
            halves = (
                [("forward_layer", "forward_"), ("backward_layer", "backward_")]
                if bi
                else [("", "")]
            )
            for (sub, prefix), variables in zip(halves, layer, strict=True):
                g = group.create_group(sub) if sub else group
                if sub:
                    g.create_group("vars").attrs["name"] = f"{prefix}lstm"
                cell = g.create_group("cell").create_group("vars")
                cell.attrs["name"] = "lstm_cell"
                for index, field in enumerate(KERAS_FIELDS):
                    if field in variables:
                        cell.create_dataset(str(index), data=np.asarray(variables[field]))
