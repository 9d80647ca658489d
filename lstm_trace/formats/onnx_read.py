"""ONNX models: every LSTM and GRU node, in the main graph and in If and Loop subgraphs, read
as a module in PyTorch's names and layout. The model is never run.

ONNX's LSTM node takes X, W (D, 4H, I), R (D, 4H, H), B (D, 8H) = [Wb, Rb], sequence_lens,
initial_h and initial_c (D, B, H), P (D, 3H); its GRU node X, W (D, 3H, I), R (D, 3H, H),
B (D, 6H), sequence_lens, initial_h. Direction d of D is 0 forward and 1 reverse for a
bidirectional node; a reverse node's only one runs backward. Read as nn.LSTM's names:

    W[d] -> weight_ih_l0[_reverse]   (G*H, I)   gate blocks reordered (below)
    R[d] -> weight_hh_l0[_reverse]   (G*H, H)
    B[d, :G*H] -> bias_ih_l0, B[d, G*H:] -> bias_hh_l0   (no B: bias False)
    P[d] -> weight_peep_l0           (3H,), from i, o, f to lstm-trace's i, f, o

The gate blocks go from ONNX's order (LSTM i, o, f, c; GRU z, r, h) to PyTorch's (i, f, g, o;
r, z, n), as each gate's ONNX position says (cells/). A GRU's linear_before_reset 1 is
reset_after=True (PyTorch's form), 0 reset_after=False. layout=1 only puts the batch first in
X, Y and the states: initial_h (B, D, H) is read as (D, B, H), lstm-trace's h0.

What lstm-trace cannot reproduce is refused by name: clip, input_forget=1, activations other
than the defaults, activation_alpha/beta, a sequence_lens that is not the full length.
Stacks (onnx_stack.py) are nodes whose Y feeds the next node's X.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..cells import cell_of
from ..errors import ConfigError, FileError
from ..frameworks import infer_pytorch
from .dtype_policy import float_array, half_note
from .file_limits import optional
from .modules import Contents, Module, Untraced, module_kind
from .onnx_graph import (
    NotConstant,
    Scope,
    describe_ops,
    load_model,
    opsets,
    static_shape,
    walk,
)
from .onnx_stack import Node, stacked_modules

#: ONNX's recurrent nodes lstm-trace traces, and their cells
CELLS = {"LSTM": "lstm", "GRU": "gru"}
#: the input names of each node, in order
INPUTS = {
    "LSTM": ("X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"),
    "GRU": ("X", "W", "R", "B", "sequence_lens", "initial_h"),
}
#: the activations lstm-trace computes, per direction
DEFAULT_ACTIVATIONS = {"LSTM": ("sigmoid", "tanh", "tanh"), "GRU": ("sigmoid", "tanh")}
DIRECTIONS = {"forward": "uni", "reverse": "reverse", "bidirectional": "bi"}
#: P's blocks i, o, f -> w_peep's i, f, o
PEEP_ORDER = (0, 2, 1)


def read_onnx(path: Path, max_memory: int) -> Contents:
    """Every LSTM and GRU node of an .onnx file as a module (stacks too), and its RNN nodes
    as untraced; a file without any is refused, naming what it holds."""
    model = load_model(path, max_memory)
    top = Scope(path, model.graph, opsets(model), max_memory)
    nodes: list[Node] = []
    untraced: list[Untraced] = []
    refused: list[str] = []
    ops: list[str] = []
    names: set[str] = set()
    counts: dict[tuple[str, str], int] = {}
    for scope, node in walk(top):
        ops.append(node.op_type)
        if node.op_type not in (*CELLS, "RNN") or node.domain not in ("", "ai.onnx"):
            continue
        k = counts.get((scope.path, node.op_type), 0)
        counts[(scope.path, node.op_type)] = k + 1
        name = _unique(scope.path + (node.name or f"{node.op_type}#{k}"), names)
        if node.op_type == "RNN":
            untraced.append(Untraced(name, "ONNX RNN node (no gates)"))
            continue
        try:
            nodes.append(read_node(path, scope, node, name))
        except _Refused as exc:
            refused.append(exc.why)
            untraced.append(Untraced(name, f"ONNX {node.op_type} node, not traced: {exc.why}"))
    if not nodes:
        if refused:
            raise FileError(f"{path}: {refused[0]}")
        if not untraced:
            raise FileError(f"{path}: no LSTM or GRU node (it holds {describe_ops(ops)})")
    modules = [n.module for n in nodes]
    modules += stacked_modules(path, nodes)
    half = half_note(path, [m.stored_dtype or "" for m in modules])
    return Contents(path, tuple(modules), tuple(untraced), () if half is None else (half,))


class _Refused(Exception):
    """A node lstm-trace cannot reproduce exactly: why, naming it."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def _unique(name: str, taken: set[str]) -> str:
    """name, or name#2, name#3 ... when nodes share a name (ONNX does not forbid it)."""
    k, unique = 1, name
    while unique in taken:
        k += 1
        unique = f"{name}#{k}"
    taken.add(unique)
    return unique


