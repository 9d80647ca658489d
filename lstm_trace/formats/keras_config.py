"""A Keras model config's recurrent layers, read as data: which layers are LSTMs or GRUs,
and what the weights cannot say (activations, return_sequences, go_backwards, a GRU's
reset_after when it has no bias, a Bidirectional's merge_mode, the input's sequence length).

A traced layer is any of:

    LSTM(units), GRU(units)
    RNN(LSTMCell(units)), RNN(GRUCell(...))  (the same variables under cell/vars)
    Bidirectional(any of these)              (two halves: one module)

A layer with go_backwards=True is a reverse-only layer (direction 'reverse'). Layers stack
(stack_facts) when only the first of them has go_backwards=True: Keras hands each layer the
steps in the order the one below read them, so the layers above it read the sequence
backwards in time too. A Bidirectional whose forward half reads backwards is refused.

Every value that comes from the file is checked against the weights it describes: a config
that contradicts them (33 inputs for a 32-input kernel, units "seventy", a sequence length of
0) is a malformed file, refused, not guessed around.
"""

from __future__ import annotations

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


def recurrent(cls: str, cfg: dict[str, Any]) -> str | None:
    """'traced' for a layer lstm-trace traces, 'other' for another recurrent layer (named,
    not traced), None for a layer that is not recurrent."""
    layer = {"class_name": cls, "config": cfg}
    if _is_lstm(layer):
        return "traced"
    return "other" if _is_recurrent(layer) else None


def title(cls: str, cfg: dict[str, Any]) -> str:
    """'LSTM', 'GRU', 'SimpleRNN', 'Bidirectional(GRU)': a recurrent layer, for messages."""
    layer = {"class_name": cls, "config": cfg}
    inner = _title(layer)
    return f"Bidirectional({inner})" if cls == "Bidirectional" else inner


def _cell_config(layer: dict[str, Any]) -> dict[str, Any]:
    """An LSTM's settings: LSTM's config, or RNN's with its LSTMCell's config over it."""
    cfg = dict(layer["config"])
    if layer.get("class_name") == "RNN":
        cfg.update(cfg["cell"]["config"])
    return cfg


def directions(cls: str, cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """A traced layer's cell settings per direction: one, or a Bidirectional's two."""
    if cls != "Bidirectional":
        return [_cell_config({"class_name": cls, "config": cfg})]
    backward = cfg.get("backward_layer") or cfg["layer"]
    return [_cell_config(cfg["layer"]), _cell_config(backward)]


#: how Keras combines a Bidirectional's halves, for each merge_mode but 'concat'
MERGES = {
    "sum": "the forward half plus the backward one: output[..., :H] + output[..., H:] of "
    "lstm-trace's output",
    "ave": "the mean of the halves: (output[..., :H] + output[..., H:]) / 2 of lstm-trace's output",
    "mul": "the halves multiplied: output[..., :H] * output[..., H:] of lstm-trace's output",
    None: "the halves as two outputs: [output[..., :H], output[..., H:]] of lstm-trace's output",
}


def merge_note(name: str, mode: str | None) -> str:
    """What a Bidirectional's merge_mode makes of lstm-trace's output (the halves concatenated)."""
    return (
        f"layer {name!r} is a Bidirectional with merge_mode={mode!r}: lstm-trace's output is "
        f"the two directions concatenated (forward first, H each), and Keras's is {MERGES[mode]}"
    )


def layer_facts(
    path: Path, name: str, cls: str, cfg: dict[str, Any], shape: Any, layer: KerasLayer
) -> dict[str, Any]:
    """What a layer's config says that its weights cannot: return_sequences, return_state,
    units, seq_len (its input's T when the graph says), go_backwards (when True), a GRU's
    reset_after, a Bidirectional's merge_mode (when not 'concat'). Every activation is
    checked, and every size against the weights."""
    cells = directions(cls, cfg)
    if len(cells) != len(layer):
        raise FileError(
            f"{path}: config.json's layer {name!r} has {len(cells)} direction(s), its weights "
            f"{len(layer)}"
        )
    for d, (cell, variables) in enumerate(zip(cells, layer, strict=True)):
        _check_cell(path, cell, variables, backward=d == 1)
    found: dict[str, Any] = {}
    if len(cells) == 2:
        if cells[0].get("go_backwards"):
            raise FileError(
                f"{path}: layer {cells[0].get('name')!r} is the forward half of a "
                "Bidirectional, and has go_backwards=True (not supported)"
            )
        mode = cfg.get("merge_mode", "concat")
        if mode not in ("concat", *MERGES):
            raise FileError(
                f"{path}: layer {name!r} has merge_mode {mode!r}; Keras's are 'concat', 'sum', "
                "'ave', 'mul' and None"
            )
        if mode != "concat":
            found["merge_mode"] = mode
    elif cells[0].get("go_backwards"):
        found["go_backwards"] = True
    resets = {bool(c.get("reset_after", True)) for c in cells if "reset_after" in c}
    if len(resets) > 1:
        raise FileError(f"{path}: layer {name!r}'s halves differ in reset_after")
    if resets:
        found["reset_after"] = resets.pop()
    if shape is not None and (not isinstance(shape, list) or len(shape) < 2):
        raise FileError(
            f"{path}: config.json's input shape {shape!r} of layer {name!r} is not "
            "(batch, T, features)"
        )
    seq_len, features = (None, None) if shape is None else (shape[-2], shape[-1])
    _check_size(path, "the input's sequence length", seq_len)
    _check_size(path, "the input's features", features)
    inputs = int(np.shape(layer[0]["kernel"])[0])
    if features is not None and features != inputs:
        raise FileError(
            f"{path}: config.json's input to layer {name!r} has {features} features, but its "
            f"kernel reads {inputs}"
        )
    last = cells[0]
    return {
        "return_sequences": bool(last.get("return_sequences", cfg.get("return_sequences"))),
        "return_state": bool(last.get("return_state", cfg.get("return_state"))),
        "units": last.get("units"),
        "seq_len": seq_len,
        **found,
    }


def stack_facts(names: list[str], each: list[dict[str, Any]]) -> dict[str, Any] | str:
    """The facts of layers stacked (a chain, bottom first), or why they do not stack.

    Keras hands each layer the steps in the order the layer below read them, so above a
    go_backwards layer a forward layer reads the sequence backwards in time, and a second
    go_backwards layer reads it forwards again: [True, False, ...] is lstm-trace's reverse
    stack, and any other go_backwards=True is a stack of mixed directions."""
    later = [n for n, f in zip(names[1:], each[1:], strict=True) if f.get("go_backwards")]
    if later:
        return (
            f"layer {later[0]!r} has go_backwards=True above the first layer; Keras hands "
            "each layer the steps in the order the one below read them, so the stack reads in "
            "both directions, which lstm-trace does not trace as one"
        )
    resets = {f["reset_after"] for f in each if "reset_after" in f}
    if len(resets) > 1:
        return "some of the layers have reset_after=True and others False"
    below = [n for n, f in zip(names[:-1], each[:-1], strict=True) if not f["return_sequences"]]
    if below:
        return f"layer {below[0]!r} returns its last step only (return_sequences=False)"
    first, last = each[0], each[-1]
    out = {k: last[k] for k in ("return_sequences", "return_state", "units")}
    out["seq_len"] = first["seq_len"]
    if first.get("go_backwards"):
        out["go_backwards"] = True
    if resets:
        out["reset_after"] = resets.pop()
    return out


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
