"""Keras 3 weight files: .weights.h5, .keras archives, and Keras names in .npz files.

The layout Keras 3 writes (checked against Keras 3.15 files in tests/fixtures/):

    layers/lstm/cell/vars/{0,1,2}         kernel (I, 4H), recurrent_kernel (H, 4H), bias (4H)
    layers/lstm_1/cell/vars/...           the second LSTM layer, and so on
    layers/bidirectional/forward_layer/cell/vars/...   (and backward_layer): Bidirectional
    layers/rnn/cell/vars/...              RNN(LSTMCell(units)): the same variables
    layers/gru/cell/vars/{0,1,2}          GRU: kernel (I, 3H), recurrent_kernel (H, 3H), bias
                                          (2, 3H) with reset_after=True, (3H,) with False
    layers/bidirectional/forward_layer/...  Bidirectional(GRU) too (vars named forward_gru)
    layers/simple_rnn/...                 SimpleRNN: named, not traced

Group names are the class name plus a per-class counter in model order ('lstm', 'lstm_1', ...),
not the user's layer names (keras_graph.py says which group each config layer has, nested
models' under layers/<model>/layers/...); with use_bias=False there is no '2'. A .keras file
is a zip of config.json (the architecture, read as JSON data), metadata.json and
model.weights.h5 in the layout above; read_archive opens one, cell_vars and layer_vars find a
layer's variables, and keras_archive.py reads a file's modules from them. h5py is optional and
imported only through h5py_module.
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

from ..config import format_bytes
from ..errors import ConfigError, FileError
from ..frameworks import KERAS_FIELDS, KerasLayer
from .dtype_policy import check_dtype
from .file_limits import CONFIG_JSON_CAP, optional, refuse_over
from .layer_kinds import keras_cell
from .targets import atomic_open

_GROUP = re.compile(r"^(lstm|gru|bidirectional)(?:_(\d+))?$")
_VAR_INDEX = {"0": "kernel", "1": "recurrent_kernel", "2": "bias"}


def h5py_module() -> Any:
    return optional("h5py", "reading and writing Keras .h5/.keras files")


#: what a .weights.h5 cannot say, said once on stderr
H5_ASSUMPTIONS = (
    "a .weights.h5 holds weights, not layer settings: taken to be tanh and sigmoid, "
    "go_backwards=False (--direction reverse for a stack whose first layer has "
    "go_backwards=True) and merge_mode='concat'; a .keras file would be checked"
)


def read_archive(path: Path, limit: int) -> tuple[dict[str, Any], io.BytesIO]:
    """config.json (parsed as data) and model.weights.h5 (in memory) of a .keras archive,
    their sizes checked before either is read."""
    with zipfile.ZipFile(path) as archive:  # BadZipFile: not a readable Keras file
        sizes = {info.filename: info.file_size for info in archive.infolist()}
        if "model.weights.h5" not in sizes or "config.json" not in sizes:
            raise FileError(f"{path}: not a Keras 3 archive (no model.weights.h5 and config.json)")
        refuse_over(path, sizes["config.json"] + sizes["model.weights.h5"], limit, "data")
        if sizes["config.json"] > CONFIG_JSON_CAP:
            raise FileError(
                f"{path}: declares a {format_bytes(sizes['config.json'])} config.json; a Keras "
                f"config is a few KB, and lstm-trace reads one of up to "
                f"{format_bytes(CONFIG_JSON_CAP)}"
            )
        try:
            config = json.loads(archive.read("config.json"))
        except RecursionError:
            raise FileError(
                f"{path}: config.json is nested too deeply to be a Keras config"
            ) from None
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            raise FileError(f"{path}: config.json is not JSON ({exc})") from None
        if not isinstance(config, dict):
            raise FileError(f"{path}: config.json is not a Keras config (not a JSON object)")
        blob = io.BytesIO(archive.read("model.weights.h5"))
    return config, blob


def group_params(group: Any) -> int:
    """How many parameters an h5 group holds, at any depth (InputLayer's and Dropout's: 0)."""
    sizes: list[int] = []
    group.visititems(
        lambda _name, obj: sizes.append(int(obj.size)) if hasattr(obj, "shape") else None
    )
    return sum(sizes)


def cell_vars(path: Path, group: Any, where: str) -> dict[str, Any]:
    """{variable: h5py dataset} of <where>/cell/vars (group is <where>), nothing read yet."""
    try:
        vars_group = group["cell"]["vars"]
    except (KeyError, TypeError):
        raise FileError(f"{path}: {where}/cell/vars is missing") from None
    out: dict[str, Any] = {}
    for key in vars_group:
        if key not in _VAR_INDEX:
            raise FileError(f"{path}: unexpected variable {where}/cell/vars/{key}")
        dataset = vars_group[key]
        if not hasattr(dataset, "dtype"):
            raise FileError(f"{path}: {where}/cell/vars/{key} is a group, not a dataset")
        check_dtype(path, f"{where}/cell/vars/{key}", dataset.dtype)
        out[_VAR_INDEX[key]] = dataset
    for needed in ("kernel", "recurrent_kernel"):
        if needed not in out:
            raise FileError(f"{path}: {where} has no {needed}")
    return out


def layer_vars(path: Path, group: Any, where: str) -> list[dict[str, Any]]:
    """The variables per direction of a recurrent layer's group: its cell's, or a
    Bidirectional's forward_layer's and backward_layer's."""
    if "forward_layer" in group or "backward_layer" in group:
        halves = ("forward_layer", "backward_layer")
        for half in halves:
            if half not in group:
                raise FileError(f"{path}: {where} has no {half}")
        return [cell_vars(path, group[h], f"{where}/{h}") for h in halves]
    return [cell_vars(path, group, where)]


