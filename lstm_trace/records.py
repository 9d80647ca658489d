"""Trace records: what a hook point held at one layer, direction and step, summarised, and the
RecordTable that keeps them as columns. They are made by recorders.py."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from . import summary
from .cells.base import FloatArray
from .config import LSTMConfig
from .weights import DIRECTIONS


@functools.lru_cache(maxsize=256)
def symbol_and_equation(
    name: str, layer: int, direction: str, config: LSTMConfig
) -> tuple[str, str]:
    """The walkthrough's symbol and equation for a hook point (the cell's); backward reads
    state from t+1."""
    return config.kind.symbol_and_equation(name, layer, direction, config)


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
    #: the hook point's index in its cell's firing order (cells/: Cell.hook_points)
    point: int = 0

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
        """(layer, direction, step, the hook point's place in its cell's firing order)."""
        return (self.layer, DIRECTIONS.index(self.direction), self.step, self.point)


def point_size(name: str, layer: int, config: LSTMConfig) -> int:
    """The size n of a hook point's value, (n,) unbatched (the cell's: I_k for x, H_out + I_k
    for concat, H_out for h_prev and hidden_state, H for the gates and cell states)."""
    return config.kind.point_size(name, layer, config)


@dataclass(frozen=True)
class _Window:
    """Rows of a RecordTable as Python values, made at once (summary.to_floats)."""

    start: int
    keys: list[list[int]]  # per row: layer, direction index, step, hook point index
    stats: list[list[float | None]]  # per row: min, max, mean, std
    counts: list[list[int]]  # per row: nan, inf
    samples: list[float | None]  # rows of k, flattened
    raw: FloatArray  # the samples (rows, k), for summary.marks


#: a record as raw_rows() gives it: keys, sample, stats (min, max, mean, std), counts
RawRow = tuple[list[int], list[float | None], list[float | None], list[int]]


class RecordBatches:
    """A trace()'s sink that takes the records a batch at a time: receive(table) gets each
    batch as a RecordTable, rows in the order computed (read with raw_rows() or record()),
    instead of a TensorRecord at a time."""

    def __init__(self, receive: Callable[[RecordTable], None]) -> None:
        self.receive = receive


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

    def _joined(self) -> None:
        """Joins what was added into one set of columns, in the order added."""
        if len(self._chunks) > 1:
            keys = np.concatenate([k for k, _, _ in self._chunks])
            stats = summary.StatsRows.join([s for _, s, _ in self._chunks])
            self._chunks = [(keys, stats, np.concatenate([v for _, _, v in self._chunks]))]

    def _columns(self) -> None:
        """Joins what was added into one set of columns and sorts it, once per change."""
        if self._order is not None:
            return
        self._joined()
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
        j, cfg = row - w.start, self.config
        layer, d, step, point = w.keys[j]
        name, direction = cfg.kind.hook_points[point], DIRECTIONS[d]
        symbol, equation = symbol_and_equation(name, layer, direction, cfg)
        n = point_size(name, layer, cfg)
        sample = self._sample(w, j, n)
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
            marks=() if None not in sample else summary.marks(w.raw[j], len(sample)),
            point=point,
        )

    def _sample(self, w: _Window, j: int, n: int) -> list[float | None]:
        """Row j of window w's samples, of a tensor of n numbers a batch row: the padding of
        a short tensor is not a sample."""
        k = self.samples
        return w.samples[j * k : j * k + min(k, (self.config.batch or 1) * n)]

    def columns(self) -> tuple[npt.NDArray[np.int64], summary.StatsRows, FloatArray]:
        """Every row in the order added as arrays, as they were added (the JSONL stream's
        writer with orjson): keys (n, 4) (layer, direction index, step, hook point index),
        the stats and the samples (n, k), padded past a tensor's size (see _sample). Not
        sorted: a stream's batch is written in the order computed."""
        self._joined()
        if not self._chunks:
            empty = np.empty((0,), dtype=np.float64)
            none = np.empty((0,), dtype=np.int64)
            stats = summary.StatsRows(empty, empty, empty, empty, none, none)
            return np.empty((0, 4), dtype=np.int64), stats, np.empty((0, self.samples))
        return self._chunks[0]

    def raw_rows(self) -> Iterator[RawRow]:
        """Every row in the order added as Python values, without a TensorRecord each (the
        JSONL stream's fast path): (layer, direction index, step, hook point index), the
        sample, the stats (min, max, mean, std) and the counts (nan, inf), as record() gives
        them."""
        self._columns()
        cfg, sizes = self.config, dict[tuple[int, int], int]()
        for row in range(self._count):
            w = self._rows(row)
            j = row - w.start
            keys = w.keys[j]
            n = sizes.get((keys[0], keys[3]))
            if n is None:
                n = sizes[(keys[0], keys[3])] = point_size(
                    cfg.kind.hook_points[keys[3]], keys[0], cfg
                )
            yield keys, self._sample(w, j, n), w.stats[j], w.counts[j]

    def _rows(self, row: int) -> _Window:
        """The window of rows holding `row`, made once while reads stay in it: a whole window
        when reads go row by row (up or down), the row alone when they jump about."""
        w, last, self._last = self._window, self._last, row
        if w is not None and w.start <= row < w.start + len(w.keys):
            return w
        size = max(1, self.WINDOW_NUMBERS // (4 + self.samples)) if abs(row - last) == 1 else 1
        start = row - row % size
        rows = slice(start, start + size)
        keys, all_stats, samples = self._chunks[0]
        stats = all_stats[rows]
        dtype = np.dtype(self.config.dtype)
        floats = np.stack([stats.min, stats.max, stats.mean, stats.std], 1)
        raw = samples[rows].astype(dtype)
        # one call for all of the window's numbers (float32 samples go through float64 exactly)
        numbers = summary.to_floats(np.concatenate([floats.ravel(), raw.ravel()]), dtype)
        n = 4 * len(floats)
        self._window = w = _Window(
            start=start,
            keys=keys[rows].tolist(),
            stats=[numbers[i : i + 4] for i in range(0, n, 4)],
            counts=np.stack([stats.nan, stats.inf], 1).tolist(),
            samples=numbers[n:],
            raw=raw,
        )
        return w

    def in_added_order(self) -> Iterator[TensorRecord]:
        """The records in the order added (not sorted)."""
        for row in range(len(self)):
            yield self.record(row)
