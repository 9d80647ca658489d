"""Trace records: what a hook point held at one layer, direction and step, summarised.

Two ways to make them, into the same RecordTable: Recorder, a hook that summarises each value
it is shown (used when the user's own hooks run, since they may replace values), and
BlockRecorder, which slices every hook point out of the blocks forward() hands to on_block and
summarises each over all of a block's selected steps at once (the fast path: a full trace
costs array operations per block, not Python per tensor).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from . import summary
from .cell import HOOK_POINTS, HookEvent, StepBlock
from .config import LSTMConfig
from .weights import DIRECTIONS, FloatArray


@functools.lru_cache(maxsize=256)
def symbol_and_equation(
    name: str, layer: int, direction: str, config: LSTMConfig
) -> tuple[str, str]:
    """The walkthrough's symbol and equation for a hook point; backward reads state from t+1."""
    prev = "t+1" if direction == "backward" else "t-1"
    if name == "x":
        if layer == 0:
            return "x_t", "input at step t"
        below = "[forward h_t, backward h_t]" if config.bidirectional else "h_t"
        return "x_t", f"{below} of layer {layer - 1}"
    table = {
        "h_prev": (f"h_({prev})", f"h_t of step {prev}; zeros (or h0) at first"),
        "c_prev": (f"C_({prev})", f"C_t of step {prev}; zeros (or c0) at first"),
        "concat": ("X", f"[h_({prev}), x_t]"),
        "forget_gate": ("f_t", "sigmoid(W_f X + b_f)"),
        "input_gate": ("i_t", "sigmoid(W_i X + b_i)"),
        "candidate": ("C~_t", "tanh(W_c X + b_c)"),
        "cell_state": ("C_t", f"f_t * C_({prev}) + i_t * C~_t"),
        "output_gate": ("o_t", "sigmoid(W_o X + b_o)"),
        "hidden_state": (
            "h_t",
            "W_hr (o_t * tanh(C_t))" if config.proj_size else "o_t * tanh(C_t)",
        ),
    }
    return table[name]


@dataclass(frozen=True)
class TensorRecord:
    """One hook point at one layer, direction and step, summarised."""

    name: str
    symbol: str
    layer: int
    direction: str
    step: int
    shape: tuple[int, ...]
    dtype: str
    equation: str
    sample: list[float | None]
    stats: summary.Stats
    #: for display only: 'nan', 'inf' or '-inf' where a sample is None (see summary.marks)
    marks: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "symbol": self.symbol,
            "layer": self.layer,
            "direction": self.direction,
            "step": self.step,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "equation": self.equation,
            "sample": self.sample,
            "stats": self.stats.to_dict(),
        }

    @property
    def sort_key(self) -> tuple[int, int, int, int]:
        return (
            self.layer,
            DIRECTIONS.index(self.direction),
            self.step,
            HOOK_POINTS.index(self.name),
        )


def point_size(name: str, layer: int, config: LSTMConfig) -> int:
    """The size n of a hook point's value, (n,) unbatched: I_k for x, H_out + I_k for concat,
    H_out for h_prev and hidden_state, H for C and the gates."""
    i = config.layer_input_size(layer)
    sizes = {
        "x": i,
        "concat": config.h_out + i,
        "h_prev": config.h_out,
        "hidden_state": config.h_out,
    }
    return sizes.get(name, config.hidden_size)


#: gate columns of a StepBlock's gates, [i, f, g, o]
_GATE_COLUMNS = {"input_gate": 0, "forget_gate": 1, "candidate": 2, "output_gate": 3}


@dataclass(frozen=True)
class _Window:
    """Rows of a RecordTable as Python values, made at once (summary.to_floats)."""

    start: int
    keys: list[list[int]]  # per row: layer, direction index, step, hook point index
    stats: list[list[float | None]]  # per row: min, max, mean, std
    counts: list[list[int]]  # per row: nan, inf
    samples: list[float | None]  # rows of k, flattened
    raw: FloatArray  # the samples (rows, k), for summary.marks


