"""Which recurrent layer a set of weights is: LSTM or GRU (traced), plain RNN (named).

The kind follows from the recurrent weight alone, whatever the sizes:
- PyTorch: weight_hh_l0 is (gates * H, H) without a projection (nn.LSTM: 4, nn.GRU: 3,
  nn.RNN: 1); only nn.LSTM has weight_hr_l0, with which weight_hh_l0 is (4H, proj).
  nn.LSTMCell / nn.GRUCell / nn.RNNCell name theirs weight_ih, weight_hh, bias_ih, bias_hh.
- Keras: recurrent_kernel is (H, gates * H) (LSTM: 4, GRU: 3, SimpleRNN: 1).
Counting rows against "a multiple of 4" would not do: a GRU with H = 4 has 12 rows.

An nn.LSTMCell is the step nn.LSTM repeats (no projection): it is read as a one-layer
unidirectional nn.LSTM, and an nn.GRUCell as a one-layer nn.GRU (named.py finds them among
named tensors). Tensors beside the traced module are named once on stderr (left_out_note).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..cells import CELLS
from ..errors import ConfigError

PYTORCH_NAMES = {4: "nn.LSTM", 3: "nn.GRU", 1: "nn.RNN"}
KERAS_NAMES = {4: "LSTM", 3: "GRU", 1: "SimpleRNN"}
TRACED = "it traces nn.LSTM, nn.GRU, nn.LSTMCell, nn.GRUCell and Keras LSTM and GRU layers"
#: the cells lstm-trace traces, by their gate count
CELL_OF_GATES = {cell.n_gates: name for name, cell in CELLS.items()}


def gates_of(recurrent_shape: tuple[int, ...], rows_first: bool, projected: bool = False) -> int:
    """Gates of a recurrent weight: (gates*H, H) in PyTorch (rows_first), (H, gates*H) in
    Keras; 0 when the shape is none of these. A projected nn.LSTM's is (4H, proj): 4."""
    if projected:
        return 4
    if len(recurrent_shape) != 2 or 0 in recurrent_shape:
        return 0
    big, small = recurrent_shape if rows_first else recurrent_shape[::-1]
    return big // small if big % small == 0 else 0


def not_traced(held: str) -> str:
    """'holds an nn.RNN (no gates; 50 parameters), which lstm-trace does not trace yet; ...'"""
    return f"holds {held}, which lstm-trace does not trace yet; {TRACED}"


def not_traced_yet(what: str, gates: int, params: int) -> str:
    """'holds an nn.GRU (3 gates; 21,840 parameters), which lstm-trace does not trace yet; ...'"""
    kind = "no gates" if gates == 1 else f"{gates} gates"
    return not_traced(f"{what} ({kind}; {params:,} parameters)")


def _article(name: str) -> str:
    return ("an " if name.startswith("nn.") else "a ") + name  # an nn.GRU, a Keras GRU


def left_out_note(path: object, traced: str, left_out: list[str], limit: int = 8) -> str:
    """'model.pt: traced encoder.lstm; not traced: embedding.weight, head.weight, head.bias'.

    A module with more than three tensors is shown as 'decoder.* (12 tensors)'."""
    groups: dict[str, list[str]] = {}
    for key in left_out:
        groups.setdefault(key.rsplit(".", 1)[0] if "." in key else key, []).append(key)
    items: list[str] = []
    for module, keys in groups.items():
        items += keys if len(keys) <= 3 else [f"{module}.* ({len(keys)} tensors)"]
    shown = ", ".join(items[:limit]) + (
        f" and {len(items) - limit} more" if len(items) > limit else ""
    )
    return f"{path}: traced {traced}; not traced: {shown}"


def keras_cell(layers: Sequence[Sequence[Mapping[str, Any]]]) -> str:
    """'lstm' or 'gru': the cell of Keras layers, by their recurrent_kernel (H, G*H).

    A SimpleRNN is named (not traced), a shape of no known kind refused, and a stack that
    mixes LSTM and GRU layers refused: one trace follows one cell. Layers without a
    recurrent_kernel are left to the shape checks (taken as an LSTM)."""
    cells: list[str] = []  # one per layer
    for layer in layers:
        for variables in layer[:1]:  # a Bidirectional's two halves are one class
            rk = variables.get("recurrent_kernel")
            if rk is None:
                continue
            gates = gates_of(tuple(np.shape(rk)), rows_first=False)
            if gates not in KERAS_NAMES:
                raise ConfigError(
                    f"recurrent_kernel: expected shape (units, gates*units) of a Keras LSTM "
                    f"(4 gates), GRU (3) or SimpleRNN (1), got {np.shape(rk)}"
                )
            if gates not in CELL_OF_GATES:
                params = sum(int(np.size(v)) for d in layer for v in d.values())
                name = KERAS_NAMES[gates]
                where = f"Bidirectional({name})" if len(layer) == 2 else name
                raise ConfigError(not_traced_yet(_article("Keras " + where), gates, params))
            cells.append(CELL_OF_GATES[gates])
    if len(set(cells)) > 1:
        kinds = ", ".join(c.upper() for c in cells)
        raise ConfigError(
            f"the Keras layers mix LSTM and GRU cells ({kinds}); lstm-trace traces "
            "a stack whose layers are all LSTMs or all GRUs"
        )
    return cells[0] if cells else "lstm"


def keras_reset_after(
    layers: Sequence[Sequence[Mapping[str, Any]]], units: int, told: bool | None
) -> bool:
    """A Keras GRU's reset_after: its bias is (2, 3H) with True, (3H,) with False; every
    layer's must agree, with each other and with what a config says (told)."""
    shapes = {np.shape(v["bias"]) for layer in layers for v in layer if "bias" in v}
    allowed = {(2, 3 * units): True, (3 * units,): False}
    for shape in shapes:
        if shape not in allowed:
            raise ConfigError(
                f"bias: expected shape (2, {3 * units}) (a Keras GRU with reset_after=True) or "
                f"({3 * units},) (reset_after=False), got {shape}"
            )
    said = {allowed[shape] for shape in shapes}
    if len(said) > 1:
        raise ConfigError(
            "some Keras GRU layers have a (2, 3H) bias (reset_after=True) and others a (3H,) "
            "one (reset_after=False); lstm-trace traces stacks that share one reset_after"
        )
    if told is not None and said and said != {told}:
        raise ConfigError(
            f"config.json says reset_after={told}, but the GRU's bias is {shapes.pop()}"
        )
    return told if told is not None else (said.pop() if said else True)
