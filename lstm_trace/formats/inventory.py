"""What `lstm-trace inspect` says of a file: every module, one row each, then the rest.

A row: name, kind (lstm, lstm_cell, peephole_lstm, gru, gru_cell), framework, input and
hidden sizes, layers, direction, projection, bias, reset_after (a GRU's, else None), dtype as
stored, parameter counts per framework (None where that framework has no such layer, as the
trace's param_count), a stacked module's parts, a Keras Bidirectional's merge_mode and the
initial states the file holds. The document:

    {"file": ..., "modules": [{"name": ..., "kind": ..., ...}], "untraced": [{"name", "what"}]}
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..cells import cell_of
from ..weights import param_count
from .modules import Contents, Module, default_module


def module_row(module: Module) -> dict[str, Any]:
    """One module as inspect lists it (JSON-ready)."""
    arch = module.architecture
    config = arch.config()
    counts = asdict(param_count(config))
    has_reset = "reset_after" in cell_of(arch.cell).options
    return {
        "name": module.name,
        "kind": module.kind,
        "framework": module.framework,
        "input_size": arch.input_size,
        "hidden_size": arch.hidden_size,
        "num_layers": arch.num_layers,
        "direction": arch.direction,
        "proj_size": arch.proj_size,
        "bias": arch.bias,
        "reset_after": arch.reset_after if has_reset else None,
        "dtype": module.stored_dtype or arch.dtype,
        "param_count": counts,
        "parts": list(module.parts),
        "merge_mode": _merge_mode(module),
        "initial_states": sorted(module.initial),
    }


def _merge_mode(module: Module) -> str | None:
    """A Keras Bidirectional's merge_mode ('concat', 'sum', 'ave', 'mul', 'none'); None for
    a module of one direction or of a file that does not say."""
    if module.architecture.direction != "bi" or module.keras_config is None:
        return None
    mode = module.keras_config.get("merge_mode", "concat")
    return "none" if mode is None else str(mode)


def inventory(contents: Contents) -> dict[str, Any]:
    """The whole listing of a file: its modules, which is traced by default, the rest."""
    chosen = default_module(contents)
    return {
        "file": str(contents.path),
        "modules": [module_row(m) for m in contents.modules],
        "default": None if chosen is None else chosen.name,
        "untraced": [{"name": u.name, "what": u.what} for u in contents.untraced],
    }
