"""A checkpoint's nested data as flat tensor names: what a PyTorch file holds, found anywhere.

torch.save writes whatever the user gave it: a bare state_dict, or a training checkpoint
(a dict of a step count, an optimizer state and the model's state_dict under a key of its
own choosing), nested at any depth. A TorchScript archive pickles the module itself: objects
whose attributes are submodules and tensors. Both arrive here as plain data (dicts, lists,
tuples, NumPy arrays, numbers, strings) with Opaque standing for any object of a class that
was not built (the unpickler builds none: see torch_pickle.py).

flatten() names every tensor by its path, keys joined by dots ('state.encoder.lstm.
weight_ih_l0'), a module's attributes as state_dict names them, so the recurrent modules
are found by their names wherever they are. A tensor reachable twice (TorchScript's LSTM
also lists its weights in _flat_weights) is named once, by its state_dict name. What is not
a tensor is named as untraced: 'step: int', 'args: argparse.Namespace (not unpickled)'.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .modules import Untraced


@dataclass
class Opaque:
    """An object of a class the unpickler does not build: its class and, when the pickle
    gave one, the state it would have been built from (a TorchScript module's attributes)."""

    cls: str
    state: Any = None
    args: tuple[Any, ...] = field(default_factory=tuple)


#: scalar attributes of a TorchScript module (training, hidden_size, ...): its settings,
#: which the tensors' shapes say again, so they are not listed as untraced
_SCALARS = (bool, int, float, str, type(None))


def is_state_key(key: str) -> bool:
    """A key of an nn.LSTM (weight_ih_l0, ...) or of an RNN cell (weight_ih, weight_hh)."""
    last = key.rsplit(".", 1)[-1]
    return last.startswith(("weight_ih_l", "weight_hh_l")) or last in ("weight_ih", "weight_hh")


def flatten(obj: Any) -> tuple[dict[str, NDArray[Any]], list[Untraced]]:
    """({dotted name: array}, what is not a tensor) of a checkpoint's data, in the order the
    data holds them; ValueError when two tensors get one name (a key with a dot in it beside
    a nested dict of the same path)."""
    found: dict[int, tuple[int, str, NDArray[Any]]] = {}  # id -> (first seen, name, array)
    untraced: list[Untraced] = []
    for index, (name, value, inside_object) in enumerate(_walk(obj, "", False, set())):
        if isinstance(value, np.ndarray):
            seen = found.get(id(value))
            if seen is None:
                found[id(value)] = (index, name, value)
            elif _better(name, seen[1]):
                found[id(value)] = (seen[0], name, value)
        elif isinstance(value, Opaque):
            untraced.append(Untraced(name or "(top level)", f"{value.cls} (not unpickled)"))
        elif not (inside_object and isinstance(value, _SCALARS)):
            untraced.append(Untraced(name or "(top level)", type(value).__name__))
    arrays: dict[str, NDArray[Any]] = {}
    for _, name, array in sorted(found.values(), key=lambda f: f[0]):
        if name in arrays:  # {'enc.w': a, 'enc': {'w': b}}: one would silently replace the other
            raise ValueError(f"two tensors are both named {name!r}")
        arrays[name] = array
    return arrays, untraced


def _better(name: str, other: str) -> bool:
    """Whether name is the better of two names of one tensor: a state_dict name first,
    then the shallower, then the shorter."""
    return _rank(name) > _rank(other)


def _rank(name: str) -> tuple[bool, int, int]:
    return is_state_key(name), -name.count("."), -len(name)


def _walk(
    obj: Any, prefix: str, inside_object: bool, active: set[int]
) -> Iterator[tuple[str, Any, bool]]:
    """(name, leaf, whether it is an object's attribute) of every leaf, depth first: dicts,
    non-empty lists and tuples, and the attributes of an Opaque are entered. A container met
    again inside itself (a cycle) is not entered twice."""
    if id(obj) in active:
        return
    children: list[tuple[str, Any]] | None = None
    if isinstance(obj, dict):
        children = [(str(k), v) for k, v in obj.items()]
    elif isinstance(obj, (list, tuple)) and obj:
        children = [(str(i), v) for i, v in enumerate(obj)]
    elif isinstance(obj, Opaque) and isinstance(obj.state, dict):
        children = [(str(k), v) for k, v in obj.state.items()]
        inside_object = True
    if children is None:
        yield prefix, obj, inside_object
        return
    active.add(id(obj))
    for key, value in children:
        yield from _walk(value, _join(prefix, key), inside_object, active)
    active.discard(id(obj))


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key
