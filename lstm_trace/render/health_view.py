"""Gate health as the human-readable views show it: per gate its saturated share on the low
and the high side, and a row of marks for the segments of time, one mark per segment.

Built from the JSON 'health' object (Trace.health), as plain strings: the table and Markdown
views (sections.py) and the tree view lay them out. A mark is a segment's share, in eighths:
'·' none, then ▁ up to 1/8, ▂ up to 2/8, ... █ up to all of its values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

#: a segment's mark: ZERO for no saturated value, else BARS[k - 1] for a share up to k/8
ZERO = "·"
BARS = "▁▂▃▄▅▆▇█"

Place = tuple[int, str]
#: the columns of the health table; a name ending in '>' is right-aligned
COLUMNS = ("layer>", "direction", "gate", "low>", "high>", "low over time", "high over time")


def marks(shares: Sequence[float]) -> str:
    """One mark per share: '·' for 0, else the eighth it reaches (▁ for (0, 1/8], █ for
    (7/8, 1]). Absolute, not scaled to the largest: ▁ always means a little."""
    return "".join(
        ZERO if s <= 0 else BARS[min(len(BARS), max(1, math.ceil(s * len(BARS)))) - 1]
        for s in shares
    )


def percent(share: float) -> str:
    """'9.4%'; '100%' rather than '100.0%', so that the table's columns fit 80 characters."""
    text = f"{100 * share:.1f}"
    return "100%" if text == "100.0" else f"{text}%"


def short(gate: str) -> str:
    """'forget_gate' -> 'forget': the gate's name as a column or a label."""
    return gate.removesuffix("_gate")


def by_place(health: Mapping[str, Any], order: Sequence[str]) -> dict[Place, list[dict[str, Any]]]:
    """The health's gates per layer and direction, each place's in order (the cell's
    report_order), places in the order the pass ran them."""
    places: dict[Place, list[dict[str, Any]]] = {}
    for g in health.get("gates", []):
        places.setdefault((g["layer"], g["direction"]), []).append(g)
    return {
        place: sorted(gates, key=lambda g: order.index(g["gate"]))
        for place, gates in places.items()
    }


def over_time(gate: Mapping[str, Any]) -> tuple[str, str]:
    """The gate's marks per segment of time, saturated low and saturated high."""
    segments = gate.get("segments", [])
    return (
        marks([s["saturated_low"] for s in segments]),
        marks([s["saturated_high"] for s in segments]),
    )


def rows(health: Mapping[str, Any], order: Sequence[str]) -> list[tuple[str, ...] | None]:
    """The table's rows (COLUMNS), one per gate, layer and direction on a place's first row,
    None between places."""
    out: list[tuple[str, ...] | None] = []
    for (layer, direction), gates in by_place(health, order).items():
        if out:
            out.append(None)
        for i, g in enumerate(gates):
            low, high = over_time(g)
            out.append(
                (
                    str(layer) if i == 0 else "",
                    direction if i == 0 else "",
                    short(g["gate"]),
                    percent(g["saturated_low"]),
                    percent(g["saturated_high"]),
                    low,
                    high,
                )
            )
    return out


def tree_lines(health: Mapping[str, Any], order: Sequence[str]) -> dict[Place, list[str]]:
    """Per layer and direction, a line per gate: its shares low and high, then its marks over
    time low and high, 'forget     low  50.0%  high  50.0%  █████····· ·····█████', and
    ', 3 stuck' or ', 12 NaN/Inf' after it when so."""
    out: dict[Place, list[str]] = {}
    for place, gates in by_place(health, order).items():
        width = max(len(short(g["gate"])) for g in gates)
        lines = []
        for g in gates:
            low, high = over_time(g)
            line = (
                f"{short(g['gate']):<{width}}  low {percent(g['saturated_low']):>6}  "
                f"high {percent(g['saturated_high']):>6}  {low} {high}"
            )
            lines.append(line + "".join(f", {t}" for t in _unit_notes(g)))
        out[place] = lines
    return out