def attributes(node: Any) -> dict[str, Any]:
    """A node's attributes as Python values (strings decoded)."""
    onnx = optional("onnx", "reading .onnx files")
    out: dict[str, Any] = {}
    for attr in node.attribute:
        value = onnx.helper.get_attribute_value(attr)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, list):
            value = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value]
        out[attr.name] = value
    return out


def check_attributes(node: Any, name: str, attrs: dict[str, Any]) -> None:
    """Refuse, naming it, an attribute whose computation lstm-trace does not reproduce."""
    op = node.op_type
    where = f"{op} node {name!r}"
    if "clip" in attrs:
        raise _Refused(f"{where} clips its cell inputs (clip={attrs['clip']}), which "
                       "lstm-trace does not; it traces unclipped LSTM and GRU nodes")  # fmt: skip
    if int(attrs.get("input_forget", 0)):
        raise _Refused(f"{where} has input_forget=1 (coupled input and forget gates), which "
                       "lstm-trace does not trace")  # fmt: skip
    for key in ("activation_alpha", "activation_beta"):
        if key in attrs:
            raise _Refused(f"{where} has {key}={attrs[key]}; lstm-trace traces the default "
                           "activations only")  # fmt: skip
    direction = attrs.get("direction", "forward")
    if direction not in DIRECTIONS:
        raise _Refused(f"{where}: direction {direction!r} is not forward, reverse or "
                       "bidirectional")  # fmt: skip
    default = DEFAULT_ACTIVATIONS[op]
    if "activations" in attrs:
        given = tuple(str(a).lower() for a in attrs["activations"])
        wanted = default * (2 if direction == "bidirectional" else 1)
        if given != wanted:
            raise _Refused(f"{where} has activations {', '.join(attrs['activations'])}; "
                           f"lstm-trace computes {', '.join(a.title() for a in default)} "
                           "only")  # fmt: skip
    if int(attrs.get("layout", 0)) not in (0, 1):
        raise _Refused(f"{where}: layout {attrs['layout']} is neither 0 nor 1")


def read_node(path: Path, scope: Scope, node: Any, name: str) -> Node:
    """One LSTM or GRU node as a module, its tensors in nn.LSTM's or nn.GRU's names."""
    op = node.op_type
    attrs = attributes(node)
    check_attributes(node, name, attrs)
    given = dict(zip(INPUTS[op], node.input, strict=False))
    given = {k: v for k, v in given.items() if v}
    missing = [k for k in ("X", "W", "R") if k not in given]
    if missing:
        raise FileError(f"{path}: {op} node {name!r} has no {missing[0]}")
    keys = [k for k in ("W", "R", "B", "P") if k in given]
    arrays: dict[str, NDArray[Any]] = {k: _weight(path, scope, name, k, given[k]) for k in keys}
    direction = DIRECTIONS[attrs.get("direction", "forward")]
    layout = int(attrs.get("layout", 0))
    cell = cell_of(CELLS[op])
    d_count, hidden = _check_shapes(path, name, op, arrays, direction, cell.n_gates, attrs)
    notes: list[str] = []
    if "P" in arrays and not np.any(arrays["P"]):
        del arrays["P"]  # zero peepholes add nothing: the node is a plain LSTM
        notes.append(f"{path}: {name}: its peepholes P are all zero, read as an LSTM without")
    state = pytorch_state(arrays, cell.name, direction, hidden)
    if "sequence_lens" in given:
        _full_length(path, scope, name, given["sequence_lens"], given["X"], layout)
    initial, more = initial_states(path, scope, name, given, layout, (d_count, hidden))
    try:
        arch = infer_pytorch(state, cell.name)
    except ConfigError as exc:
        raise FileError(f"{path}: {name}: {exc.message}") from None
    if cell.name == "gru":
        arch = replace(arch, reset_after=bool(int(attrs.get("linear_before_reset", 0))))
    if layout == 1:
        notes.append(
            f"{path}: {name} has layout=1: its X is (batch, seq, input), as --x is read without "
            "--seq-first, and its Y (batch, seq, directions, hidden); the weights are the same"
        )
    module = Module(
        name=name, kind=module_kind(arch), framework="onnx", architecture=arch, pytorch=state,
        notes=(*notes, *more), stored_dtype=str(arrays["W"].dtype), initial=initial,
    )  # fmt: skip
    y = node.output[0] if node.output else ""
    return Node(module, scope, given.get("X", ""), y, layout, d_count, hidden)


def _weight(path: Path, scope: Scope, name: str, key: str, tensor: str) -> NDArray[Any]:
    """W, R, B or P of a node: constant (an initializer, or computed from them), floats; one
    given at run time leaves the node untraced."""
    what = f"{key} of node {name!r}"
    try:
        value = scope.constant(tensor, what)
    except NotConstant as exc:
        raise _Refused(f"{exc.why}; lstm-trace reads weights stored in the file") from None
    return float_array(path, what, value)


