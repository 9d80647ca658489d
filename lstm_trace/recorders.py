"""Capturing trace records: the two ways to make them, into the same RecordTable (records.py).

Recorder is a hook that summarises each value it is shown (used when the user's own hooks run,
since they may replace values). BlockRecorder slices every hook point out of the blocks
forward() hands to on_block and summarises each over all of a block's selected steps at once
(the fast path: a full trace costs array operations per block, not Python per tensor). Both
give the same records, to the last bit.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from . import summary
from .cell import HookEvent, StepBlock
from .cells import Cell, kernel
from .cells.base import FloatArray
from .config import LSTMConfig
from .records import RecordBatches, RecordTable, TensorRecord, point_size
from .weights import DIRECTIONS

#: BlockRecorder summarises this many numbers of hook-point values at a time (8 MB in float64)
RECORD_CHUNK = 1 << 20
#: this many steps of a block, or fewer, that do not follow one another are summarised from
#: views of the block's rows (Cell.row_values) rather than copies of them
FEW_STEPS = 4


class _Keeper:
    """What both recorders share: the selected steps, a RecordTable that keeps the records
    (or a sink that receives them as they come), and full copies of the values if asked."""

    def __init__(
        self,
        config: LSTMConfig,
        samples: int,
        steps: Sequence[int],
        keep_values: bool = False,
        sink: Callable[[TensorRecord], None] | RecordBatches | None = None,
    ) -> None:
        self.config, self.samples, self.sink = config, samples, sink
        self.points = config.kind.hook_points  # the cell's, in firing order
        # a few steps (the default's): made once per shape; a long selection each time, so
        # that no cache keeps a million steps' arrays after its trace
        select = _selection if len(steps) <= 64 else _selection.__wrapped__
        self.selected, self.chosen, self._sorted = select(config.seq_len, tuple(steps))
        self.table = RecordTable(config, samples)
        #: full copies of the values, by (name, layer, direction, step), when asked for.
        self.values: dict[tuple[str, int, str, int], FloatArray] | None = (
            {} if keep_values else None
        )

    def _keep(
        self, keys: npt.NDArray[np.int64], stats: summary.StatsRows, samples: FloatArray
    ) -> None:
        """Adds records (keys (n, 4), samples (n, k)); streamed ones go to the sink at once."""
        self.table.add(keys, stats, samples)
        if isinstance(self.sink, RecordBatches):
            self.sink.receive(self.table)
        elif self.sink is not None:
            for record in self.table.in_added_order():
                self.sink(record)
        if self.sink is not None:
            self.table = RecordTable(self.config, self.samples)  # streamed: nothing kept


class Recorder(_Keeper):
    """A hook that summarises every value it is shown at the selected steps; it never
    replaces. Used when the user's own hooks run, since they may replace values. A step's
    records are kept together when its last hook point has fired: a table (and, streamed, a
    window of Python numbers) per step rather than per record."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._step: list[tuple[npt.NDArray[np.int64], summary.StatsRows, FloatArray]] = []

    def __call__(self, event: HookEvent) -> None:
        if not self.selected[event.step]:
            return
        value = event.value
        if self.values is not None:
            self.values[(event.name, event.layer, event.direction, event.step)] = value.copy()
        keys = np.array(
            [[event.layer, DIRECTIONS.index(event.direction), event.step,
              self.points.index(event.name)]],
            dtype=np.int64,
        )  # fmt: skip
        flat = value.reshape(1, -1)
        samples = np.full((1, self.samples), np.nan)
        samples[0, : min(self.samples, flat.shape[1])] = flat[0, : self.samples]
        self._step.append((keys, summary.stats_rows(flat), samples))
        if event.name == self.points[-1]:  # the step is complete
            parts, self._step = self._step, []
            self._keep(
                np.concatenate([k for k, _, _ in parts]),
                summary.StatsRows.join([s for _, s, _ in parts]),
                np.concatenate([v for _, _, v in parts]),
            )


