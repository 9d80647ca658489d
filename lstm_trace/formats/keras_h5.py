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

from ..config import DEFAULT_MAX_MEMORY, format_bytes
from ..errors import ConfigError, FileError
from ..frameworks import KERAS_FIELDS, KerasLayer
from .dtype_policy import check_dtype, half_note
from .file_limits import CONFIG_JSON_CAP, check_h5_datasets, optional, refuse_over
from .keras_config import facts, layer_order
from .layer_kinds import keras_cell, keras_kind_error
from .targets import atomic_open

_GROUP = re.compile(r"^(lstm|gru|bidirectional)(?:_(\d+))?$")
_VAR_INDEX = {"0": "kernel", "1": "recurrent_kernel", "2": "bias"}


def _h5py() -> Any:
    return optional("h5py", "reading and writing Keras .h5/.keras files")


#: what a .weights.h5 cannot say, said once on stderr
H5_ASSUMPTIONS = (
    "a .weights.h5 holds weights, not layer settings: taken to be tanh and sigmoid, "
    "go_backwards=False (--direction reverse for a stack whose first layer has "
    "go_backwards=True) and merge_mode='concat'; a .keras file would be checked"
)
#: h5 groups of recurrent layers: LSTM, RNN (its cell told by its weights), Bidirectional,
#: and the kinds that are named, not traced
_H5_GROUP = re.compile(r"^(lstm|rnn|bidirectional|gru|simple_rnn)(?:_(\d+))?$")
_NOT_LSTM_GROUPS = ("simple_rnn",)


def read_keras_file(
    path: Path, max_memory: int = DEFAULT_MAX_MEMORY
) -> tuple[list[KerasLayer], dict[str, Any] | None, list[str]]:
    """(layers, facts from config.json or None, notes for the user) from a .weights.h5, .h5
    or .keras file. Declared sizes (zip members, datasets) are checked before reading."""
    config = None
    notes: list[str] = []
    try:
        if path.suffix.lower() == ".keras":
            config, blob = _read_archive(path, max_memory)  # sizes checked without h5py
            order, others = layer_order(path, config)
            with _h5py().File(blob, "r") as f:
                layers, _ = _read_h5(path, f, order, max_memory)
        else:
            with _h5py().File(path, "r") as f:
                layers, others = _read_h5(path, f, None, max_memory)
            notes.append(f"{path}: {H5_ASSUMPTIONS}")
        not_traced = keras_kind_error(layers)  # named before config.json's checks
        if not_traced is not None:
            raise FileError(f"{path}: {not_traced}")
        if others:
            title = keras_cell(layers).upper()
            notes.append(f"{path}: traced the {title} layers only, not {', '.join(others)}")
        half = half_note(
            path, (str(v.dtype) for layer in layers for d in layer for v in d.values())
        )
        if half is not None:
            notes.append(half)
        found = facts(path, config, layers) if config is not None else None
    except FileError:
        raise
    except RecursionError:  # a config.json nested too deeply for the layer walk
        raise FileError(f"{path}: config.json is nested too deeply to be a Keras config") from None
    except (OSError, zipfile.BadZipFile, EOFError, RuntimeError) as exc:
        # RuntimeError: h5py's for a damaged file ("bad local heap signature"), zipfile's for
        # an encrypted member
        raise FileError(
            f"{path}: not a readable Keras file ({type(exc).__name__}: {exc})"
        ) from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        # a config.json or an h5 layout other than Keras 3 writes: refuse, don't guess
        raise FileError(
            f"{path}: not laid out as a Keras 3 file ({type(exc).__name__}: {exc})"
        ) from None
    return layers, found, notes


def _read_archive(path: Path, limit: int) -> tuple[dict[str, Any], io.BytesIO]:
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


def _read_h5(
    path: Path, f: Any, order: list[str] | None, limit: int
) -> tuple[list[KerasLayer], list[str]]:
    """The variables of the layers in order (None: every LSTM group, by its number), and the
    names of the groups with weights that were left out."""
    if "layers" not in f:
        raise FileError(f"{path}: no 'layers' group: not a Keras 3 weights file")
    names = list(f["layers"])
    groups = {name: f["layers"][name] for name in names if _H5_GROUP.match(name)}
    if order is None:
        order = _h5_order(path, groups)
    if not groups:
        raise FileError(f"{path}: no LSTM, GRU or Bidirectional layer inside")
    for name in order:
        if name not in groups:
            raise FileError(f"{path}: config.json's layer {name!r} has no layers/{name} weights")
    located = []
    for name in order:
        if name.startswith("bidirectional"):
            halves = [f"{name}/{half}" for half in ("forward_layer", "backward_layer")]
            located.append([_locate_vars(path, groups[name], where) for where in halves])
        else:
            located.append([_locate_vars(path, groups[name], name)])
    check_h5_datasets(path, (d for layer in located for v in layer for d in v.values()), limit)
    layers = [[{k: np.asarray(d[()]) for k, d in v.items()} for v in layer] for layer in located]
    left_out = [n for n in names if n not in order and _has_weights(f["layers"][n])]
    return layers, left_out


def _h5_order(path: Path, groups: dict[str, Any]) -> list[str]:
    """A .weights.h5's LSTM groups in model order: Keras numbers each class apart, so only
    one class of groups can be put in order."""
    lstm_like = [n for n in groups if not n.startswith(_NOT_LSTM_GROUPS)]
    if not lstm_like:
        return sorted(groups)[:1]  # a GRU or SimpleRNN only: read one to name it
    kinds = {_H5_GROUP.match(name).group(1) for name in lstm_like}  # type: ignore[union-attr]
    if len(kinds) > 1:
        raise FileError(
            f"{path}: mixes {' and '.join(sorted(kinds))} layers, whose order a .weights.h5 "
            "does not record; lstm-trace traces stacks whose layers all have the same "
            "direction and class (a .keras file records the order)"
        )
    return sorted(lstm_like, key=lambda n: int(_H5_GROUP.match(n).group(2) or 0))  # type: ignore[union-attr]


def _has_weights(group: Any) -> bool:
    """Whether an h5 group holds any dataset (InputLayer's and Dropout's hold none)."""
    found: list[bool] = []
    group.visititems(lambda _name, obj: found.append(True) if hasattr(obj, "shape") else None)
    return bool(found)


def _locate_vars(path: Path, root: Any, where: str) -> dict[str, Any]:
    """{variable: h5py dataset} of layers/<where>/cell/vars, nothing read yet."""
    sub = where.split("/", 1)[1] if "/" in where else ""
    try:
        vars_group = (root[sub] if sub else root)["cell"]["vars"]
    except KeyError:
        raise FileError(f"{path}: layers/{where}/cell/vars is missing") from None
    out: dict[str, Any] = {}
    for key in vars_group:
        if key not in _VAR_INDEX:
            raise FileError(f"{path}: unexpected variable layers/{where}/cell/vars/{key}")
        dataset = vars_group[key]
        if not hasattr(dataset, "dtype"):
            raise FileError(f"{path}: layers/{where}/cell/vars/{key} is a group, not a dataset")
        check_dtype(path, f"layers/{where}/cell/vars/{key}", dataset.dtype)
        out[_VAR_INDEX[key]] = dataset
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
    """Group arrays named '<layer path>/kernel' (or .../vars/0) into layers and directions
    (keras_layers_with_left_out, without what it leaves out)."""
    return keras_layers_with_left_out(arrays, ordered)[0]


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
    'bidirectional/backward_layer/bias', ... (what keras_layers_from_names reads back); the
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
    h5py = _h5py()
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
