"""Gate health: saturation, units that never move, and the first NaN or Inf.

Computed over every step, not only the traced ones, from the blocks of gate activations the
forward pass hands to the monitor (forward(health=)), so it costs a few vectorised operations
per block rather than hooks at every step; with the compiled kernel, the counts are made inside
its step loop while each step is in cache (plan() says how, counted() takes them), and only a
block with a hooked step or a NaN is counted here.

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

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .cells import kernel
from .cells.base import FloatArray, FusedHealth, HealthPlan
from .config import LSTMConfig
from .health_plan import SATURATION, block_plan, thresholds, unset
from .health_segments import SegmentCounts, share
from .weights import LSTMWeights

STUCK_TOLERANCE = 1e-6
#: stuck unit indices listed per gate; the rest are counted
MAX_LISTED = 20


# eq=False: arrays have no == to compare by (compared by identity)
@dataclass(eq=False)
class _Place:
    """Running totals for one layer and direction."""

    hidden: int
    gates: int  # G
    steps: int  # T
    values: int = 0  # per gate
    rows: int = 0  # steps x batch rows seen
    saturated: SegmentCounts = field(init=False)  # low and high counts per segment and gate
    nonfinite: FloatArray = field(init=False)  # (G,) counts
    low: FloatArray = field(init=False)  # (G*H,) running min (NaN-ignoring)
    high: FloatArray = field(init=False)  # (G*H,) running max

    def __post_init__(self) -> None:
        self.saturated = SegmentCounts(self.steps, self.gates)
        self.nonfinite = np.zeros(self.gates, dtype=np.int64)
        self.low, self.high = unset(self.gates * self.hidden, np.dtype(np.float64)).copy()

    def add(self, rows: int, lowest: FloatArray, highest: FloatArray) -> None:
        """Counts rows (steps x batch rows) more, and widens each unit's running extremes by a
        block's (G*H,) lowest and highest (NaN-ignoring, as fmin/fmax are)."""
        self.rows += rows
        self.values += rows * self.hidden
        np.fmin(self.low, lowest, out=self.low)
        np.fmax(self.high, highest, out=self.high)