class BlockRecorder(_Keeper):
    """Records every hook point at the selected steps from the blocks forward() hands to
    on_block, without hooks: the values are sliced out of each block and summarised a hook
    point at a time over all the block's selected steps (summary.stats_rows), so a full trace
    costs a few array operations per block rather than Python per tensor. The records equal
    Recorder's to the last bit (tests/test_records.py)."""

    #: the compiled kernel, for stats(), where it is loaded: read at the first block (one
    #: recorder a pass; the pass has loaded the kernel by then if it uses it)
    kernel: ModuleType | None

    def __call__(self, block: StepBlock) -> None:
        if not hasattr(self, "kernel"):
            self.kernel = kernel.loaded()
        steps, first = self._chosen_in(block.steps)  # visiting order; the first row's step
        # a few steps at a time: the values of every hook point, in float64 for the sums,
        # would otherwise take several times the block's own memory
        chunk = max(
            1, RECORD_CHUNK // ((self.config.batch or 1) * _step_width(self.config, block.layer))
        )
        for start in range(0, len(steps), chunk):
            self._record(block, steps[start : start + chunk], steps[start : start + chunk] - first)

    def _chosen_in(self, steps: Sequence[int]) -> tuple[npt.NDArray[np.int64], int]:
        """The selected steps of a block's (visiting order), and the step of its first row
        (time order). A block's steps are a range: a slice of the sorted selection."""
        if not (isinstance(steps, range) and abs(steps.step) == 1 and len(steps)):
            visiting = _step_array(steps)
            return visiting[self.selected[visiting]], int(visiting.min())
        first, last = sorted((steps[0], steps[-1]))
        a, b = bisect.bisect_left(self._sorted, first), bisect.bisect_right(self._sorted, last)
        chosen = self.chosen[a:b]
        return (chosen if steps.step > 0 else chosen[::-1]), first

    def _record(
        self, block: StepBlock, steps: npt.NDArray[np.int64], rows: npt.NDArray[np.int64]
    ) -> None:
        """Records for `steps` (visiting order), which are these `rows` of the block."""
        d = DIRECTIONS.index(block.direction)
        before = rows - 1 if d == 0 else rows + 1  # the row of the step visited before
        (stats, samples), values = self._summaries(block, rows, before)
        r, p = len(rows), len(self.points)
        if r <= FEW_STEPS:  # (r, p, 4): a default trace's few steps, made once per shape
            keys = _keys(block.layer, d, p, tuple(steps.tolist()))
        else:
            keys = np.repeat(_keys(block.layer, d, p, (0,)), r, axis=0)
            keys[..., 2] = steps[:, None]
        if self.values is not None and values is not None:
            for name, v in values.items():
                for step, value in zip(steps, v, strict=True):
                    kept = value[0] if self.config.batch is None else value
                    self.values[(name, block.layer, block.direction, int(step))] = kept.copy()
        self._keep(keys.reshape(-1, 4), stats, samples)

    def _summaries(
        self, block: StepBlock, rows: npt.NDArray[np.int64], before: npt.NDArray[np.int64]
    ) -> tuple[tuple[summary.StatsRows, FloatArray], dict[str, FloatArray] | None]:
        """The stats and samples of every hook point at these rows (record j: step j // p,
        point j % p, the order the hooks would have fired in), and the values they were read
        from (None when read from views): a few rows apart from views of them, in one kernel
        call; else copies of them (block_values) through the kernel, or NumPy."""
        taken = _rows_index(rows)
        cell, points, k = self.config.kind, self.points, self.samples
        r = len(rows)
        # When the steps follow one another (a full trace, a range; in visiting order, so up
        # going forward and down going backward), h_prev (and the LSTM's C_(t-1)) at a step
        # are hidden_state (C_t) at the one before: their stats are those rows' again,
        # bit for bit, but for the first step's.
        follows = isinstance(taken, slice)
        pairs = _previous_points(cell) if follows else ()
        if r <= FEW_STEPS and not follows and self.values is None:
            # a few steps apart (the default trace's first and last): each step's points as
            # views of the block, in the records' order
            views = [v for a, b in zip(rows.tolist(), before.tolist(), strict=True)
                     for v in cell.row_values(block, a, b)]  # fmt: skip
            compiled = _compiled_stats(self.kernel, views, 1, (), k)
            if compiled is not None:
                return compiled, None
        values = cell.block_values(block, taken, before)
        # the kernel reads each point's (r, B, n) rows as they are
        compiled = _compiled_stats(self.kernel, _summarised([values[n] for n in points], cell,
                                   follows), r, pairs, k)  # fmt: skip
        if compiled is not None:
            return compiled, values
        flat = [values[name].reshape(r, -1) for name in points]
        per_point = _point_stats(_summarised(flat, cell, follows))
        for prev, current in pairs:
            first, rest = per_point[prev], per_point[current]
            per_point[prev] = summary.StatsRows.join([first, rest[:-1]])
        return (summary.StatsRows.join(per_point, interleave=True), _samples(flat, k)), values


@functools.lru_cache(maxsize=16)  # every trace of a shape asks again
def _selection(
    seq_len: int, steps: tuple[int, ...]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64], list[int]]:
    """The selected steps of T = seq_len: a (T,) mask, the steps sorted (an array, and a list
    to bisect). The arrays are read-only: shared by the recorders of a shape."""
    selected = np.zeros(seq_len, dtype=bool)
    selected[list(steps)] = True
    chosen = np.flatnonzero(selected)
    for a in (selected, chosen):
        a.flags.writeable = False
    return selected, chosen, chosen.tolist()


def _summarised(arrays: list[FloatArray], cell: Cell, follows: bool) -> list[FloatArray]:
    """Each point's rows whose stats are computed: all of them, but for a state a step reads
    (h_prev, C_(t-1)) only the first when the steps follow one another (the rest are the
    previous step's hidden_state, cell_state)."""
    if not follows:
        return arrays
    names = cell.hook_points
    return [v[:1] if n in cell.previous else v for n, v in zip(names, arrays, strict=True)]


