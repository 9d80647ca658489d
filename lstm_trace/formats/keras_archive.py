"""Reading a Keras file into Contents: a .keras archive, a .weights.h5, a legacy .h5 model.

- .keras (Keras 3): config.json is walked as a graph (keras_graph), each layer's weights
  found in model.weights.h5 at the group Keras 3 gives it (layers/<class>[_<n>], nested
  models under their own group); its 'vars' group's name attribute, when there, must be the
  config's name for the layer.
- .weights.h5 (Keras 3's save_weights): no config, only the groups. Each recurrent group is
  a module named by its path without 'layers' ('lstm_1', 'sequential/gru'); the groups of
  one class in one model are in model order by their counter ('lstm', 'lstm_1', ...), and
  those that chain by their sizes are also a stacked module.
- .h5: a legacy model file (a model_config attribute and model_weights/: keras_legacy) when
  it is one; tf.keras 2's save_weights('w.h5') (attrs['layer_names'] and the layers' groups
  at the top), read as a .weights.h5 is but in the order layer_names records; else read as a
  .weights.h5.

Every declared dataset size is checked against the memory limit before anything is read.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FileError
from ..frameworks import KerasLayer
from .dtype_policy import half_note
from .file_limits import check_h5_datasets
from .keras_config import recurrent
from .keras_graph import GraphLayer, is_model, model_layers
from .keras_h5 import H5_ASSUMPTIONS, group_params, h5py_module, layer_vars, read_archive
from .keras_layers import graph_contents
from .keras_legacy import legacy_config, legacy_params, legacy_vars, weights_only_layers
from .keras_modules import keras_module, stack_module
from .layer_kinds import KERAS_NAMES, gates_of
from .modules import Contents, Module, Untraced

#: a group's name: its class in snake case and Keras's counter
_COUNTED = re.compile(r"^(?P<cls>.+?)(?:_(?P<n>\d+))?$")

Datasets = list[dict[str, Any]]


def read_keras(path: Path, max_memory: int) -> Contents:
    """Every recurrent module of a Keras file, and what else it holds."""
    try:
        if path.suffix.lower() == ".keras":
            config, blob = read_archive(path, max_memory)  # sizes checked without h5py
            with h5py_module().File(blob, "r") as f:
                return _from_graph(path, config, max_memory, _keras3(path, f))
        with h5py_module().File(path, "r") as f:
            if path.name.lower().endswith(".h5") and "model_config" in f.attrs:
                config = legacy_config(path, f)
                return _from_graph(path, config, max_memory, _legacy(path, f))
            if "layers" not in f and "layer_names" in f.attrs:
                return _weights_only(path, f, max_memory)
            return _weights_h5(path, f, max_memory)
    except FileError:
        raise
    except RecursionError:  # a config nested too deeply for the layer walk
        raise FileError(f"{path}: its config is nested too deeply to be a Keras config") from None
    except (OSError, zipfile.BadZipFile, EOFError, RuntimeError) as exc:
        # RuntimeError: h5py's for a damaged file ("bad local heap signature"), zipfile's for
        # an encrypted member
        raise FileError(
            f"{path}: not a readable Keras file ({type(exc).__name__}: {exc})"
        ) from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        # a config or an h5 layout other than Keras writes: refuse, don't guess
        raise FileError(
            f"{path}: not laid out as a Keras file ({type(exc).__name__}: {exc})"
        ) from None


#: how a file stores a layer: (its variables' datasets per direction, its parameter count)
Store = tuple[Callable[[GraphLayer], Datasets], Callable[[GraphLayer], int]]


def _keras3(path: Path, f: Any) -> Store:
    """A .keras archive's model.weights.h5: each layer at its class-counter group."""

    def group(gl: GraphLayer) -> Any:
        where = gl.group
        if not where or where not in f:
            return None
        found = f[where]
        held = found["vars"].attrs.get("name") if "vars" in found else None
        if isinstance(held, bytes):
            held = held.decode("utf-8", "replace")
        if held is not None and held != gl.local[-1]:
            raise FileError(
                f"{path}: config.json's layer {gl.name!r} is stored at {where}, which holds "
                f"layer {held!r}: not laid out as Keras 3 writes a model"
            )
        return found

    def variables(gl: GraphLayer) -> Datasets:
        found = group(gl)
        if found is None:
            raise FileError(f"{path}: config.json's layer {gl.name!r} has no {gl.group} weights")
        return layer_vars(path, found, gl.group)

    def params(gl: GraphLayer) -> int:
        found = group(gl)
        return 0 if found is None else group_params(found)

    return variables, params


def _legacy(path: Path, f: Any) -> Store:
    return (lambda gl: legacy_vars(path, f, gl)), (lambda gl: legacy_params(f, gl))


def _read(path: Path, located: dict[str, Datasets], limit: int) -> dict[str, KerasLayer]:
    """The located variables read, every declared size checked first."""
    check_h5_datasets(path, (d for v in located.values() for h in v for d in h.values()), limit)
    return {
        name: [{k: np.asarray(d[()]) for k, d in half.items()} for half in halves]
        for name, halves in located.items()
    }


def _half(path: Path, layers: dict[str, KerasLayer]) -> tuple[str, ...]:
    note = half_note(path, (str(v.dtype) for x in layers.values() for d in x for v in d.values()))
    return () if note is None else (note,)


