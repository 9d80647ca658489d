"""The JSON 'health' object of a HealthMonitor's running totals (health.py): per layer,
direction and gate, its values, saturated counts and shares, stuck units, NaN and Inf, and
segments of time; and the first NaN or Inf located in the pass."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .cells import Cell
from .health_plan import SATURATION
from .health_segments import share

if TYPE_CHECKING:
    from .health import _Place

#: a unit whose activation moves by no more than this over every step and row is stuck
STUCK_TOLERANCE = 1e-6
#: stuck unit indices listed per gate; the rest are counted
MAX_LISTED = 20


def report(
    cell: Cell, places: Mapping[tuple[int, str], _Place], first_nonfinite: dict[str, Any] | None
) -> dict[str, Any]:
    """The 'health' object: every place's gates in the cell's report order."""
    gates = []
    order = _report_order(cell)
    for (layer, direction), place in places.items():
        counts, rows, segments = place.saturated.report()
        seen = sum(rows)  # steps x batch rows
        stuck = _stuck(place, seen)
        for g, name in order:
            low, high, nonfinite = counts[g]
            gates.append(
                _gate_entry(layer, direction, name, seen * place.hidden, low, high,
                            None if stuck is None else stuck[g], nonfinite, segments[g])
            )  # fmt: skip
    return {"saturation_threshold": SATURATION, "gates": gates, "first_nonfinite": first_nonfinite}


@functools.cache
def _report_order(cell: Cell) -> tuple[tuple[int, str], ...]:
    """(index in the block's gate order, name) of each gate, in the cell's report order."""
    names = [g.name for g in cell.gates]
    return tuple((names.index(name), name) for name in cell.report_order)


def _stuck(place: _Place, rows: int) -> list[list[int]] | None:
    """Each gate's units whose extremes lie within STUCK_TOLERANCE over `rows` rows; None for
    a single row (one value cannot show whether a unit moves)."""
    if rows <= 1:
        return None
    low, high = place.extremes
    # in float64: a float32 difference of values of opposite signs is rounded, and could
    # round down onto the tolerance; -inf for a unit never finite, NaN for one only ever +Inf
    # (or -Inf): Inf - Inf, which is no invalid input here; both are searched below and not
    # stuck
    with np.errstate(invalid="ignore"):
        spread = np.subtract(high, low, dtype=np.float64)
    if spread.min() > STUCK_TOLERANCE:  # the common case: no gate to search
        return [[] for _ in range(place.gates)]
    # |max - min|: a unit that was never finite (inf - inf, +-inf) did not "stay put", it is
    # counted as NaN/Inf
    still = (np.abs(spread) <= STUCK_TOLERANCE).reshape(place.gates, place.hidden)
    return [np.flatnonzero(s).tolist() for s in still]


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