def _check_shapes(
    path: Path,
    name: str,
    op: str,
    arrays: dict[str, NDArray[Any]],
    direction: str,
    gates: int,
    attrs: dict[str, Any],
) -> tuple[int, int]:
    """(D, H) of a node, every tensor's shape checked against them."""
    d = 2 if direction == "bi" else 1
    w, r = arrays["W"], arrays["R"]
    fallback = int(r.shape[-1]) if r.ndim == 3 else 0
    hidden = int(attrs.get("hidden_size", fallback))
    i = w.shape[-1] if w.ndim == 3 else 0
    wanted = {"W": (d, gates * hidden, i), "R": (d, gates * hidden, hidden),
              "B": (d, 2 * gates * hidden), "P": (d, 3 * hidden)}  # fmt: skip
    for key, value in arrays.items():
        if value.shape != wanted[key] or not hidden or not i:
            raise FileError(
                f"{path}: {key} of {op} node {name!r}: expected shape {wanted[key]} "
                f"(directions, {gates}*hidden_size ...), got {value.shape}"
            )
    return d, hidden


def pytorch_state(
    arrays: dict[str, NDArray[Any]], cell: str, direction: str, hidden: int
) -> dict[str, NDArray[Any]]:
    """ONNX's W, R, B, P as nn.LSTM's names (layer 0), the gate blocks in PyTorch's order."""
    kind = cell_of(cell)
    order = [gate.onnx for gate in kind.gates]  # PyTorch's gates, each at its ONNX position
    g = kind.n_gates
    suffixes = {"uni": [""], "reverse": ["_reverse"], "bi": ["", "_reverse"]}[direction]

    def blocks(a: NDArray[Any], positions: Any) -> NDArray[Any]:
        parts = np.split(a, len(positions))
        return np.ascontiguousarray(np.concatenate([parts[k] for k in positions]))

    state: dict[str, NDArray[Any]] = {}
    for d, suffix in enumerate(suffixes):
        state[f"weight_ih_l0{suffix}"] = blocks(arrays["W"][d], order)
        state[f"weight_hh_l0{suffix}"] = blocks(arrays["R"][d], order)
        if "B" in arrays:
            state[f"bias_ih_l0{suffix}"] = blocks(arrays["B"][d, : g * hidden], order)
            state[f"bias_hh_l0{suffix}"] = blocks(arrays["B"][d, g * hidden :], order)
        if "P" in arrays:
            state[f"weight_peep_l0{suffix}"] = blocks(arrays["P"][d], PEEP_ORDER)
    return state


def initial_states(
    path: Path,
    scope: Scope,
    name: str,
    given: dict[str, str],
    layout: int,
    sizes: tuple[int, int],
) -> tuple[dict[str, NDArray[Any]], list[str]]:
    """({'h0': (D, B, H), 'c0': ...}, notes): the node's constant initial states that are not
    all zero, in lstm-trace's layout; one given at run time is noted and left to --h0/--c0."""
    out: dict[str, NDArray[Any]] = {}
    notes: list[str] = []
    d, hidden = sizes
    for key, ours in (("initial_h", "h0"), ("initial_c", "c0")):
        if key not in given or scope.zeros(given[key]):
            continue  # zeros: lstm-trace's own start
        what = f"{key} of node {name!r}"
        try:
            value = float_array(path, what, scope.constant(given[key], what))
        except NotConstant as exc:
            notes.append(f"{path}: {exc.why}; the trace starts from zeros unless --{ours} is "
                         "given")  # fmt: skip
            continue
        if value.ndim != 3:
            raise FileError(f"{path}: {what}: expected 3 axes, got shape {value.shape}")
        value = value.transpose(1, 0, 2) if layout == 1 else value
        if value.shape[0] != d or value.shape[2] != hidden:
            raise FileError(f"{path}: {what}: expected shape ({d}, batch, {hidden}), got "
                            f"{value.shape}")  # fmt: skip
        if np.any(value):
            out[ours] = np.ascontiguousarray(value)
    return out, notes


def _full_length(path: Path, scope: Scope, name: str, lens: str, x: str, layout: int) -> None:
    """Accept a sequence_lens that is constant and equal to X's fixed length; else refuse."""
    what = f"sequence_lens of node {name!r}"
    why = f"{what} may end sequences early, which lstm-trace does not trace"
    try:
        value = np.asarray(scope.constant(lens, what)).reshape(-1)
    except NotConstant:
        raise _Refused(f"{why} (it is given at run time)") from None
    shape = static_shape(scope, x)
    steps: int | None = None if shape is None or len(shape) != 3 else shape[1 if layout else 0]
    if steps is None or not value.size or np.any(value != steps):
        length = "an unknown length" if steps is None else f"length {steps}"
        raise _Refused(f"{why} (it holds {value[:4].tolist()}, X has {length})")