class RecordTable(Sequence[TensorRecord]):
    """Records kept as columns and made into TensorRecords when read, sorted as a Trace's.

    A full trace of a long sequence is then a few arrays (about 100 bytes a record), not an
    object per tensor; the numbers were all computed when the table was filled. Reading
    turns a window of rows at a time into Python numbers, which is where most of a record's
    cost was: records are mostly read in order, and the rows of one direction's steps lie
    together."""

    #: numbers (4 stats and the samples a row) made into Python floats at a time: 4096 rows
    #: with the default 4 samples, and a few MB of temporaries with any --samples
    WINDOW_NUMBERS = 1 << 15

    def __init__(self, config: LSTMConfig, samples: int) -> None:
        self.config, self.samples = config, samples
        self._chunks: list[tuple[npt.NDArray[np.int64], summary.StatsRows, FloatArray]] = []
        self._order: npt.NDArray[np.intp] | None = None  # sorted position -> row
        self._count = 0
        self._window: _Window | None = None
        self._last = -2  # the row read last

    def add(
        self, keys: npt.NDArray[np.int64], stats: summary.StatsRows, samples: FloatArray
    ) -> None:
        """keys (n, 4): layer, direction index, step, hook point index; samples (n, k)."""
        self._chunks.append((keys, stats, samples))
        self._count += len(keys)
        self._order = None

    def _columns(self) -> None:
        """Joins what was added into one set of columns and sorts it, once per change."""
        if self._order is not None:
            return
        if len(self._chunks) > 1:
            keys = np.concatenate([k for k, _, _ in self._chunks])
            stats = summary.StatsRows.join([s for _, s, _ in self._chunks])
            self._chunks = [(keys, stats, np.concatenate([v for _, _, v in self._chunks]))]
        keys = self._chunks[0][0] if self._chunks else np.empty((0, 4), dtype=np.int64)
        self._order = np.lexsort(keys.T[::-1])  # by layer, direction, step, point
        self._window = None

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> TensorRecord: ...

    @overload
    def __getitem__(self, index: slice) -> list[TensorRecord]: ...

    def __getitem__(self, index: int | slice) -> TensorRecord | list[TensorRecord]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        self._columns()
        assert self._order is not None
        row = int(self._order[index])
        return self.record(row)

    def record(self, row: int) -> TensorRecord:
        """The row-th record added (in the order added; negative rows count from the end)."""
        self._columns()
        row = range(self._count)[row]  # IndexError past either end
        w = self._rows(row)
        j, cfg, k = row - w.start, self.config, self.samples
        layer, d, step, point = w.keys[j]
        name, direction = HOOK_POINTS[point], DIRECTIONS[d]
        symbol, equation = symbol_and_equation(name, layer, direction, cfg)
        n = point_size(name, layer, cfg)
        shown = min(k, (cfg.batch or 1) * n)  # the padding of a short tensor is not a sample
        sample = w.samples[j * k : j * k + shown]
        low, high, mean, std = w.stats[j]
        nan, inf = w.counts[j]
        return TensorRecord(
            name=name,
            symbol=symbol,
            layer=layer,
            direction=direction,
            step=step,
            shape=(n,) if cfg.batch is None else (cfg.batch, n),
            dtype=cfg.dtype,
            equation=equation,
            sample=sample,
            stats=summary.Stats(low, high, mean, std, nan, inf),
            marks=() if None not in sample else summary.marks(w.raw[j], shown),
        )

    def _rows(self, row: int) -> _Window:
        """The window of rows holding `row`, made once while reads stay in it: a whole window
        when reads go row by row (up or down), the row alone when they jump about."""
        w, last, self._last = self._window, self._last, row
        if w is not None and w.start <= row < w.start + len(w.keys):
            return w
        size = max(1, self.WINDOW_NUMBERS // (4 + self.samples)) if abs(row - last) == 1 else 1
        start = row - row % size
        rows = slice(start, start + size)
        keys, stats, samples = self._chunks[0]
        dtype = np.dtype(self.config.dtype)
        floats = np.stack([stats.min[rows], stats.max[rows], stats.mean[rows], stats.std[rows]], 1)
        raw = samples[rows].astype(dtype)
        # one call for all of the window's numbers (float32 samples go through float64 exactly)
        numbers = summary.to_floats(np.concatenate([floats.ravel(), raw.ravel()]), dtype)
        n = 4 * len(floats)
        self._window = w = _Window(
            start=start,
            keys=keys[rows].tolist(),
            stats=[numbers[i : i + 4] for i in range(0, n, 4)],
            counts=np.stack([stats.nan[rows], stats.inf[rows]], 1).tolist(),
            samples=numbers[n:],
            raw=raw,
        )
        return w

    def records_from(self, first: int) -> Iterator[TensorRecord]:
        """The records added from the first-th on, in the order added."""
        self._columns()
        for row in range(first, len(self)):
            yield self.record(row)


#: BlockRecorder summarises this many numbers of hook-point values at a time (8 MB in float64)
RECORD_CHUNK = 1 << 20


class _Keeper:
    """What both recorders share: the selected steps, a RecordTable that keeps the records
    (or a sink that receives them as they come), and full copies of the values if asked."""

    def __init__(
        self,
        config: LSTMConfig,
        samples: int,
        steps: Sequence[int],
        keep_values: bool = False,
        sink: Callable[[TensorRecord], None] | None = None,
    ) -> None:
        self.config, self.samples, self.sink = config, samples, sink
        self.selected = np.zeros(config.seq_len, dtype=bool)
        self.selected[list(steps)] = True
        self.table = RecordTable(config, samples)
        #: full copies of the values, by (name, layer, direction, step), when asked for.
        self.values: dict[tuple[str, int, str, int], FloatArray] | None = (
            {} if keep_values else None
        )

    def _keep(
        self, keys: npt.NDArray[np.int64], stats: summary.StatsRows, samples: FloatArray
    ) -> None:
        """Adds records (keys (n, 4), samples (n, k)); streamed ones go to the sink at once."""
        start = len(self.table)
        self.table.add(keys, stats, samples)
        if self.sink is not None:
            for record in self.table.records_from(start):
                self.sink(record)
            self.table = RecordTable(self.config, self.samples)  # streamed: nothing kept


class Recorder(_Keeper):
    """A hook that summarises every value it is shown at the selected steps; it never
    replaces. Used when the user's own hooks run, since they may replace values."""

    def __call__(self, event: HookEvent) -> None:
        if not self.selected[event.step]:
            return
        value = event.value
        if self.values is not None:
            self.values[(event.name, event.layer, event.direction, event.step)] = value.copy()
        keys = np.array(
            [[event.layer, DIRECTIONS.index(event.direction), event.step,
              HOOK_POINTS.index(event.name)]],
            dtype=np.int64,
        )  # fmt: skip
        flat = value.reshape(1, -1)
        samples = np.full((1, self.samples), np.nan)
        samples[0, : min(self.samples, flat.shape[1])] = flat[0, : self.samples]
        self._keep(keys, summary.stats_rows(flat), samples)


class BlockRecorder(_Keeper):
    """Records every hook point at the selected steps from the blocks forward() hands to
    on_block, without hooks: the values are sliced out of each block and summarised a hook
    point at a time over all the block's selected steps (summary.stats_rows), so a full trace
    costs a few array operations per block rather than Python per tensor. The records equal
    Recorder's to the last bit (tests/test_records.py)."""

    def __call__(self, block: StepBlock) -> None:
        visiting = _step_array(block.steps)
        steps = visiting[self.selected[visiting]]  # visiting order
        # a few steps at a time: the values of every hook point, in float64 for the sums,
        # would otherwise take several times the block's own memory
        width = sum(point_size(name, block.layer, self.config) for name in HOOK_POINTS)
        chunk = max(1, RECORD_CHUNK // ((self.config.batch or 1) * width))
        first = int(visiting.min())  # the step of the block's first row
        for start in range(0, len(steps), chunk):
            self._record(block, steps[start : start + chunk], steps[start : start + chunk] - first)

    def _record(
        self, block: StepBlock, steps: npt.NDArray[np.int64], rows: npt.NDArray[np.int64]
    ) -> None:
        """Records for `steps` (visiting order), which are these `rows` of the block."""
        d = DIRECTIONS.index(block.direction)
        before = rows - 1 if d == 0 else rows + 1  # the row of the step visited before
        values = self._values(block, rows, before)
        r, p = len(rows), len(HOOK_POINTS)
        flat = [values[name].reshape(r, -1) for name in HOOK_POINTS]
        # When the steps follow one another (a full trace, a range), h_prev and c_prev at a
        # step are hidden_state and cell_state at the one before: their stats are those rows'
        # again, bit for bit, but for the first step's.
        follows = r > 1 and np.array_equal(before[1:], rows[:-1])
        per_point = [
            summary.stats_rows(v[:1] if follows and name in _PREVIOUS else v)
            for name, v in zip(HOOK_POINTS, flat, strict=True)
        ]
        if follows:
            for prev, current in _PREVIOUS.items():
                first, rest = (per_point[HOOK_POINTS.index(n)] for n in (prev, current))
                per_point[HOOK_POINTS.index(prev)] = summary.StatsRows.join([first, rest[:-1]])
        # record j = step j // p, point j % p: the order the hooks would have fired in
        stats = summary.StatsRows.join(per_point, interleave=True)
        k = self.samples
        samples = np.full((r, p, k), np.nan)
        for j, v in enumerate(flat):
            taken = v[:, :k]
            samples[:, j, : taken.shape[1]] = taken
        keys = np.empty((r, p, 4), dtype=np.int64)
        keys[..., 0], keys[..., 1] = block.layer, d
        keys[..., 2] = steps[:, None]
        keys[..., 3] = np.arange(p)
        if self.values is not None:
            for name, v in values.items():
                for step, value in zip(steps, v, strict=True):
                    kept = value[0] if self.config.batch is None else value
                    self.values[(name, block.layer, block.direction, int(step))] = kept.copy()
        self._keep(keys.reshape(-1, 4), stats, samples.reshape(r * p, k))

    def _values(
        self, block: StepBlock, rows: npt.NDArray[np.int64], before: npt.NDArray[np.int64]
    ) -> dict[str, FloatArray]:
        """Each hook point's values at the given block rows, (r, B, n); `before` holds the
        rows of the steps visited just before them (outside the block: h_before, c_before)."""
        c = len(block.steps)
        outside = (before < 0) | (before >= c)
        at = np.clip(before, 0, c - 1)
        h_prev, c_prev = block.hidden[at], block.cells[at]
        h_prev[outside], c_prev[outside] = block.h_before, block.c_before
        taken = _rows_index(rows)
        x = block.x[taken]
        hs = block.cells.shape[-1]
        gates = block.gates[taken]
        out = {
            "x": x,
            "h_prev": h_prev,
            "c_prev": c_prev,
            "concat": np.concatenate([h_prev, x], axis=-1),
            "cell_state": block.cells[taken],
            "hidden_state": block.hidden[taken],
        }
        for name, g in _GATE_COLUMNS.items():
            out[name] = gates[..., g * hs : (g + 1) * hs]
        return out


def _step_array(steps: Sequence[int]) -> npt.NDArray[np.int64]:
    """steps as an array; forward() hands over a range, made without a Python int per step
    (np.asarray of a range of 15,000 steps takes 0.5 ms, np.arange 5 us)."""
    if isinstance(steps, range):
        return np.arange(steps.start, steps.stop, steps.step, dtype=np.int64)
    return np.asarray(steps, dtype=np.int64)


#: hook points whose value is another's at the step visited before
_PREVIOUS = {"h_prev": "hidden_state", "c_prev": "cell_state"}


def _rows_index(rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64] | slice:
    """rows as a slice when they run one by one up or down (a view, not a copy)."""
    if len(rows) < 2 or abs(int(rows[1] - rows[0])) != 1:
        return rows
    step = int(rows[1] - rows[0])
    if not np.array_equal(np.diff(rows), np.full(len(rows) - 1, step)):
        return rows
    stop = int(rows[-1]) + step
    return slice(int(rows[0]), None if stop < 0 else stop, step)