class HealthMonitor:
    """A BlockObserver for forward(): accumulates health over every step."""

    def __init__(self, config: LSTMConfig) -> None:
        self.config, self.cell = config, config.kind
        #: the gates' hook point names, in the block's (PyTorch's) order
        self.names = tuple(g.name for g in self.cell.gates)
        #: per gate in that order: True for a tanh gate (saturated beyond +-0.95)
        self.tanh = tuple(g.activation == "tanh" for g in self.cell.gates)
        self.places: dict[tuple[int, str], _Place] = {}
        self.first_nonfinite: dict[str, Any] | None = None

    def at(self, layer: int, direction: str) -> _Watch:
        """The HealthWatch forward() hands layer and direction's runner (cell.GateHealth)."""
        return _Watch(self, layer, direction)

    def counted(
        self,
        layer: int,
        direction: str,
        steps: Sequence[int],
        block: FloatArray,
        fused: FusedHealth | None,
    ) -> None:
        """A block with what the kernel's loop counted of it (None: nothing, count it here).
        The counts are exact, so they are the NumPy path's; a block holding a NaN or an Inf
        is counted on the NumPy path, which also locates it."""
        if fused is None:
            self(layer, direction, steps, block)
        elif not self._add_fused(self._place(layer, direction), block, fused):
            self._numpy(layer, direction, steps, block)

    def _add_fused(self, place: _Place, block: FloatArray, fused: FusedHealth) -> bool:
        """Adds what the kernel counted of a block (c, B, G*H), the loop's or its block pass;
        False (nothing added) when an extreme is NaN or Inf, which the NumPy path counts."""
        if not np.isfinite(fused.extremes).all():  # (2, G*H): no overflowing sum to guard
            return False
        place.add(block.shape[0] * block.shape[1], fused.lowest, fused.highest)
        plan = fused.plan  # the block cut at the segments
        place.saturated.add_columns(plan.pieces[0][0], block.shape[1] * place.hidden,
                                    plan.rows, fused.counts)  # fmt: skip
        return True

    def plan(self, layer: int, direction: str, dtype: np.dtype[Any], first: int,
             count: int) -> HealthPlan:  # fmt: skip
        """How the kernel is to count steps first .. first + count - 1 of layer and direction
        (cells.base.HealthPlan): each column's thresholds and each step's piece of time."""
        self._place(layer, direction)  # counted from now on
        return block_plan(self.config.seq_len, self.config.hidden_size, self.tanh, dtype, first,
                          count)  # fmt: skip

    def _place(self, layer: int, direction: str) -> _Place:
        place = self.places.get((layer, direction))
        if place is None:
            place = self.places[(layer, direction)] = _Place(
                self.config.hidden_size, len(self.names), self.config.seq_len
            )
        return place

    def __call__(self, layer: int, direction: str, steps: Sequence[int], block: FloatArray) -> None:
        """block: (c, B, G*H) activations (PyTorch's gate order) of `steps`, which are in
        visiting order while block rows are in time order. Counted by the compiled kernel's
        block pass when it is loaded (the loop's own counts, one pass over the block), else
        (and for a block holding a NaN or an Inf) by NumPy."""
        k = kernel.active(block.dtype, len(steps)) if block.flags.c_contiguous else None
        if k is not None:
            first = min(steps[0], steps[-1])  # visiting order runs one way or the other
            counter = kernel.Counter(self.at(layer, direction), block,
                                     range(first, first + block.shape[0]))  # fmt: skip
            k.health(block, counter.args(0, block.shape[0]))
            if self._add_fused(self._place(layer, direction), block, counter.fused):
                return
        self._numpy(layer, direction, steps, block)

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
            finite = np.isfinite(gates)
            place.nonfinite += (~finite).sum(axis=(0, 2))
            self._locate(layer, direction, steps, block)
            # fmin/fmax skip NaN, so one bad value does not hide how the other values move
            lowest, highest = np.fmin.reduce(flat, axis=0), np.fmax.reduce(flat, axis=0)
        place.add(gates.shape[0], lowest, highest)
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
        return not self.config.proj_size and not any(
            p.nonfinite.any() for p in self.places.values()
        )

    def report(self) -> dict[str, Any]:
        """The JSON 'health' object."""
        gates = []
        order = [(self.names.index(name), name) for name in self.cell.report_order]
        for (layer, direction), place in self.places.items():
            # |max - min|: a unit that was never finite (inf - inf, +-inf, NaN) did not "stay
            # put", it is counted as NaN/Inf
            spread = np.abs(place.high - place.low) <= STUCK_TOLERANCE
            still = spread.reshape(len(self.names), place.hidden)
            stuck = None  # one value cannot show whether a unit moves
            if place.rows > 1 and still.any():
                stuck = [np.flatnonzero(s).tolist() for s in still]
            elif place.rows > 1:  # the common case: no gate to search
                stuck = [[] for _ in self.names]
            lows, highs, segments = place.saturated.report()
            nonfinite = place.nonfinite.tolist()
            for g, name in order:
                gates.append(
                    _gate_entry(layer, direction, name, place.values, lows[g], highs[g],
                                None if stuck is None else stuck[g], nonfinite[g], segments[g])
                )  # fmt: skip
        return {
            "saturation_threshold": SATURATION,
            "gates": gates,
            "first_nonfinite": self.first_nonfinite,
        }


@dataclass(frozen=True)
class _Watch:
    """One layer and direction of a HealthMonitor, as a runner sees it (cells.base's
    HealthWatch)."""

    monitor: HealthMonitor
    layer: int
    direction: str

    def plan(self, dtype: np.dtype[Any], first: int, count: int) -> HealthPlan:
        return self.monitor.plan(self.layer, self.direction, dtype, first, count)

    def __call__(self, steps: Sequence[int], block: FloatArray, fused: FusedHealth | None) -> None:
        self.monitor.counted(self.layer, self.direction, steps, block, fused)


def _gate_entry(
    layer: int,
    direction: str,
    gate: str,
    values: int,
    low: int,
    high: int,
    stuck: list[int] | None,
    nonfinite: int,
    segments: list[dict[str, Any]],
) -> dict[str, Any]:
    """One gate's entry of the report: its values, saturated counts and shares (in all, low
    and high), its stuck units (None: one value cannot show whether a unit moves), its NaN
    and Inf, its segments of time."""
    return {
        "layer": layer,
        "direction": direction,
        "gate": gate,
        "values": values,
        "saturated": low + high,
        "saturated_share": share(low + high, values),
        "saturated_low": share(low, values),
        "saturated_high": share(high, values),
        "saturated_low_count": low,
        "saturated_high_count": high,
        "stuck_count": None if stuck is None else len(stuck),
        "stuck_units": None if stuck is None else stuck[:MAX_LISTED],
        "nonfinite": nonfinite,
        "segments": segments,
    }


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
