"""Legacy Keras .h5 model files: what model.save('m.h5') writes (tf.keras 2, and Keras 3
still, with a warning), read with h5py as data.

    attrs['model_config']                 the model's config, JSON (Sequential or Functional)
    model_weights/<layer>/                one group per top-level layer, by its name
        attrs['weight_names']             its variables' paths under the group, in order:
                                          'lstm/lstm_cell/kernel:0' (tf.keras 2),
                                          'encoder/lstm_cell/kernel' (Keras 3), and for a
                                          Bidirectional '.../forward_lstm/...' and
                                          '.../backward_lstm/...'; a nested model's group
                                          holds all its layers' ('inner/lstm_1/lstm_cell/...')

tf.keras 2's save_weights('w.h5') wrote the layers' groups at the top of the file (with
attrs['layer_names'] in model order) and no config: read as a .weights.h5 is, with the order.

A variable's field is its path's last part without the ':0' ('kernel', 'recurrent_kernel',
'bias'); a path part starting with 'backward' marks a Bidirectional's backward half.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..config import format_bytes
from ..errors import FileError
from ..frameworks import KERAS_FIELDS
from .dtype_policy import check_dtype
from .file_limits import CONFIG_JSON_CAP
from .keras_graph import GraphLayer

_INDEX = re.compile(r":\d+$")


def legacy_config(path: Path, f: Any) -> dict[str, Any]:
    """The model_config attribute, parsed as JSON data."""
    raw = f.attrs["model_config"]
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    if not isinstance(raw, str):
        raise FileError(f"{path}: model_config is not JSON text")
    if len(raw) > CONFIG_JSON_CAP:
        raise FileError(
            f"{path}: its model_config is {format_bytes(len(raw))}; a Keras config is a few KB, "
            f"and lstm-trace reads one of up to {format_bytes(CONFIG_JSON_CAP)}"
        )
    try:
        config = json.loads(raw)
    except ValueError as exc:
        raise FileError(f"{path}: model_config is not JSON ({exc})") from None
    if not isinstance(config, dict):
        raise FileError(f"{path}: model_config is not a Keras config (not a JSON object)")
    if "model_weights" not in f:
        raise FileError(f"{path}: a model_config but no model_weights group")
    return config


def _weight_names(group: Any) -> list[str]:
    names = group.attrs.get("weight_names", [])
    return [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names]


def _own(gl: GraphLayer, names: list[str]) -> list[str]:
    """The weight names of gl among its top-level group's: all of them for a top-level layer,
    those with gl's own name as a path part for a layer of a nested model."""
    if len(gl.local) == 1:
        return names
    return [n for n in names if gl.local[-1] in n.split("/")[:-1]]


def _root(f: Any) -> tuple[Any, str]:
    """The group of the layers' groups: model_weights/ of a model file, the file itself for
    tf.keras 2's save_weights('w.h5'), and its name for messages."""
    return (f["model_weights"], "model_weights/") if "model_weights" in f else (f, "")


def legacy_params(f: Any, gl: GraphLayer) -> int:
    """How many parameters gl holds (0 when it has no group: InputLayer, Dropout)."""
    group = _root(f)[0].get(gl.top)
    if group is None:
        return 0
    total = 0
    for name in _own(gl, _weight_names(group)):
        dataset = group.get(name)
        if dataset is not None and hasattr(dataset, "shape"):
            total += int(dataset.size)
    return total


def legacy_vars(path: Path, f: Any, gl: GraphLayer) -> list[dict[str, Any]]:
    """{field: h5py dataset} per direction of a recurrent layer, nothing read yet."""
    weights, at = _root(f)
    if gl.top not in weights:
        raise FileError(f"{path}: config's layer {gl.name!r} has no {at}{gl.top} group")
    group = weights[gl.top]
    out: dict[str, dict[str, Any]] = {}
    for name in _own(gl, _weight_names(group)):
        parts = name.split("/")
        field = _INDEX.sub("", parts[-1])
        where = f"{at}{gl.top}/{name}"
        if field not in KERAS_FIELDS:
            raise FileError(f"{path}: unexpected variable {where} of layer {gl.name!r}")
        dataset = group.get(name)
        if dataset is None or not hasattr(dataset, "dtype"):
            raise FileError(f"{path}: {where} is listed in weight_names but is not a dataset")
        check_dtype(path, where, dataset.dtype)
        half = "backward" if any(p.startswith("backward") for p in parts[:-1]) else "forward"
        slot = out.setdefault(half, {})
        if field in slot:
            raise FileError(f"{path}: layer {gl.name!r} has two {half} {field} variables")
        slot[field] = dataset
    if "forward" not in out:
        raise FileError(f"{path}: layer {gl.name!r} has no weights in {at}{gl.top}")
    for half, variables in out.items():
        for needed in ("kernel", "recurrent_kernel"):
            if needed not in variables:
                raise FileError(f"{path}: layer {gl.name!r} {half}: no {needed}")
    return [out[d] for d in ("forward", "backward") if d in out]


def weights_only_layers(f: Any) -> list[tuple[GraphLayer, bool]]:
    """The layers of tf.keras 2's save_weights('w.h5') (no config: attrs['layer_names'] and a
    group per layer at the top), in model order, each with whether it is recurrent (it has a
    recurrent_kernel)."""
    out = []
    for raw in f.attrs["layer_names"]:
        name = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
        gl = GraphLayer(name=name, cls="", config={}, group="", top=name, local=(name,))
        group = f.get(name)
        names = _weight_names(group) if group is not None else []
        out.append(
            (gl, "recurrent_kernel" in {_INDEX.sub("", n.rsplit("/", 1)[-1]) for n in names})
        )
    return out
