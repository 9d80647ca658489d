"""The cells lstm-trace traces, one module each: what is specific to a recurrence (its gates,
states, hook points, equations, weights and counts, and its step arithmetic), described once.
base.py says what a cell describes; ARCHITECTURE.md says how to add one."""

from __future__ import annotations

from ..errors import ConfigError
from .base import Cell, Gate, ParamCount
from .gru import GRU
from .lstm import LSTM

#: every cell, by config.cell's name
CELLS: dict[str, Cell] = {cell.name: cell for cell in (LSTM, GRU)}


def cell_of(name: str) -> Cell:
    """The cell called name ('lstm' or 'gru'); ConfigError for any other."""
    try:
        return CELLS[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"cell must be one of {', '.join(CELLS)}, got {name!r}", option="cell"
        ) from None


__all__ = ["CELLS", "GRU", "LSTM", "Cell", "Gate", "ParamCount", "cell_of"]