@functools.lru_cache(maxsize=64)
def _keys(layer: int, direction: int, points: int, steps: tuple[int, ...]) -> npt.NDArray[np.int64]:
    """(len(steps), points, 4) the record keys of steps: layer, direction, step, point
    (read-only: the default trace's few are made once per shape)."""
    keys = np.zeros((len(steps), points, 4), dtype=np.int64)
    keys[..., 0], keys[..., 1], keys[..., 3] = layer, direction, np.arange(points)
    keys[..., 2] = np.array(steps, dtype=np.int64)[:, None]
    keys.flags.writeable = False
    return keys


@functools.cache
def _previous_points(cell: Cell) -> tuple[tuple[int, int], ...]:
    """(h_prev's, hidden_state's) hook point indices, and the cell's other (state read, state
    written) pairs (Cell.previous)."""
    points = cell.hook_points
    return tuple((points.index(a), points.index(b)) for a, b in cell.previous.items())


@functools.lru_cache(maxsize=64)  # a frozen config: every block of a trace asks again
def _step_width(config: LSTMConfig, layer: int) -> int:
    """The numbers a step's hook points of layer hold (unbatched)."""
    return sum(point_size(name, layer, config) for name in config.kind.hook_points)


def _samples(flat: list[FloatArray], k: int) -> FloatArray:
    """(r * p, k) float64: the first k values of each of the p points' r rows (r, n_q), in the
    records' order (record j: row j // p of point j % p), NaN where a point holds fewer."""
    r, p = len(flat[0]), len(flat)
    if all(v.shape[1] >= k for v in flat):  # the common case: one copy
        joined = np.concatenate([v[:, :k] for v in flat], axis=1, dtype=np.float64)
        return joined.reshape(r * p, k)
    samples = np.full((r, p, k), np.nan)
    for j, v in enumerate(flat):
        shown = v[:, :k]
        samples[:, j, : shown.shape[1]] = shown
    return samples.reshape(r * p, k)


def _compiled_stats(
    kern: ModuleType | None,
    summarised: list[FloatArray],
    r: int,
    follows: Sequence[tuple[int, int]],
    k: int,
) -> tuple[summary.StatsRows, FloatArray] | None:
    """Every point's stats and k samples through the kernel, straight into the records' order
    (record j: step j // p, point j % p), in one call when it is loaded: the NumPy path's
    numbers (stats_rows, _samples). follows: (previous, current) points whose rows after the
    first are the current point's of the step before (h_prev is h_t of the step before).
    None when the kernel is not loaded, refuses an array (an unaligned one) or leaves a row
    to NumPy (a NaN, an Inf, a -0): then every point takes stats_rows, which counts those."""
    if kern is None or summarised[0].dtype not in (np.float32, np.float64):
        return None
    p = len(summarised)
    out, samples = np.empty((4, r * p)), np.empty((r * p, k))
    try:
        if kern.stats(tuple(summarised), out, 0, p, samples):
            return None
    except ValueError:  # an array the kernel does not read as it is (unaligned, or empty
        return None  # rows): NumPy's
    for prev, current in follows:
        out[:, p + prev :: p] = out[:, current : (r - 1) * p : p]
        samples[p + prev :: p] = samples[current : (r - 1) * p : p]
    counts = np.zeros((2, r * p), dtype=np.int64)
    return summary.StatsRows(out[0], out[1], out[2], out[3], counts[0], counts[1]), samples


#: points of one width are summarised in one call when they hold at most this many numbers
GROUP_NUMBERS = 1 << 16


def _point_stats(flat: list[FloatArray]) -> list[summary.StatsRows]:
    """summary.stats_rows of each point's (r, n) values. Small ones of the same width go in
    one call (a few steps' records: most of their cost is the call): a row's stats do not
    depend on the others', so the numbers are the same."""
    if sum(v.size for v in flat) > GROUP_NUMBERS:
        return [summary.stats_rows(v) for v in flat]
    by_width: dict[int, list[int]] = {}
    for j, v in enumerate(flat):
        by_width.setdefault(v.shape[1], []).append(j)
    out: list[summary.StatsRows | None] = [None] * len(flat)
    for group in by_width.values():
        joined = summary.stats_rows(np.concatenate([flat[j] for j in group]))
        start = 0
        for j in group:
            out[j], start = joined[start : start + len(flat[j])], start + len(flat[j])
    return [s for s in out if s is not None]


def _step_array(steps: Sequence[int]) -> npt.NDArray[np.int64]:
    """steps as an array; forward() hands over a range, made without a Python int per step
    (np.asarray of a range of 15,000 steps takes 0.5 ms, np.arange 5 us)."""
    if isinstance(steps, range):
        return np.arange(steps.start, steps.stop, steps.step, dtype=np.int64)
    return np.asarray(steps, dtype=np.int64)


def _rows_index(rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64] | slice:
    """rows as a slice when there are several and they run one by one up or down (a view,
    not a copy); otherwise the rows themselves."""
    if len(rows) < 2:
        return rows
    step = int(rows[1] - rows[0])
    if abs(step) != 1 or not (np.diff(rows) == step).all():
        return rows
    stop = int(rows[-1]) + step
    return slice(int(rows[0]), None if stop < 0 else stop, step)
