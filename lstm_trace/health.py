"""Gate health: saturation, units that never move, and the first NaN or Inf.

Computed over every step, not only the traced ones, from the blocks of gate activations the
forward pass hands to an observer, so it costs a few vectorised operations per block rather
than hooks at every step.

- saturated: a sigmoid gate (forget, input, output) below 0.05 or above 0.95; the candidate,
  a tanh, beyond +-0.95. A saturated gate passes almost no gradient.
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

from .cell import HOOK_POINTS
from .config import LSTMConfig
from .weights import DIRECTIONS, GATE_ORDER, FloatArray, LSTMWeights

SATURATION = 0.05
STUCK_TOLERANCE = 1e-6
#: gate names in the order of the 4H axis (PyTorch's i, f, g, o)
GATES_BY_INDEX = ("input_gate", "forget_gate", "candidate", "output_gate")
#: the walkthrough's order, used for reports
REPORT_ORDER = ("forget_gate", "input_gate", "candidate", "output_gate")
#: stuck unit indices listed per gate; the rest are counted
MAX_LISTED = 20


@dataclass
class _Place:
    """Running totals for one layer and direction."""

    hidden: int
    values: int = 0  # per gate
    rows: int = 0  # steps x batch rows seen
    saturated: FloatArray = field(init=False)  # (4,) counts
    nonfinite: FloatArray = field(init=False)  # (4,) counts
    low: FloatArray = field(init=False)  # (4H,) running min (NaN-ignoring)
    high: FloatArray = field(init=False)  # (4H,) running max

    def __post_init__(self) -> None:
        self.saturated = np.zeros(4, dtype=np.int64)
        self.nonfinite = np.zeros(4, dtype=np.int64)
        self.low = np.full(4 * self.hidden, np.inf)
        self.high = np.full(4 * self.hidden, -np.inf)


class HealthMonitor:
    """A BlockObserver for forward(): accumulates health over every step."""

    def __init__(self, config: LSTMConfig) -> None:
        self.config = config
        self.places: dict[tuple[int, str], _Place] = {}
        self.first_nonfinite: dict[str, Any] | None = None

    def __call__(self, layer: int, direction: str, steps: Sequence[int], block: FloatArray) -> None:
        """block: (c, B, 4H) activations [i, f, g, o] of `steps`, which are in visiting order
        while block rows are in time order."""
        h = block.shape[-1] // 4
        place = self.places.setdefault((layer, direction), _Place(h))
        gates = block.reshape(-1, 4, h)  # (c*B, gate, unit)
        place.rows += gates.shape[0]
        place.values += gates.shape[0] * h
        flat = block.reshape(-1, 4 * h)
        lowest, highest = flat.min(axis=0), flat.max(axis=0)  # NaN if a column has one
        if not (np.isfinite(lowest).all() and np.isfinite(highest).all()):
            finite = np.isfinite(gates)
            place.nonfinite += (~finite).sum(axis=(0, 2))
            self._locate(layer, direction, steps, block)
            # fmin/fmax skip NaN, so one bad value does not hide how the other values move
            lowest, highest = np.fmin.reduce(flat, axis=0), np.fmax.reduce(flat, axis=0)
        np.fmin(place.low, lowest, out=place.low)
        np.fmax(place.high, highest, out=place.high)
        self._saturation(place, gates, lowest.reshape(4, h), highest.reshape(4, h))

    @staticmethod
    def _saturation(
        place: _Place, gates: FloatArray, lowest: FloatArray, highest: FloatArray
    ) -> None:
        """Counts values beyond the thresholds, a gate at a time; a gate whose extremes (of
        its finite values) stay inside them has none, so it is not scanned."""
        dtype = gates.dtype.type  # thresholds compared in the values' own precision
        low, high = dtype(SATURATION), dtype(1 - SATURATION)
        for g in range(4):
            # the candidate is a tanh: |v| > high, i.e. v > high or v < -high
            below = -high if g == 2 else low
            unit = gates[:, g, :]
            if lowest[g].min() < below:
                place.saturated[g] += np.count_nonzero(unit < below)
            if highest[g].max() > high:
                place.saturated[g] += np.count_nonzero(unit > high)

    def _locate(self, layer: int, direction: str, steps: Sequence[int], block: FloatArray) -> None:
        if self.first_nonfinite is not None:
            return
        first = min(steps)
        for t in steps:  # visiting order
            row = block[t - first].reshape(-1, 4, block.shape[-1] // 4)
            bad = ~np.isfinite(row).all(axis=(0, 2))
            for name in REPORT_ORDER:
                if bad[GATES_BY_INDEX.index(name)]:
                    self.first_nonfinite = {
                        "step": int(t),
                        "layer": layer,
                        "direction": direction,
                        "gate": name,
                    }
                    return

    def note_inputs(
        self, x: FloatArray, h0: FloatArray | None, c0: FloatArray | None, steps: int
    ) -> None:
        """Non-finite values that enter before any gate: in x (layer 0 reads it first, going
        forward) or in an initial state. Kept if they come before the first bad gate in the
        order the pass computes things."""
        d_count = self.config.num_directions
        candidates: list[tuple[tuple[int, int, int, int], dict[str, Any]]] = []
        if self.first_nonfinite is not None:
            f = self.first_nonfinite
            d = DIRECTIONS.index(f["direction"])
            visit = f["step"] if d == 0 else steps - 1 - f["step"]
            candidates.append(((f["layer"], d, visit, HOOK_POINTS.index(f["gate"])), f))
        per_step = x if x.ndim == 2 else x.transpose(1, 0, 2).reshape(x.shape[1], -1)
        bad_x = np.flatnonzero(~np.isfinite(per_step).all(axis=1))  # steps with a bad value
        if bad_x.size:
            t = int(bad_x[0])
            candidates.append(
                ((0, 0, t, 0), {"step": t, "layer": 0, "direction": "forward", "gate": "x"})
            )
        for name, state in (("h_prev", h0), ("c_prev", c0)):
            if state is None:
                continue
            rows = np.asarray(state).reshape(len(state), -1)
            for s in np.flatnonzero(~np.isfinite(rows).all(axis=1)):
                layer, d = divmod(int(s), d_count)
                step = 0 if d == 0 else steps - 1
                where = {"step": step, "layer": layer, "direction": DIRECTIONS[d], "gate": name}
                candidates.append(((layer, d, 0, HOOK_POINTS.index(name)), where))
        if candidates:
            self.first_nonfinite = min(candidates, key=lambda c: c[0])[1]

    def note_output(self, output: FloatArray) -> None:
        """A NaN or Inf that no gate held but h_t did: with a projection, h_t = W_hr (o_t *
        tanh(C_t)) is computed after the gates, so a bad W_hr shows first in the last layer's
        output (lower layers' reach the next layer's gates). output: (B, T, D*H_out) or
        (T, D*H_out); each direction's first bad step in the order the pass visits them."""
        if self.first_nonfinite is not None:
            return
        per_step = output if output.ndim == 2 else output.transpose(1, 0, 2)  # (T, [B,] D*H_out)
        d_count, steps = self.config.num_directions, per_step.shape[0]
        halves = np.split(per_step.reshape(steps, -1, d_count, self.config.h_out), d_count, 2)
        for d, half in enumerate(halves):
            bad = np.flatnonzero(~np.isfinite(half.reshape(steps, -1)).all(axis=1))
            if bad.size:
                step = int(bad[0] if d == 0 else bad[-1])  # the backward direction runs T-1 -> 0
                self.first_nonfinite = {
                    "step": step,
                    "layer": self.config.num_layers - 1,
                    "direction": DIRECTIONS[d],
                    "gate": "hidden_state",
                }
                return

    def report(self) -> dict[str, Any]:
        """The JSON 'health' object."""
        gates = []
        for (layer, direction), place in self.places.items():
            spread = place.high - place.low
            for name in REPORT_ORDER:
                g = GATES_BY_INDEX.index(name)
                units = spread[g * place.hidden : (g + 1) * place.hidden]
                stuck = (
                    # a unit that was never finite did not "stay put": it is counted as NaN/Inf
                    [
                        int(u)
                        for u in np.flatnonzero(np.isfinite(units) & (units <= STUCK_TOLERANCE))
                    ]
                    if place.rows > 1
                    else None  # one value cannot show whether a unit moves
                )
                gates.append(
                    {
                        "layer": layer,
                        "direction": direction,
                        "gate": name,
                        "values": place.values,
                        "saturated": int(place.saturated[g]),
                        "saturated_share": round(int(place.saturated[g]) / place.values, 6)
                        if place.values
                        else 0.0,
                        "stuck_count": None if stuck is None else len(stuck),
                        "stuck_units": None if stuck is None else stuck[:MAX_LISTED],
                        "nonfinite": int(place.nonfinite[g]),
                    }
                )
        return {
            "saturation_threshold": SATURATION,
            "gates": gates,
            "first_nonfinite": self.first_nonfinite,
        }


def nonfinite_weight(weights: LSTMWeights) -> str | None:
    """The first weight (in PyTorch's order of layers and directions) holding a NaN or an Inf,
    in the walkthrough's names: 'W_i at layer 0, forward'; None when all are finite. An Inf in
    a weight need not reach any value the pass computes: it can saturate a gate to exactly 0
    or 1."""
    for k, d, w in weights:
        h = w.hidden_size
        parts = [(w.w_ih, "W"), (w.w_hh, "W"), (w.b_ih, "b"), (w.b_hh, "b")]  # not summed:
        # two finite float32 biases of 3e38 add up to an Inf neither holds
        for array, kind in parts:
            bad = np.flatnonzero(~np.isfinite(array).reshape(4 * h, -1).all(axis=1))
            if bad.size:
                return f"{kind}_{GATE_ORDER[int(bad[0]) // h]} at layer {k}, {DIRECTIONS[d]}"
        if w.w_hr is not None and not np.isfinite(w.w_hr).all():
            return f"W_hr at layer {k}, {DIRECTIONS[d]}"
    return None
