"""Every gate and state over time, for heatmaps: means over row groups of steps, batch row 0.

StateMaps keeps, for each layer and direction, the cell's gate activations (cell.report_order:
the LSTM's f, i, g, o, the GRU's r, z, n), the hidden state h_t and the cell's own per-step
state (the LSTM's C_t), each as a (rows, n) matrix of means: row r is
the mean of steps [r*T/rows, (r+1)*T/rows) (with T <= rows, one row per step), so even a very
long sequence needs only rows x n numbers. It is fed as the pass runs: gates by the block
observer, states by on_block (the plain loop) or by a hook (when a user's hooks run, so the
maps show what they replaced).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from .cell import HookEvent, StepBlock
from .cells.base import FloatArray
from .config import LSTMConfig

#: rows a map keeps by default: the explorer's heatmaps are drawn one row per pixel line
MAP_ROWS = 500

#: numbers of a block copied to float64 at a time when steps are averaged (2 MB)
_COPY_NUMBERS = 1 << 18

#: numbers the maps of an automatic trace may hold (8 bytes each): beyond, rows are fewer
AUTO_BUDGET = 1 << 21


def state_names(config: LSTMConfig) -> tuple[str, ...]:
    """The states a map is kept of: hidden_state, then the cell's own per-step values."""
    return ("hidden_state", "cell_state") if config.kind.carried else ("hidden_state",)


def map_columns(config: LSTMConfig) -> int:
    """The numbers one row of every map of every layer and direction holds."""
    gates = len(config.kind.report_order) * config.hidden_size
    states = config.h_out + (config.hidden_size if config.kind.carried else 0)
    return (gates + states) * config.num_layers * config.num_directions


def auto_rows(config: LSTMConfig, rows: int = MAP_ROWS, budget: int = AUTO_BUDGET) -> int:
    """Rows of the maps an automatic trace keeps: one per step when T <= rows and that fits
    budget numbers (a copy of each block costs the pass next to nothing), else none (0):
    averaging steps into rows costs a long pass a measurable share, so it is asked for."""
    fits = config.seq_len <= rows and config.seq_len * map_columns(config) <= budget
    return config.seq_len if fits else 0


class StateMaps:
    """Means of every gate and state of every layer and direction, (rows, n) each.

    Kept as one (rows, G*H + H_out [+ H]) array per layer and direction: the gates in
    PyTorch's order as the pass gives them, then h_t, then the LSTM's C_t."""

    def __init__(self, config: LSTMConfig, rows: int = MAP_ROWS) -> None:
        if rows < 1:
            raise ValueError(f"rows must be >= 1, got {rows}")
        self.config, self.seq_len = config, config.seq_len
        self.rows = min(config.seq_len, rows)
        self.gates = config.kind.report_order
        self.states = state_names(config)
        h, gates = config.hidden_size, len(self.gates) * config.hidden_size
        self._columns = {g: (config.kind.gate_index(g) * h, h) for g in self.gates}
        self._columns["hidden_state"] = (gates, config.h_out)
        self._columns["cell_state"] = (gates + config.h_out, h)
        width = map_columns(config) // (config.num_layers * config.num_directions)
        keys = [(k, d) for k in range(config.num_layers) for d in config.directions]
        self.sums = {key: np.zeros((self.rows, width)) for key in keys}
        self.counts = {key: np.zeros(self.rows) for key in keys}

    @property
    def tensors(self) -> tuple[str, ...]:
        """The names kept: the gates in report order, then the states."""
        return (*self.gates, *self.states)

    def observe(self, layer: int, direction: str, steps: Sequence[int], block: FloatArray) -> None:
        """A BlockObserver: a block's gate activations (c, B, G*H), rows in time order. The
        rows' counts are kept here: every step's gates arrive once."""
        first = min(steps[0], steps[-1])  # visiting order runs one way or the other
        values = block[:, 0]
        self._add((layer, direction), first, 0, values)
        if self.rows == self.seq_len:  # a row per step: a slice of distinct rows
            self.counts[(layer, direction)][first : first + len(values)] += 1
            return
        np.add.at(self.counts[(layer, direction)], self._row_of(first, len(values)), 1)

    def on_block(self, block: StepBlock) -> None:
        """The plain loop's blocks: h_t and the cell's own states."""
        first = min(block.steps[0], block.steps[-1])
        for name in self.states:
            values = block.hidden if name == "hidden_state" else block.extra[name]
            self._add((block.layer, block.direction), first, self._columns[name][0], values[:, 0])

    def hook(self, event: HookEvent) -> None:
        """A hook, after the user's: the states as the hooked step made them."""
        if event.name in self.states:
            value = event.value if event.value.ndim == 1 else event.value[0]
            start = self._columns[event.name][0]
            self._add((event.layer, event.direction), event.step, start, value[None])

    def _row_of(self, first: int, c: int) -> NDArray[np.int64]:
        return (np.arange(first, first + c) * self.rows) // self.seq_len

    def _add(self, key: tuple[int, str], first: int, column: int, values: FloatArray) -> None:
        """values (c, n) of steps first .. first + c - 1 into their rows, from column on."""
        c, n = values.shape
        sums = self.sums[key][:, column : column + n]
        if self.rows == self.seq_len:  # one row per step: a copy
            sums[first : first + c] += values
            return
        # a slice of steps at a time, so that the float64 copy stays small (a group of steps
        # split between two slices adds into its row twice, which is the same sum)
        per = max(1, _COPY_NUMBERS // max(n, 1))
        for s in range(0, c, per):
            part = values[s : s + per]
            rows = self._row_of(first + s, len(part))
            starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
            # along the last axis of a contiguous copy, reduceat is several times faster
            wide = np.ascontiguousarray(part.T, dtype=np.float64)
            sums[rows[starts]] += np.add.reduceat(wide, starts, axis=1).T

    def matrix(self, name: str, layer: int = 0, direction: str = "forward") -> FloatArray:
        """(rows, n) means of name at layer and direction; NaN where a value was NaN."""
        key = (layer, direction)
        if key not in self.sums or name not in self.tensors:
            raise KeyError(f"no map of {name} at layer {layer}, {direction}")
        start, n = self._columns[name]
        with np.errstate(invalid="ignore"):
            return self.sums[key][:, start : start + n] / np.maximum(self.counts[key], 1)[:, None]

    def first_steps(self) -> list[int]:
        """The first step averaged into each row."""
        return [-(-r * self.seq_len // self.rows) for r in range(self.rows)]

    def rule(self) -> str:
        """How steps became rows, in words."""
        return rows_rule(self.first_steps(), self.seq_len)


def rows_rule(first_steps: list[int], seq_len: int) -> str:
    """In words, how seq_len steps became rows starting at first_steps (each the mean of the
    steps up to the next row's first)."""
    if len(first_steps) == seq_len:
        return f"one row per step (T = {seq_len})"
    sizes = np.diff([*first_steps, seq_len])
    low, high = int(sizes.min()), int(sizes.max())
    each = f"{low}" if low == high else f"{low} or {high}"
    return (
        f"each row is the mean of {each} consecutive steps "
        f"(T = {seq_len} in {len(first_steps)} rows)"
    )