def _from_graph(path: Path, config: dict[str, Any], limit: int, store: Store) -> Contents:
    variables, params = store
    if not is_model(config):
        raise FileError(
            f"{path}: only Sequential and Functional models are read from Keras model files "
            f"(this is a {config.get('class_name')!r} without a list of layers); save its "
            "weights with save_weights as .weights.h5 instead"
        )
    graph = model_layers(config)
    located: dict[str, Datasets] = {}
    counts: dict[str, int] = {}
    for gl in graph:
        if recurrent(gl.cls, gl.config) == "traced":
            located[gl.name] = variables(gl)
        else:
            counts[gl.name] = params(gl)
    layers = _read(path, located, limit)
    return graph_contents(path, graph, layers, counts, _half(path, layers))


# --- .weights.h5: groups only ------------------------------------------------------------------


def _groups(f: Any, where: str = "layers", prefix: str = "") -> Iterator[tuple[str, str, Any]]:
    """(name, h5 path, group) of every layer group, nested models walked into."""
    for key in f[where]:
        group = f[where][key]
        if not hasattr(group, "keys"):
            continue
        if "layers" in group and hasattr(group["layers"], "keys"):
            yield from _groups(f, f"{where}/{key}/layers", f"{prefix}{key}/")
        else:
            yield f"{prefix}{key}", f"{where}/{key}", group


def _is_recurrent_group(group: Any) -> bool:
    return "cell" in group or "forward_layer" in group or "backward_layer" in group


def _weights_h5(path: Path, f: Any, limit: int) -> Contents:
    if "layers" not in f:
        raise FileError(f"{path}: no 'layers' group: not a Keras 3 weights file")
    located: dict[str, Datasets] = {}
    untraced: list[Untraced] = []
    for name, where, group in _groups(f):
        if _is_recurrent_group(group):
            located[name] = layer_vars(path, group, where)
        elif (n := group_params(group)) > 0:
            untraced.append(Untraced(name, f"weights ({n:,} parameters)"))
    if not located:
        raise FileError(f"{path}: no LSTM, GRU or Bidirectional layer inside")
    layers = _read(path, located, limit)
    notes = (f"{path}: {H5_ASSUMPTIONS}", *_half(path, layers))
    modules, rnns = _own_modules(path, layers, notes)
    modules += _h5_stacks(path, modules, layers, notes)
    return Contents(path, tuple(modules), (*rnns, *untraced))


def _own_modules(
    path: Path, layers: dict[str, KerasLayer], notes: tuple[str, ...]
) -> tuple[list[Module], list[Untraced]]:
    """A module per layer of a file without a config; a SimpleRNN's (one gate) untraced."""
    modules: list[Module] = []
    rnns: list[Untraced] = []
    for name, layer in layers.items():
        gates = gates_of(tuple(np.shape(layer[0]["recurrent_kernel"])), rows_first=False)
        if gates == 1:
            n = sum(int(np.size(v)) for d in layer for v in d.values())
            what = KERAS_NAMES[1] if len(layer) == 1 else f"Bidirectional({KERAS_NAMES[1]})"
            rnns.append(Untraced(name, f"{what} (no gates; {n:,} parameters)"))
            continue
        modules.append(keras_module(path, name, [layer], None, notes))
    return modules, rnns


def _weights_only(path: Path, f: Any, limit: int) -> Contents:
    """tf.keras 2's save_weights('w.h5'): layer groups in layer_names' order, no config.
    Traced layers next to each other (nothing with weights between) also stack."""
    entries = weights_only_layers(f)
    located = {gl.name: legacy_vars(path, f, gl) for gl, rec in entries if rec}
    if not located:
        raise FileError(f"{path}: no LSTM, GRU or Bidirectional layer inside")
    untraced = [
        Untraced(gl.name, f"weights ({n:,} parameters)")
        for gl, rec in entries
        if not rec and (n := legacy_params(f, gl)) > 0
    ]
    layers = _read(path, located, limit)
    notes = (f"{path}: {H5_ASSUMPTIONS}", *_half(path, layers))
    modules, rnns = _own_modules(path, layers, notes)
    traced = {m.name for m in modules}
    runs: list[list[str]] = [[]]
    for gl, _ in entries:
        if gl.name in traced:
            runs[-1].append(gl.name)
        elif gl.name in located or legacy_params(f, gl) > 0:
            runs.append([])  # a layer with weights between: the run ends
    for run in runs:
        if len(run) > 1:
            stack, _ = stack_module(path, run, [layers[n] for n in run], None, notes)
            modules += [stack] if stack is not None else []
    return Contents(path, tuple(modules), (*rnns, *untraced))


def _h5_stacks(
    path: Path, modules: list[Module], layers: dict[str, KerasLayer], notes: tuple[str, ...]
) -> list[Module]:
    """The stacks of a .weights.h5: the groups of one class in one model, by their counter,
    when their sizes chain (the order of groups of different classes is not recorded)."""
    runs: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for module in modules:
        model, _, own = module.name.rpartition("/")
        m = _COUNTED.match(own)
        assert m is not None  # the pattern matches any name
        runs.setdefault((model, m["cls"]), []).append((int(m["n"] or 0), module.name))
    stacks = []
    for run in runs.values():
        if len(run) < 2:
            continue
        names = [name for _, name in sorted(run)]
        stack, _ = stack_module(path, names, [layers[n] for n in names], None, notes)
        if stack is not None:
            stacks.append(stack)
    return stacks
