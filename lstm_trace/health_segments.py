"""Saturation over time: each gate's low and high saturated counts per segment of the sequence.

The T time steps are cut into S = min(10, T) segments of equal size (sizes differ by at most
one step): segment s covers t in [start_s, stop_s), start_s = s * T // S, so the segments
cover 0..T-1 exactly. A step is attributed to its real time index t, whichever way the pass
visits it (a backward direction runs t = T-1 down to 0). The counts are kept per segment and
gate, (S, G) numbers, never per step: memory is O(S x G) whatever T.

For a gate g of H units and a batch of B rows, segment s holds (stop_s - start_s) x B x H
values; its shares are

    saturated_low[s]  = #{v < low}  / values[s]     low  = 0.05 (sigmoid), -0.95 (tanh)
    saturated_high[s] = #{v > high} / values[s]     high = 0.95 (both)

A NaN is on neither side (every comparison with it is false); +-Inf is on its side.
"""

from __future__ import annotations

import bisect
import functools
import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .cells.base import FloatArray

#: at most this many segments of time per gate
MAX_SEGMENTS = 10
#: shares are rounded to this many decimals in the JSON document
SHARE_DIGITS = 6

IntArray = NDArray[np.int64]


@functools.lru_cache(maxsize=64)  # every trace of a length asks again
def segment_edges(steps: int) -> IntArray:
    """(S + 1,) edges of S = min(10, T) segments of T steps: segment s is [edges[s],
    edges[s + 1]); edges[0] = 0, edges[S] = T, sizes differ by at most one. Read-only: shared."""
    if steps < 1:
        raise ValueError(f"a sequence needs at least one step, got T = {steps}")
    count = min(MAX_SEGMENTS, steps)
    edges = np.array([s * steps // count for s in range(count + 1)], dtype=np.int64)
    edges.flags.writeable = False
    return edges


def share(count: int, values: int) -> float:
    """count / values rounded as every share of the document; 0.0 when nothing was seen (or
    counted: no rounding to do, the common case)."""
    return round(count / values, SHARE_DIGITS) if values and count else 0.0


@functools.lru_cache(maxsize=64)
def segment_of(steps: int) -> IntArray:
    """(T,) the segment of each step t of T = steps (the compiled kernel's health argument
    `piece`, sliced for a block). Read-only: shared."""
    edges = segment_edges(steps)
    segment = np.repeat(np.arange(len(edges) - 1, dtype=np.int64), np.diff(edges))
    segment.flags.writeable = False
    return segment


def block_pieces(steps: int, first: int, count: int) -> list[tuple[int, int, int]]:
    """The block of steps first .. first + count - 1 of T = steps cut at the segment edges:
    (segment, start, stop) with start and stop relative to the block (rows of time), in time
    order. A block reaches at most a few segments, so this is a short list."""
    if first < 0 or first + count > steps:
        raise ValueError(
            f"steps {first}..{first + count - 1} are outside the sequence's 0..{steps - 1}"
        )
    edges = segment_edges(steps).tolist()
    # the segment holding step t is the last edge <= t
    s = bisect.bisect_right(edges, first) - 1
    out, t, end = [], first, first + count
    while t < end:
        stop = min(end, edges[s + 1])
        out.append((s, t - first, stop - first))
        t, s = stop, s + 1
    return out


# eq=False: arrays have no == to compare by (compared by identity)
@dataclass(eq=False)
class SegmentCounts:
    """Running counts of one layer and direction: each gate's low and high saturated values per
    segment, and its NaN and Inf.

    counts: (2S + 1, G), the NumPy path's: rows [0, S) the low counts, [S, 2S) the high, 2S
    the NaN and Inf (low, high and nonfinite are its views); the compiled kernel's the same
    way per column apart (columns(), gate_counts() sums both); rows: (S,) the rows (steps x
    batch rows) seen in each segment, of H values per gate each. One array per kind, so that
    a report sums and reads each in one operation.
    """

    steps: int  # T
    gates: int  # G
    hidden: int  # H
    edges: IntArray = field(init=False)  # (S + 1,)
    counts: IntArray = field(init=False)  # (2S + 1, G)
    rows: IntArray = field(init=False)  # (S,)
    #: (2S + 1, G*H) the kernel's counts per column (columns()), None before it counts
    _columns: IntArray | None = field(init=False, default=None)
    _counted: bool = field(init=False, default=False)  # whether the NumPy path counted

    def __post_init__(self) -> None:
        self.edges = segment_edges(self.steps)
        count = len(self.edges) - 1
        self.counts = np.zeros((2 * count + 1, self.gates), dtype=np.int64)
        self.rows = np.zeros(count, dtype=np.int64)

    @property
    def low(self) -> IntArray:
        """(S, G) values below each gate's low threshold, per segment (the NumPy path's)."""
        return self.counts[: len(self.rows)]

    @property
    def high(self) -> IntArray:
        """(S, G) values above each gate's high threshold, per segment (the NumPy path's)."""
        return self.counts[len(self.rows) : -1]

    @property
    def nonfinite(self) -> IntArray:
        """(G,) each gate's NaN and Inf (the NumPy path's)."""
        nonfinite: IntArray = self.counts[-1]
        return nonfinite

    def pieces(self, first: int, count: int) -> list[tuple[int, int, int]]:
        """The block of steps first .. first + count - 1 cut at the segment edges
        (block_pieces)."""
        return block_pieces(self.steps, first, count)

    def add(
        self,
        gates: FloatArray,
        batch: int,
        first: int,
        below: FloatArray,
        above: FloatArray,
        lowest: FloatArray,
        highest: FloatArray,
    ) -> None:
        """Counts one block: gates (c * B, G, H) rows in time order from step first (row r is
        step first + r // B); below, above (G,) each gate's thresholds in the values' dtype;
        lowest, highest (G,) each gate's extremes over the block's finite values. A gate whose
        extremes stay inside its thresholds has nothing to count, so it is not scanned."""
        pieces = self.pieces(first, gates.shape[0] // batch)
        self._counted = True
        low, high = self.low, self.high
        for s, a, b in pieces:
            self.rows[s] += (b - a) * batch
        for g in range(self.gates):
            unit = gates[:, g, :]  # (c * B, H)
            if lowest[g] < below[g]:
                for s, a, b in pieces:
                    low[s, g] += np.count_nonzero(unit[a * batch : b * batch] < below[g])
            if highest[g] > above[g]:
                for s, a, b in pieces:
                    high[s, g] += np.count_nonzero(unit[a * batch : b * batch] > above[g])

    def add_nonfinite(self, counts: IntArray) -> None:
        """Adds a block's (G,) NaN and Inf, counted on the NumPy path."""
        self._counted = True
        self.counts[-1] += counts

    def columns(self) -> IntArray:
        """(2S + 1, G*H) the counts per column (unit of a gate), laid out as counts, that the
        compiled kernel adds to as it counts (summed over the units when reported)."""
        if self._columns is None:
            width = self.gates * self.hidden
            self._columns = np.zeros((len(self.counts), width), dtype=np.int64)
        return self._columns

    def gate_counts(self) -> IntArray:
        """(2S + 1, G) as counts, from both kinds."""
        if self._columns is None:
            return self.counts
        both = per_gate(self._columns, self.gates)
        if self._counted:
            both += self.counts
        return both

    def report(self) -> tuple[list[list[int]], list[int], list[list[dict[str, Any]]]]:
        """Per gate: its low, high and NaN and Inf counts over every step ([low, high,
        nonfinite], (G, 3)), and its JSON 'segments': [{start, stop, saturated_low,
        saturated_high}], each segment's shares; and each segment's rows (S,)."""
        per_gate_rows = self.gate_counts().T.tolist()  # (G, 2S + 1): Python ints, no scalars
        rows = self.rows.tolist()
        values = [r * self.hidden for r in rows]
        count, totals, out = len(rows), [], []
        for counts in per_gate_rows:
            lows, highs = counts[:count], counts[count:-1]
            totals.append([sum(lows), sum(highs), counts[-1]])
            # copies of the segments with nothing saturated, the common case, then share()'s
            # rounding where a count is not 0: a dict made whole costs twice a copy
            segments = list(map(dict.copy, _empty_segments(self.steps)))
            for key, side in (("saturated_low", lows), ("saturated_high", highs)):
                if any(side):
                    for d, n, seen in zip(segments, side, values, strict=True):
                        if n:
                            d[key] = share(n, seen)
            out.append(segments)
        return totals, rows, out


def per_gate(columns: IntArray, gates: int) -> IntArray:
    """(..., G) each gate's sum of its H columns of columns (..., G*H) (np.add.reduceat: 2 us
    against 3.3 of a reshape and sum)."""
    width = columns.shape[-1]
    summed: IntArray = np.add.reduceat(columns, np.arange(0, width, width // gates), axis=-1)
    return summed


@functools.lru_cache(maxsize=64)
def _empty_segments(steps: int) -> tuple[dict[str, Any], ...]:
    """The segments of T = steps as the JSON has them, with nothing saturated (templates to
    copy: never handed out)."""
    edges = segment_edges(steps).tolist()
    return tuple(
        {"start": a, "stop": b, "saturated_low": 0.0, "saturated_high": 0.0}
        for a, b in itertools.pairwise(edges)
    )
