"""Gate health: saturation, units that never move, and the first NaN or Inf.

Computed over every step, not only the traced ones, from the blocks of gate activations the
forward pass hands to the monitor (forward(health=)), so it costs a few vectorised operations
per block rather than hooks at every step; with the compiled kernel, the counts are made inside
its step loop while each step is in cache, straight into the running totals (totals() hands
them over; a hooked step's row is counted by its block pass once the hooks have run), and the
monitor only locates a NaN or an Inf it reports (counted()).

- saturated: a sigmoid gate (the LSTM's forget, input, output; the GRU's reset and update)
  below 0.05 (low) or above 0.95 (high); a tanh gate (the candidate) below -0.95 (low) or
  above 0.95 (high). A saturated gate passes almost no gradient, and its side is the
  diagnosis: a forget gate saturated low forgets C_(t-1), high keeps all of it. Counted per
  side and per segment of time (health_segments.py), so a gate that drifts from one side to
  the other over the sequence shows it.
- stuck units: units whose activation never moves, max - min <= 1e-6 over every step and
  batch row (not judged from a single value).
- first non-finite: the first step (in the order the pass computes them), layer, direction
  and gate whose activations hold a NaN or an Inf, or the input x or initial state that held
  one before any gate did (an Inf can saturate every gate and still poison C_t).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import health_report
from .cells import Cell, kernel
from .cells.base import FloatArray
from .config import LSTMConfig
from .health_plan import column_thresholds, thresholds, unset
from .health_report import MAX_LISTED as MAX_LISTED  # the report's, from here as before
from .health_report import STUCK_TOLERANCE as STUCK_TOLERANCE
from .health_segments import IntArray, SegmentCounts, segment_of
from .weights import LSTMWeights


# eq=False: arrays have no == to compare by (compared by identity)
@dataclass(eq=False)
class _Place:
    """Running totals for one layer and direction, added to by the NumPy path (add(),
    SegmentCounts.add) and by the compiled kernel (the arrays of totals())."""

    hidden: int  # H
    gates: int  # G
    steps: int  # T
    dtype: np.dtype[Any]  # the pass's
    saturated: SegmentCounts = field(init=False)  # saturated, NaN and Inf counts per gate
    extremes: FloatArray = field(init=False)  # (2, G*H) running min then max (NaN-ignoring)
    bad: int = 0  # NaN and Inf values seen, by either path
    #: the kernel's arrays, made when it first counts: below, above, lo, hi, n_low, n_high,
    #: n_bad, rows (kernel.c's lstm())
    _totals: tuple[np.ndarray[Any, Any], ...] | None = None

    def __post_init__(self) -> None:
        self.saturated = SegmentCounts(self.steps, self.gates, self.hidden)
        self.extremes = unset(self.gates * self.hidden, self.dtype).copy()

    def add(self, lowest: FloatArray, highest: FloatArray) -> None:
        """Widens each unit's running extremes by a block's (G*H,) lowest and highest
        (NaN-ignoring, as fmin/fmax are)."""
        np.fmin(self.extremes[0], lowest, out=self.extremes[0])
        np.fmax(self.extremes[1], highest, out=self.extremes[1])

    def totals(self, tanh: tuple[bool, ...]) -> tuple[np.ndarray[Any, Any], ...]:
        """The compiled kernel's health arrays but each step's segment (kernel.Counter): it
        adds its counts to these running totals as it runs the steps."""
        if self._totals is None:
            below, above = column_thresholds(self.hidden, tanh, self.dtype)
            columns, s = self.saturated.columns(), len(self.saturated.rows)
            low, high = self.extremes
            self._totals = (below, above, low, high, columns[:s], columns[s:-1], columns[-1],
                            self.saturated.rows)  # fmt: skip
        return self._totals


class HealthMonitor:
    """A BlockObserver for forward(): accumulates health over every step."""

    def __init__(self, config: LSTMConfig) -> None:
        self.config, self.cell = config, config.kind
        #: the gates' hook point names, in the block's (PyTorch's) order, and per gate in that
        #: order True for a tanh gate (saturated beyond +-0.95)
        self.names, self.tanh = _gates(self.cell)
        self.places: dict[tuple[int, str], _Place] = {}
        self.first_nonfinite: dict[str, Any] | None = None

    def at(self, layer: int, direction: str) -> _Watch:
        """The HealthWatch forward() hands layer and direction's runner (cell.GateHealth)."""
        return _Watch(self, layer, direction)

    def counted(
        self, layer: int, direction: str, steps: Sequence[int], block: FloatArray, bad: int | None
    ) -> None:
        """A block, and the NaN and Inf the compiled kernel counted as it ran its steps (its
        counts are in the running totals already: exact, so the NumPy path's), or None when
        it did not count them: they are counted here. A NaN or an Inf is located."""
        if bad is None:
            self(layer, direction, steps, block)
        elif bad:
            self._place(layer, direction).bad += bad
            self._locate(layer, direction, steps, block)

    def totals(
        self, layer: int, direction: str, dtype: np.dtype[Any]
    ) -> tuple[tuple[np.ndarray[Any, Any], ...], IntArray]:
        """What the kernel counts layer and direction's steps into (values of dtype, the
        pass's): its health arrays but the steps' segments (_Place.totals), and (T,) each
        step's segment, to slice for a block's."""
        place = self._place(layer, direction)
        if dtype != place.dtype:
            raise ValueError(f"gate health counts {place.dtype} values, not {dtype}")
        return place.totals(self.tanh), segment_of(self.config.seq_len)

    def _place(self, layer: int, direction: str) -> _Place:
        place = self.places.get((layer, direction))
        if place is None:
            c = self.config
            place = self.places[(layer, direction)] = _Place(
                c.hidden_size, len(self.names), c.seq_len, np.dtype(c.dtype)
            )
        return place

    def __call__(self, layer: int, direction: str, steps: Sequence[int], block: FloatArray) -> None:
        """block: (c, B, G*H) activations (PyTorch's gate order) of `steps`, which are in
        visiting order while block rows are in time order. Counted by the compiled kernel's
        block pass when it is loaded (the loop's own counts, one pass over the block), else by
        NumPy."""
        k = kernel.active(block.dtype, len(steps)) if block.flags.c_contiguous else None
        if k is None or block.dtype != self._place(layer, direction).dtype:
            self._numpy(layer, direction, steps, block)
            return
        first = min(steps[0], steps[-1])  # visiting order runs one way or the other
        counter = kernel.Counter(self.at(layer, direction), block,
                                 range(first, first + block.shape[0]))  # fmt: skip
        counter.count(k, block, 0, block.shape[0])
        self.counted(layer, direction, steps, block, counter.bad)

    def _numpy(self, layer: int, direction: str, steps: Sequence[int], block: FloatArray) -> None:
        """The NumPy path's count of a block (the reference): extremes, saturated counts, and
        the NaN and Inf, located."""
        n = len(self.names)
        h = block.shape[-1] // n
        place = self._place(layer, direction)
        gates = block.reshape(-1, n, h)  # (c*B, gate, unit)
        flat = block.reshape(-1, n * h)
        lowest, highest = flat.min(axis=0), flat.max(axis=0)  # NaN if a column has one
        if not (np.isfinite(lowest).all() and np.isfinite(highest).all()):
            bad = (~np.isfinite(gates)).sum(axis=(0, 2))
            place.saturated.add_nonfinite(bad)
            place.bad += int(bad.sum())
            self._locate(layer, direction, steps, block)
            # fmin/fmax skip NaN, so one bad value does not hide how the other values move
            lowest, highest = np.fmin.reduce(flat, axis=0), np.fmax.reduce(flat, axis=0)
        place.add(lowest, highest)
        # rows are in time order, whichever way the pass visits them
        first = min(steps[0], steps[-1])
        self._saturation(place, block.shape[1], first, gates, lowest, highest)

    def _saturation(
        self,
        place: _Place,
        batch: int,
        first: int,
        gates: FloatArray,
        lowest: FloatArray,
        highest: FloatArray,
    ) -> None:
        """Counts values beyond each gate's thresholds, per side and segment of time. gates:
        (c*B, G, H) from step first; lowest, highest (G*H,) the block's extremes per unit."""
        n = len(self.names)
        below, above = thresholds(self.tanh, gates.dtype)  # in the values' own precision
        # fmin/fmax: a unit that is NaN throughout the block must not hide the gate's others
        gate_low = np.fmin.reduce(lowest.reshape(n, -1), axis=1)
        gate_high = np.fmax.reduce(highest.reshape(n, -1), axis=1)
        place.saturated.add(gates, batch, first, below, above, gate_low, gate_high)

    def _locate(self, layer: int, direction: str, steps: Sequence[int], block: FloatArray) -> None:
        if self.first_nonfinite is not None:
            return
        first = min(steps)
        for t in steps:  # visiting order
            row = block[t - first].reshape(-1, len(self.names), block.shape[-1] // len(self.names))
            bad = ~np.isfinite(row).all(axis=(0, 2))
            for name in self.cell.report_order:
                if bad[self.names.index(name)]:
                    self.first_nonfinite = {
                        "step": int(t),
                        "layer": layer,
                        "direction": direction,
                        "gate": name,
                    }
                    return

    def note_inputs(
        self,
        x: FloatArray,
        h0: FloatArray | None,
        c0: FloatArray | None,
        steps: int,
        x_finite: bool | None = None,
    ) -> None:
        """Non-finite values that enter before any gate: in x (layer 0 reads it first, going
        forward) or in an initial state. Kept if they come before the first bad gate in the
        order the pass computes things. x_finite: whether x is all finite, when the caller
        knows (all_finite(x), checked before the pass while x was in cache)."""
        if x_finite is None:
            x_finite = all_finite(x)
        if self.first_nonfinite is None and h0 is None and c0 is None and x_finite:
            return  # the common case: nothing to place
        directions, points = self.config.directions, self.cell.hook_points
        d_count = len(directions)
        candidates: list[tuple[tuple[int, int, int, int], dict[str, Any]]] = []
        if self.first_nonfinite is not None:
            f = self.first_nonfinite
            d = directions.index(f["direction"])
            visit = f["step"] if f["direction"] == "forward" else steps - 1 - f["step"]
            candidates.append(((f["layer"], d, visit, points.index(f["gate"])), f))
        bad_x = np.zeros(0, dtype=np.intp)
        if not x_finite:  # steps with a bad value
            per_step = x if x.ndim == 2 else x.transpose(1, 0, 2).reshape(x.shape[1], -1)
            bad_x = np.flatnonzero(~np.isfinite(per_step).all(axis=1))
        if bad_x.size:
            # layer 0's first direction reads it first: step t going forward, the last bad
            # step going backward (a reverse-only layer)
            first = directions[0]
            t = int(bad_x[0] if first == "forward" else bad_x[-1])
            visit = t if first == "forward" else steps - 1 - t
            where = {"step": t, "layer": 0, "direction": first, "gate": "x"}
            candidates.append(((0, 0, visit, 0), where))
        states = [("h_prev", h0)] + [(name, c0) for name in self.cell.carried]
        for name, state in states:
            if state is None:
                continue
            rows = np.asarray(state).reshape(len(state), -1)
            for s in np.flatnonzero(~np.isfinite(rows).all(axis=1)):
                layer, d = divmod(int(s), d_count)
                step = 0 if directions[d] == "forward" else steps - 1
                where = {"step": step, "layer": layer, "direction": directions[d], "gate": name}
                candidates.append(((layer, d, 0, points.index(name)), where))
        if candidates:
            self.first_nonfinite = min(candidates, key=lambda c: c[0])[1]

    def note_output(self, output: FloatArray) -> None:
        """A NaN or Inf that no gate held but h_t did: with a projection, h_t = W_hr (o_t *
        tanh(C_t)) is computed after the gates, so a bad W_hr shows first in the last layer's
        output (lower layers' reach the next layer's gates). output: (B, T, D*H_out) or
        (T, D*H_out); each direction's first bad step in the order the pass visits them."""
        if self.first_nonfinite is not None or self._output_finite() or all_finite(output):
            return
        per_step = output if output.ndim == 2 else output.transpose(1, 0, 2)  # (T, [B,] D*H_out)
        directions, steps = self.config.directions, per_step.shape[0]
        d_count = len(directions)
        halves = np.split(per_step.reshape(steps, -1, d_count, self.config.h_out), d_count, 2)
        for direction, half in zip(directions, halves, strict=True):
            bad = np.flatnonzero(~np.isfinite(half.reshape(steps, -1)).all(axis=1))
            if bad.size:
                # the backward direction runs T-1 -> 0
                step = int(bad[0] if direction == "forward" else bad[-1])
                self.first_nonfinite = {
                    "step": step,
                    "layer": self.config.num_layers - 1,
                    "direction": direction,
                    "gate": "hidden_state",
                }
                return

    def _output_finite(self) -> bool:
        """Whether the output is finite because every gate was (no need to read it): with
        finite gates and states, the LSTM's |C_t| <= |C_(t-1)| + 1 (f in [0, 1], |i g| <= 1),
        so h_t = o tanh(C_t) is finite; the GRU's h_t = n + z (h_(t-1) - n) lies between
        h_(t-1) and n; each layer's input is the finite output below. Only a projection's
        h_t = W_hr (o tanh C_t) can be NaN or Inf after finite gates (a bad W_hr)."""
        return not self.config.proj_size and not any(p.bad for p in self.places.values())

    def report(self) -> dict[str, Any]:
        """The JSON 'health' object (health_report.py)."""
        return health_report.report(self.cell, self.places, self.first_nonfinite)


@functools.cache  # every trace's monitor asks
def _gates(cell: Cell) -> tuple[tuple[str, ...], tuple[bool, ...]]:
    """The cell's gates' names in the block's order, and whether each is a tanh gate."""
    return tuple(g.name for g in cell.gates), tuple(g.activation == "tanh" for g in cell.gates)


@dataclass(frozen=True)
class _Watch:
    """One layer and direction of a HealthMonitor, as a runner sees it (cells.base's
    HealthWatch)."""

    monitor: HealthMonitor
    layer: int
    direction: str

    def totals(self, dtype: np.dtype[Any]) -> tuple[tuple[np.ndarray[Any, Any], ...], IntArray]:
        return self.monitor.totals(self.layer, self.direction, dtype)

    def __call__(self, steps: Sequence[int], block: FloatArray, bad: int | None) -> None:
        self.monitor.counted(self.layer, self.direction, steps, block, bad)


def nonfinite_weight(weights: LSTMWeights) -> str | None:
    """The first weight (in PyTorch's order of layers and directions) holding a NaN or an Inf,
    in the walkthrough's names: 'W_i at layer 0, forward'; None when all are finite. An Inf in
    a weight need not reach any value the pass computes: it can saturate a gate to exactly 0
    or 1."""
    cfg = weights.config
    for k, d, w in weights:
        # biases not summed: two finite float32 biases of 3e38 add up to an Inf neither holds
        for stored in ("w_ih", "w_hh", "b_ih", "b_hh", "w_hr", "w_peep"):
            array = getattr(w, stored)
            if array is None:
                continue
            bad = np.flatnonzero(~np.isfinite(array).reshape(len(array), -1).all(axis=1))
            if bad.size:
                name = cfg.kind.parameter_of(cfg, stored, int(bad[0]))
                return f"{name} at layer {k}, {cfg.directions[d]}"
    return None


def all_finite(a: FloatArray) -> bool:
    """Whether every value of a is finite, without a mask: any NaN or Inf makes the sum of
    squares NaN or Inf (as a dot product, BLAS's: a third of NumPy's pairwise sum's time; a
    copy only if a is not contiguous). A sum that overflows from finite values says False
    too, and the caller's exact check then finds nothing."""
    flat = a.reshape(-1)
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(np.dot(flat, flat)))
