"""A .keras archive's config.json, read as data: which layers are LSTMs or GRUs, in what
order, and what the weights cannot say (activations, return_sequences, go_backwards, a GRU's
reset_after when it has no bias, the input's sequence length).

Keras 3 names a layer's h5 group by its class in snake case plus a per-class counter in model
order ('lstm', 'lstm_1', 'gru', 'rnn', 'bidirectional_2'). A traced layer is any of:

    LSTM(units), GRU(units)                  group 'lstm', 'gru'
    RNN(LSTMCell(units)), RNN(GRUCell(...))  group 'rnn' (the same variables under cell/vars)
    Bidirectional(any of these)              group 'bidirectional'

A stack whose first layer has go_backwards=True (and no other) is a reverse-only stack
(direction 'reverse'): Keras hands each layer the steps in the order the one below read them,
so the layers above it read the sequence backwards in time too. A go_backwards=True above the
first layer reverses it again, and is refused, as is a Bidirectional whose forward half reads
backwards.

Every value that comes from the file is checked against the weights it describes: a config
that contradicts them (33 inputs for a 32-input kernel, units "seventy", a sequence length of
0) is a malformed file, refused, not guessed around.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FileError
from ..frameworks import KerasLayer

#: recurrent layers lstm-trace traces, and their cells in RNN(cell)
TRACED = ("LSTM", "GRU")
TRACED_CELLS = ("LSTMCell", "GRUCell")
#: recurrent layers that are not traced: named
OTHER_RECURRENT = ("SimpleRNN",)


def _snake_case(name: str) -> str:
    """Keras's own rule for group names: 'LSTM' -> 'lstm', 'InputLayer' -> 'input_layer'."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _is_lstm(layer: dict[str, Any]) -> bool:
    """LSTM, GRU, RNN(LSTMCell or GRUCell) and Bidirectional of any of them (traced)."""
    cls = layer.get("class_name")
    cfg = layer.get("config") or {}
    if cls in TRACED:
        return True
    if cls == "RNN":
        return (cfg.get("cell") or {}).get("class_name") in TRACED_CELLS
    if cls == "Bidirectional":
        return _is_lstm(cfg.get("layer") or {})
    return False


def _title(layer: dict[str, Any]) -> str:
    """'LSTM' or 'GRU': the cell of a traced layer, for messages."""
    cfg = layer.get("config") or {}
    if layer.get("class_name") == "Bidirectional":
        return _title(cfg.get("layer") or {})
    if layer.get("class_name") == "RNN":
        return str((cfg.get("cell") or {}).get("class_name", "")).removesuffix("Cell")
    return str(layer.get("class_name"))


def _is_recurrent(layer: dict[str, Any]) -> bool:
    cls = layer.get("class_name")
    if cls == "Bidirectional":
        return _is_recurrent((layer.get("config") or {}).get("layer") or {})
    return cls in ("RNN", *TRACED, *OTHER_RECURRENT)