def _unit_notes(gate: Mapping[str, Any]) -> list[str]:
    notes = []
    if gate["stuck_count"]:
        notes.append(f"{gate['stuck_count']} stuck")
    if gate["nonfinite"]:
        notes.append(f"{gate['nonfinite']:,} NaN/Inf")
    return notes


def units_note(health: Mapping[str, Any], order: Sequence[str]) -> str:
    """'Stuck or not finite: layer 0 forward output 1 stuck; ...' for the gates where units
    never move or values are NaN or Inf; '' when there are none."""
    parts = []
    for (layer, direction), gates in by_place(health, order).items():
        for g in gates:
            notes = _unit_notes(g)
            if notes:
                parts.append(f"layer {layer} {direction} {short(g['gate'])} {', '.join(notes)}")
    return f"Stuck or not finite: {'; '.join(parts)}. " if parts else ""


#: a gate with at least this share of its values on one side is named in the views' note
MOSTLY = 0.5
#: at most this many such gates are named; the rest are counted
MOSTLY_LISTED = 6


def mostly_note(health: Mapping[str, Any], order: Sequence[str]) -> str:
    """'Half or more on one side: forget high 76.0% (layer 0 forward); ... ' naming the side,
    which is the diagnosis (a forget gate shut forgets C_(t-1), wide open keeps it); ''
    when no gate is."""
    found = []
    for (layer, direction), gates in by_place(health, order).items():
        for g in gates:
            for side in ("low", "high"):
                if g[f"saturated_{side}"] >= MOSTLY:
                    found.append(
                        f"{short(g['gate'])} {side} {percent(g[f'saturated_{side}'])} "
                        f"(layer {layer} {direction})"
                    )
    if not found:
        return ""
    more = len(found) - MOSTLY_LISTED
    listed = "; ".join(found[:MOSTLY_LISTED]) + (f"; and {more} more" if more > 0 else "")
    return f"Half or more on one side: {listed}. "


def segments_rule(health: Mapping[str, Any]) -> str:
    """'Over time: the 25 steps in 10 segments (2 or 3 steps each), t = 0 on the left (a
    backward direction's too); a mark per segment, its share in eighths: · none, then
    ▁▂▃▄▅▆▇█ (▁ up to 12.5%, █ over 87.5%). '; '' without segments."""
    line = segments_line(health)
    return (
        f"Over time: {line[0]}, t = 0 on the left (a backward direction's too); a mark per "
        f"segment, {line[1]}. "
        if line
        else ""
    )


def segments_line(health: Mapping[str, Any]) -> tuple[str, str] | None:
    """('the 25 steps in 10 segments (2 or 3 steps each)', 'its share in eighths: · none,
    then ▁▂▃▄▅▆▇█ (▁ up to 12.5%, █ over 87.5%)'); None without segments."""
    gates = health.get("gates", [])
    if not gates or not gates[0].get("segments"):
        return None
    segments = gates[0]["segments"]
    sizes = sorted({s["stop"] - s["start"] for s in segments})
    steps, count = segments[-1]["stop"], len(segments)
    each = "one step each" if sizes == [1] else " or ".join(f"{n:,}" for n in sizes) + " steps each"
    return (
        f"the {steps:,} steps in {count} segments ({each})" if count > 1 else "the 1 step",
        f"its share in eighths: {ZERO} none, then {BARS} ({BARS[0]} up to 12.5%, "
        f"{BARS[-1]} over 87.5%)",
    )


def first_nonfinite_note(health: Mapping[str, Any]) -> str:
    first = health.get("first_nonfinite")
    if first is None:
        return "No NaN or Inf in any gate."
    return (
        f"First NaN or Inf: step {first['step']}, layer {first['layer']}, "
        f"{first['direction']}, {first['gate']}."
    )


#: what saturated means, per side, for every cell's gates (a cell's own gate names differ)
SIDES_RULE = (
    "Saturated low: a sigmoid gate below 0.05 (shut), the candidate below -0.95; high: above "
    "0.95 (a sigmoid gate wide open). Stuck: a unit that never moves. "
)
