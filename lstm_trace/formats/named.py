"""Recurrent modules among named tensors: PyTorch's names, a file's own, under any prefix.

A file of named tensors (.npz, .safetensors, .pt, a TorchScript archive flattened) may hold
several recurrent modules, each under its own prefix: 'encoder.lstm.weight_ih_l0' (a
state_dict), 'enc_w_ih' (a file's own names), 'weight_ih' (an nn.LSTMCell). A tensor name is
a prefix (empty, or ending in '.', '_' or '/') and a field:

    weight_ih, w_ih, W_ih, wih     the input weight     (G*H, I)
    weight_hh, w_hh, W_hh, whh     the recurrent weight (G*H, H_out)
    bias_ih, b_ih, B_ih            the input bias       (G*H,)
    bias_hh, b_hh, B_hh            the recurrent bias   (G*H,)
    weight_hr, w_hr, W_hr          the projection       (H_out, H)   (an LSTM's)
    weight_peep, weight_peephole   the peepholes p_i, p_f, p_o: (3H,) or (3, H), that order

each optionally followed by _l<k> (layer k) and _reverse (the backward direction), as
nn.LSTM names them. PyTorch's own cell names (weight_ih without _l<k>) are an nn.LSTMCell or
nn.GRUCell; a file's own names without a layer are a one-layer module. The cell is told by
the recurrent weight's rows over its columns: 4 for an LSTM, 3 for a GRU, 1 for a plain RNN
(named, not traced); with a projection (weight_hr) it is an LSTM.

Module names are the prefixes without their trailing separator ('encoder.lstm', 'enc'); a
module without a prefix is named by its kind ('lstm', 'gru_cell'). Tensors of no module are
untraced. A name map (--names OLD=NEW) renames tensors before any of this.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError, FileError
from ..frameworks import infer_pytorch
from .dtype_policy import refuse_dtype
from .layer_kinds import CELL_OF_GATES, PYTORCH_NAMES, gates_of
from .modules import Contents, Module, Untraced, module_kind, pick_module

_FIELDS = {
    "weight_ih": "weight_ih", "w_ih": "weight_ih", "wih": "weight_ih",
    "weight_hh": "weight_hh", "w_hh": "weight_hh", "whh": "weight_hh",
    "bias_ih": "bias_ih", "b_ih": "bias_ih", "bih": "bias_ih",
    "bias_hh": "bias_hh", "b_hh": "bias_hh", "bhh": "bias_hh",
    "weight_hr": "weight_hr", "w_hr": "weight_hr",
    "weight_peep": "weight_peep", "weight_peephole": "weight_peep", "w_peep": "weight_peep",
}  # fmt: skip
_NAME = re.compile(
    r"^(?P<prefix>(?:.*[._/])?)(?P<field>"
    + "|".join(sorted(_FIELDS, key=len, reverse=True))
    + r")(?:_l(?P<layer>\d+))?(?P<reverse>_reverse)?$",
    re.IGNORECASE,
)
#: PyTorch's exact cell names: an nn.LSTMCell, nn.GRUCell or nn.RNNCell
_CELL_FIELDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def parse(name: str) -> tuple[str, str, bool] | None:
    """(prefix, nn.LSTM's name for the field, is PyTorch's cell name) of a tensor name, or
    None when it names no recurrent field. 'enc_w_ih' -> ('enc_', 'weight_ih_l0', False)."""
    m = _NAME.match(name)
    if m is None:
        return None
    field = _FIELDS[m.group("field").lower()]
    cell = m.group("layer") is None and m.group("field") in _CELL_FIELDS and not m["reverse"]
    layer = m.group("layer") or "0"
    return m.group("prefix"), f"{field}_l{layer}{m.group('reverse') or ''}", cell


def rename(arrays: Mapping[str, NDArray[Any]], names: Mapping[str, str]) -> dict[str, Any]:
    """The arrays with --names' renames applied; a name that is not there, or a new name
    that two tensors would end with (one would be lost), is a usage error."""
    missing = [old for old in names if old not in arrays]
    if missing:
        shown = ", ".join(list(arrays)[:12]) + (" ..." if len(arrays) > 12 else "")
        raise ConfigError(f"--names: no tensor {missing[0]!r} in the file (it has {shown})")
    out: dict[str, Any] = {}
    had: dict[str, str] = {}  # new name -> the tensor that took it
    for k, v in arrays.items():
        new = names.get(k, k)
        if new in had:
            raise ConfigError(
                f"--names: {had[new]!r} and {k!r} would both be named {new!r}; "
                "give each tensor a name of its own"
            )
        had[new], out[new] = k, v
    return out


def pytorch_modules(
    path: Path, arrays: Mapping[str, NDArray[Any]]
) -> tuple[list[Module], list[Untraced], set[str]]:
    """The recurrent modules named the PyTorch way (or a file's own way), the plain RNNs
    among them as untraced, and the tensor names they took."""
    groups: dict[str, dict[str, str]] = {}  # prefix -> {nn.LSTM name: tensor name}
    cells: dict[str, bool] = {}
    for name in arrays:
        parsed = parse(name)
        if parsed is None:
            continue
        prefix, key, cell = parsed
        slot = groups.setdefault(prefix, {})
        if key in slot:
            where = prefix.rstrip("._/") or "the top-level module"
            raise FileError(f"{path}: {slot[key]} and {name} both name {key} of {where}")
        slot[key] = name
        cells[prefix] = cells.get(prefix, True) and cell
    modules: list[Module] = []
    untraced: list[Untraced] = []
    taken: set[str] = set()
    for prefix, keys in groups.items():
        if not any(k.startswith("weight_ih_l0") for k in keys):
            continue  # a bias alone, a stray weight_hr: left to the untraced
        keys.update(_strays(arrays, prefix, keys))
        taken.update(keys.values())
        state = {k: _peepholes(path, v, arrays[v]) if "peep" in k else arrays[v]
                 for k, v in keys.items()}  # fmt: skip
        found = _module(path, prefix, state, cells[prefix], groups)
        if isinstance(found, Untraced):
            untraced.append(found)
        else:
            modules.append(found)
    return modules, untraced, taken


def one_module(state: Mapping[str, NDArray[Any]], name: str | None = None) -> Module:
    """The module of a state_dict in memory: the one named, else its only one."""
    try:
        modules, rnns, _ = pytorch_modules(Path("the state_dict"), state)
        if not modules and not rnns:
            raise ConfigError(
                "no PyTorch LSTM or GRU weights found (no key weight_ih_l0 or "
                "<module>.weight_ih_l0)"
            )
        contents = Contents(Path("the state_dict"), tuple(modules), tuple(rnns))
        return pick_module(contents, name, how="module=NAME")
    except FileError as exc:  # a state_dict in memory is the caller's argument, not a file
        raise ConfigError(exc.message) from None


def _strays(arrays: Mapping[str, Any], prefix: str, keys: dict[str, str]) -> dict[str, str]:
    """Other tensors directly under a state_dict prefix ('encoder.lstm.extra'): the module's,
    and refused with it (an nn.LSTM has no such tensor)."""
    if not prefix.endswith(".") and prefix:
        return {}
    own = set(keys.values())
    return {
        k[len(prefix) :]: k
        for k in arrays
        if k.startswith(prefix) and "." not in k[len(prefix) :] and k not in own
        and parse(k) is None
    }  # fmt: skip


def _peepholes(path: Path, name: str, value: NDArray[Any]) -> NDArray[Any]:
    """Peepholes as (3H,), from (3H,) or (3, H)."""
    a = np.asarray(value)
    if a.ndim == 2 and a.shape[0] == 3:
        return a.reshape(-1)
    if a.ndim != 1 or a.size % 3:
        raise FileError(f"{path}: {name}: peepholes are (3*hidden,) or (3, hidden), got {a.shape}")
    return a


def module_name(prefix: str, kind: str, prefixes: Mapping[str, Any]) -> str:
    """'encoder.lstm' of 'encoder.lstm.'; a module at the top is named by its kind."""
    name = prefix.rstrip("._/")
    if name:
        return name
    return kind if kind.rstrip("._/") + "." not in prefixes else "(top level)"


def _module(
    path: Path, prefix: str, state: dict[str, Any], cell: bool, groups: Mapping[str, Any]
) -> Module | Untraced:
    hh = next((state[k] for k in ("weight_hh_l0", "weight_hh_l0_reverse") if k in state), None)
    projected = any(k.startswith("weight_hr") for k in state)
    gates = 4 if hh is None else gates_of(tuple(np.shape(hh)), True, projected)
    kind_name = CELL_OF_GATES.get(gates, "lstm")  # a damaged LSTM's shapes are refused below
    if gates == 1:
        params = sum(int(np.size(v)) for v in state.values())
        what = PYTORCH_NAMES[1] + ("Cell" if cell else "")
        name = module_name(prefix, "rnn_cell" if cell else "rnn", groups)
        return Untraced(name, f"{what} (no gates; {params:,} parameters)")
    for key, value in state.items():
        if not np.issubdtype(np.asarray(value).dtype, np.floating):
            raise refuse_dtype(path, prefix + key, str(np.asarray(value).dtype))
    try:
        arch = infer_pytorch(state, kind_name)
    except ConfigError as exc:
        where = prefix.rstrip("._/")
        raise FileError(f"{path}: {where + ': ' if where else ''}{exc.message}") from None
    kind = module_kind(arch, cell)
    notes: tuple[str, ...] = ()
    if cell:
        where = prefix.rstrip("._/") or "the state_dict"
        notes = (
            f"{path}: {where} is an nn.{arch.cell.upper()}Cell, "
            f"read as a one-layer unidirectional nn.{arch.cell.upper()} (the same step, over "
            "the whole sequence)",
        )
    return Module(
        name=module_name(prefix, kind, groups),
        kind=kind,
        framework="pytorch",
        architecture=arch,
        pytorch=state,
        notes=notes,
        stored_dtype=arch.dtype,
    )