# --- Keras names in .npz / .safetensors -------------------------------------------------------


def _field_of(key: str) -> tuple[str, list[str]] | None:
    """('kernel', ['lstm_1']) for 'lstm_1/kernel' or 'lstm_1/cell/vars/0'; None otherwise."""
    parts = key.replace(".", "/").split("/")
    if len(parts) >= 2 and parts[-2] == "vars" and parts[-1] in _VAR_INDEX:
        return _VAR_INDEX[parts[-1]], parts[:-2]
    if parts[-1] in KERAS_FIELDS:
        return parts[-1], parts[:-1]
    return None


def _group_by_layer(
    arrays: Mapping[str, NDArray[Any]],
) -> tuple[dict[str, dict[str, dict[str, NDArray[Any]]]], dict[str, list[str]], list[str]]:
    """({layer: {direction: {field: array}}}, {layer: its keys}, keys of no Keras field)."""
    layers: dict[str, dict[str, dict[str, NDArray[Any]]]] = {}
    keys: dict[str, list[str]] = {}
    unknown: list[str] = []
    for key, value in arrays.items():
        found = _field_of(key)
        if found is None:
            unknown.append(key)
            continue
        field, parts = found
        direction = "backward" if any(p.startswith("backward") for p in parts) else "forward"
        layer = "/".join(
            p
            for p in parts
            if not p.startswith(("forward", "backward"))
            and p not in ("cell", "lstm_cell", "gru_cell")
        )
        slot = layers.setdefault(layer, {}).setdefault(direction, {})
        if field in slot:
            raise ConfigError(f"two tensors for {layer or 'the layer'} {direction} {field}")
        slot[field] = value
        keys.setdefault(layer, []).append(key)
    return layers, keys, unknown


def keras_layers_with_left_out(
    arrays: Mapping[str, NDArray[Any]], ordered: bool = True
) -> tuple[list[KerasLayer], list[str], list[str]]:
    """(layers, their names, the keys left out): arrays named '<layer path>/kernel' (or
    .../vars/0) grouped into layers and directions.

    A path component starting with 'backward' marks the backward direction. Layers without a
    recurrent_kernel (a Dense head, an Embedding) and tensors of no Keras field are left out
    when there is a recurrent layer to trace, and refused when there is none. Layers named as
    Keras names them by default (lstm, lstm_1, ..., bidirectional_2) are ordered by that
    number; other names keep the file's order when it has one (ordered: .npz keeps it,
    .safetensors sorts names), and are refused when it has none.
    """
    layers, keys, unknown = _group_by_layer(arrays)
    names = [n for n in layers if any("recurrent_kernel" in v for v in layers[n].values())]
    if not names:
        if unknown:
            raise ConfigError(
                f"unexpected tensor {unknown[0]!r}: neither PyTorch names (weight_ih_l0, ...) nor "
                "Keras names (.../kernel, .../recurrent_kernel, .../bias)"
            )
        names = list(layers)  # none is recurrent: the checks below say what is missing
    left = [n for n in layers if n not in names]
    auto = all(_GROUP.match(n.rsplit("/", 1)[-1]) for n in names)
    if auto:
        names.sort(key=lambda n: int(_GROUP.match(n.rsplit("/", 1)[-1]).group(2) or 0))  # type: ignore[union-attr]
    elif not ordered and len(names) > 1:
        raise ConfigError(
            f"layers {', '.join(names)}: their order is not recorded in this kind of file; "
            "save them as .npz (which keeps the order) or as a Keras .weights.h5"
        )
    else:
        order = list(layers)
        inside = [
            n for n in left if order.index(names[0]) < order.index(n) < order.index(names[-1])
        ]
        if inside:
            raise ConfigError(
                f"{', '.join(inside)} between the LSTM layers; lstm-trace traces a stack of "
                "LSTM layers only"
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
    return out, names, unknown + [k for n in left for k in keys[n]]


def _group_name(kind: str, n: int) -> str:
    return kind if n == 0 else f"{kind}_{n}"


def keras_names(layers: list[KerasLayer]) -> dict[str, NDArray[Any]]:
    """Keras variables named as Keras 3 groups them: 'lstm_1/kernel', 'gru/bias',
    'bidirectional/backward_layer/bias', ... (what keras_layers_with_left_out reads back); the
    class (lstm or gru) is told by the recurrent kernel's columns."""
    out: dict[str, NDArray[Any]] = {}
    cell = keras_cell(layers)
    for n, layer in enumerate(layers):
        if len(layer) == 1:
            prefixes = [_group_name(cell, n)]
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
    or GRU (or Bidirectional) layers, in order, and nothing else with weights; the class is
    told by the recurrent kernel's columns. Layers without a bias get no vars/2, as Keras
    writes LSTM(use_bias=False). A GRU's bias is (2, 3H) or (3H,) as its reset_after."""
    h5py = h5py_module()
    cell = keras_cell(layers)
    with atomic_open(path, seekable=True) as raw, h5py.File(raw, "w") as f:
        f.create_group("vars").attrs["name"] = "sequential"
        top = f.create_group("layers")
        for n, layer in enumerate(layers):
            bi = len(layer) == 2
            name = _group_name("bidirectional" if bi else cell, n)
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
                    g.create_group("vars").attrs["name"] = f"{prefix}{cell}"
                held = g.create_group("cell").create_group("vars")
                held.attrs["name"] = f"{cell}_cell"
                for index, field in enumerate(KERAS_FIELDS):
                    if field in variables:
                        held.create_dataset(str(index), data=np.asarray(variables[field]))
