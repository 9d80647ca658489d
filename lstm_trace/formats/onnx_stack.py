"""Stacks of ONNX recurrent nodes: a multi-layer nn.LSTM exported to ONNX is one node per
layer, each layer's Y reshaped into the next one's X.

torch.onnx.export writes, between layers, Squeeze(Y, axes=[1]) for one direction (Y (T, 1,
B, H) -> (T, B, H)) and, for two, Transpose(Y, perm=[0, 2, 1, 3]) then Reshape to (T, B,
2H), the two directions' features side by side (forward first): what layer k+1 of nn.LSTM
reads. Two nodes are stacked when the path from one's Y to the other's X is only Squeeze,
Unsqueeze, Transpose, Reshape, Flatten and Identity nodes, the cell, sizes and variants match,
and the path, run on a probe Y of distinct numbers, gives exactly that layout (so that a path
that moves the features otherwise is never taken for a stack). A chain of nodes stacked this
way is one stacked module, named 'a+b', besides its parts.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError
from ..frameworks import infer_pytorch
from .keras_modules import stack_name
from .modules import Module, module_kind
from .onnx_graph import NotConstant, Scope, static_shape

#: the nodes that may sit between two stacked layers
BETWEEN = {"Squeeze", "Unsqueeze", "Transpose", "Reshape", "Flatten", "Identity"}
#: the probe's time steps and batch when Y's shape is not fixed in the file
PROBE_STEPS, PROBE_BATCH = 2, 3


@dataclass(frozen=True)
class Node:
    """One LSTM or GRU node read: its module, and what stacking needs."""

    module: Module
    scope: Scope
    x: str  # its X input
    y: str  # its Y output ('' when not used)
    layout: int
    directions: int
    hidden: int


def stacked_modules(path: Path, nodes: Sequence[Node]) -> list[Module]:
    """The stacked module of every chain of two or more nodes, bottom first."""
    by_y = {(id(n.scope), n.y): n for n in nodes if n.y}
    below: dict[int, Node] = {}  # id(upper node) -> the node under it
    feeds: dict[int, int] = {}  # id(lower node) -> how many nodes it feeds
    for upper in nodes:
        path_nodes, source = _path_to(upper)
        lower = by_y.get((id(upper.scope), source))
        if lower is not None and _stacks(lower, upper, path_nodes):
            below[id(upper)] = lower
            feeds[id(lower)] = feeds.get(id(lower), 0) + 1
    above = {id(low): up for up in nodes if (low := below.get(id(up))) and feeds[id(low)] == 1}
    out: list[Module] = []
    for bottom in nodes:
        if id(bottom) in {id(n) for n in above.values()}:
            continue  # not the bottom of a chain
        chain = [bottom]
        while id(chain[-1]) in above:
            chain.append(above[id(chain[-1])])
        if len(chain) > 1:
            stacked = _stack(path, [n.module for n in chain])
            if stacked is not None:
                out.append(stacked)
    return out


def _path_to(upper: Node) -> tuple[list[Any], str]:
    """The BETWEEN nodes from upper's X back to where they start (nearest first reversed),
    and the tensor they start from."""
    name, found = upper.x, []
    for _ in range(8):
        node = upper.scope.producers.get(name)
        if node is None or node.op_type not in BETWEEN or not node.input:
            break
        found.append(node)
        name = node.input[0]
    return found[::-1], name


def _stacks(lower: Node, upper: Node, between: list[Any]) -> bool:
    """Whether upper reads lower's Y as nn.LSTM's next layer does."""
    a, b = lower.module.architecture, upper.module.architecture
    if replace(b, input_size=a.input_size, num_layers=a.num_layers) != a:
        return False  # another cell, size, direction or variant
    if b.input_size != lower.directions * lower.hidden:
        return False
    try:
        return _probe_passes(lower, upper, between)
    except (NotConstant, ValueError, RuntimeError, TypeError, IndexError):
        return False  # a path that cannot be run on the probe is no plain reshape


def _probe_passes(lower: Node, upper: Node, between: list[Any]) -> bool:
    """Run the path on a Y of distinct numbers; compare with the X nn.LSTM's next layer reads."""
    reference = importlib.import_module("onnx.reference")
    d, h = lower.directions, lower.hidden
    steps, batch = PROBE_STEPS, PROBE_BATCH
    fixed = _fixed_steps_batch(lower)
    if fixed is not None:
        steps, batch = fixed
    y = np.arange(steps * d * batch * h, dtype=np.float32)
    # the probe in (T, D, B, H), and as the node lays Y out
    tdbh = y.reshape(steps, d, batch, h)
    value: NDArray[Any] = tdbh.transpose(2, 0, 1, 3) if lower.layout else tdbh
    for node in between:
        feeds = {node.input[0]: value}
        for extra in node.input[1:]:
            if extra:
                feeds[extra] = lower.scope.constant(extra, f"{extra!r} between two layers")
        evaluator = reference.ReferenceEvaluator(node, opsets=lower.scope.opsets)
        value = np.asarray(evaluator.run(None, feeds)[0])
    wanted = tdbh.transpose(0, 2, 1, 3).reshape(steps, batch, d * h)  # (T, B, D*H)
    if upper.layout:
        wanted = wanted.transpose(1, 0, 2)
    return value.shape == wanted.shape and bool(np.array_equal(value, wanted))


def _fixed_steps_batch(lower: Node) -> tuple[int, int] | None:
    """(T, B) when the graph fixes them (a Reshape to (5, 2, 8) then needs them)."""
    shape = static_shape(lower.scope, lower.y) or static_shape(lower.scope, lower.x)
    if shape is None or None in shape or len(shape) not in (3, 4):
        return None
    t, b = (shape[1], shape[0]) if lower.layout else (shape[0], shape[-2 if len(shape) == 4 else 1])
    return (int(t), int(b)) if t and b else None


def _stack(path: Path, parts: list[Module]) -> Module | None:
    """The stacked module of parts (layer k's tensors renamed _l0 -> _l<k>), or None when
    their initial states cannot be put together (different batches)."""
    state: dict[str, NDArray[Any]] = {}
    for k, part in enumerate(parts):
        assert part.pytorch is not None
        state.update({key.replace("_l0", f"_l{k}"): v for key, v in part.pytorch.items()})
    initial = _initial(parts)
    if initial is None:
        return None
    try:
        arch = infer_pytorch(state, parts[0].architecture.cell)
    except ConfigError:
        return None
    arch = replace(arch, reset_after=parts[0].architecture.reset_after)
    notes = tuple(dict.fromkeys(n for p in parts for n in p.notes))
    return Module(
        name=stack_name([p.name for p in parts]), kind=module_kind(arch), framework="onnx",
        architecture=arch, pytorch=state, notes=notes, parts=tuple(p.name for p in parts),
        stored_dtype=parts[0].stored_dtype, initial=initial,
    )  # fmt: skip


def _initial(parts: list[Module]) -> dict[str, NDArray[Any]] | None:
    """The parts' initial states stacked (layers * D, B, H), zeros for a part without."""
    out: dict[str, NDArray[Any]] = {}
    for key in ("h0", "c0"):
        given = [p.initial[key] for p in parts if key in p.initial]
        if not given:
            continue
        if len({g.shape for g in given}) != 1:
            return None
        zeros = np.zeros_like(given[0])
        out[key] = np.concatenate([p.initial.get(key, zeros) for p in parts])
    return out