def layer_order(path: Path, config: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The h5 group names of the LSTM layers in model order, and the other layers (not
    traced). Layers between LSTMs are refused. Without an LSTM, the first other recurrent
    layer is returned to be read, so that its kind is named from its weights."""
    layers = config.get("config", {}).get("layers")
    if config.get("class_name") != "Sequential" or not isinstance(layers, list):
        raise FileError(
            f"{path}: only Sequential models are read from .keras files (this is a "
            f"{config.get('class_name')!r}); save the LSTM's weights as .weights.h5 instead"
        )
    counters: dict[str, int] = {}
    order: list[str] = []
    others: list[str] = []
    between: list[str] = []  # layers after an LSTM, before the next one
    first_other: str | None = None
    for layer in layers:
        cls = str(layer.get("class_name", ""))
        if cls in ("InputLayer", "Dropout"):  # Dropout does nothing at inference
            continue
        if cls == "Masking":
            raise FileError(f"{path}: a Masking layer changes what the LSTM computes; not traced")
        snake = _snake_case(cls)
        n = counters.get(snake, 0)
        counters[snake] = n + 1
        group = snake if n == 0 else f"{snake}_{n}"
        if _is_lstm(layer):
            if order and between:
                raise FileError(
                    f"{path}: {', '.join(between)} between the {_title(layer)} layers; "
                    f"lstm-trace traces a stack of {_title(layer)} layers only"
                )
            order.append(group)
            continue
        if _is_recurrent(layer) and first_other is None:
            first_other = group
        others.append(cls)
        if order:
            between.append(cls)
    if not order and first_other is not None:
        return [first_other], []
    return order, others


def _cell_config(layer: dict[str, Any]) -> dict[str, Any]:
    """An LSTM's settings: LSTM's config, or RNN's with its LSTMCell's config over it."""
    cfg = dict(layer["config"])
    if layer.get("class_name") == "RNN":
        cfg.update(cfg["cell"]["config"])
    return cfg


def _cells(path: Path, config: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """Each LSTM layer's cell settings per direction, in model order."""
    out = []
    for layer in config["config"]["layers"]:
        if not _is_lstm(layer):
            continue
        if layer["class_name"] != "Bidirectional":
            out.append([_cell_config(layer)])
            continue
        cfg = layer["config"]
        if cfg.get("merge_mode", "concat") != "concat":
            raise FileError(
                f"{path}: Bidirectional merge_mode {cfg.get('merge_mode')!r} is not supported "
                "(only 'concat', the PyTorch layout)"
            )
        backward = cfg.get("backward_layer") or cfg["layer"]
        out.append([_cell_config(cfg["layer"]), _cell_config(backward)])
    return out


def facts(path: Path, config: dict[str, Any], layers: list[KerasLayer]) -> dict[str, Any]:
    """What config.json says that the weights cannot: return_sequences, units, T, and (when
    they apply) go_backwards (True: a reverse-only stack) and a GRU's reset_after; every
    activation checked, and every size checked against the weights."""
    cells = _cells(path, config)
    if len(cells) != len(layers):
        raise FileError(
            f"{path}: config.json has {len(cells)} recurrent layer(s), its weights {len(layers)}"
        )
    for cell_dirs, weights in zip(cells, layers, strict=True):
        for d, (cell, variables) in enumerate(zip(cell_dirs, weights, strict=True)):
            _check_cell(path, cell, variables, backward=d == 1)
    found: dict[str, Any] = {}
    backwards = _go_backwards(path, cells)
    if backwards:
        found["go_backwards"] = True
    resets = {bool(d.get("reset_after", True)) for c in cells for d in c if "reset_after" in d}
    if len(resets) > 1:
        raise FileError(
            f"{path}: some GRU layers have reset_after=True and others False; lstm-trace traces "
            "stacks that share one reset_after"
        )
    if resets:
        found["reset_after"] = resets.pop()
    first = config["config"]["layers"][0].get("config", {})
    shape = first.get("batch_shape") or [None, None]
    if not isinstance(shape, list) or len(shape) < 2:
        raise FileError(f"{path}: config.json's batch_shape {shape!r} is not (batch, T, features)")
    seq_len, features = shape[-2], shape[-1]
    _check_size(path, "the input's sequence length", seq_len)
    _check_size(path, "the input's features", features)
    inputs = int(np.shape(layers[0][0]["kernel"])[0])
    if features is not None and features != inputs:
        raise FileError(
            f"{path}: config.json's input has {features} features, but the first LSTM's "
            f"kernel reads {inputs}"
        )
    last = cells[-1][0]
    return {
        "return_sequences": bool(last.get("return_sequences", False)),
        "return_state": bool(last.get("return_state", False)),
        "units": last.get("units"),
        "seq_len": seq_len,
        **found,
    }


def _go_backwards(path: Path, cells: list[list[dict[str, Any]]]) -> bool:
    """Whether the stack is a reverse-only one: its first layer go_backwards=True, the
    layers above it False.

    Keras hands each layer the steps in the order the layer below read them, so above a
    go_backwards layer a forward layer reads the sequence backwards in time, and a second
    go_backwards layer reads it forwards again: [True, False, ...] is lstm-trace's reverse
    stack, and any other go_backwards=True (or one on a Bidirectional's forward half) is a
    stack of mixed directions, refused."""
    for cell_dirs in cells:
        if len(cell_dirs) == 2 and cell_dirs[0].get("go_backwards"):
            raise FileError(
                f"{path}: layer {cell_dirs[0].get('name')!r} is the forward half of a "
                "Bidirectional, and has go_backwards=True (not supported)"
            )
    flags = [bool(c[0].get("go_backwards")) for c in cells]
    later = [str(c[0].get("name")) for c, f in zip(cells[1:], flags[1:], strict=True) if f]
    if later:
        raise FileError(
            f"{path}: layer {later[0]!r} has go_backwards=True above the first layer; Keras "
            "hands each layer the steps in the order the one below read them, so this stack "
            "reads in both directions, which lstm-trace does not trace (a reverse stack is "
            "go_backwards=True on the first layer only)"
        )
    return bool(flags) and flags[0]


def _cell_title(variables: dict[str, Any]) -> str:
    """'GRU' for a recurrent_kernel (H, 3H), else 'LSTM' (the readers named any other)."""
    units, columns = np.shape(variables["recurrent_kernel"])
    return "GRU" if columns == 3 * units else "LSTM"


def _check_size(path: Path, what: str, value: Any) -> None:
    """A size from config.json: None (not fixed) or a whole number >= 1."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise FileError(f"{path}: config.json's {what} is {value!r}, not a whole number >= 1")


def _check_cell(
    path: Path, cell: dict[str, Any], variables: dict[str, Any], backward: bool
) -> None:
    name = cell.get("name")
    act, rec = cell.get("activation"), cell.get("recurrent_activation")
    if (act, rec) != ("tanh", "sigmoid"):
        raise FileError(
            f"{path}: layer {name!r} uses activation {act!r} and recurrent_activation {rec!r}; "
            f"lstm-trace traces the standard {_cell_title(variables)}, with activation 'tanh' and "
            "recurrent_activation 'sigmoid'"
        )
    units = cell.get("units")
    _check_size(path, f"units of layer {name!r}", units)
    held = int(np.shape(variables["recurrent_kernel"])[0])
    if units != held:
        raise FileError(
            f"{path}: config.json gives layer {name!r} {units} units, its weights {held}"
        )
