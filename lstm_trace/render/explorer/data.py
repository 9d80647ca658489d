"""What an explorer page embeds: one JSON object, made from a Trace.

Arrays are little-endian float32 in base64 (NaN and Inf survive, and a number costs 5.3
characters); the rest is plain JSON. The object holds:

- ``maps``: per layer, direction and mapped tensor (the cell's gates, h_t and its own states),
  a (rows, cols) heatmap of batch row 0 from Trace.maps: rows are means over consecutive
  steps (fewer than the trace's when they exceed budget.page_map_rows), cols means over
  consecutive units beyond budget.MAP_COLUMNS, as the terminal heatmap makes them; each
  with its colour scale.
- ``steps``: the held steps (the trace's selection) and, per layer, direction and hook point,
  the values of batch row 0 at each held step, (held, n), and the record's stats there
  (min, max, mean, std over the whole tensor; NaN and Inf counts).
- ``reductions``: a sentence for everything the page shows reduced, which the page prints.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from ...cells.base import FloatArray
from ...config import LSTMConfig
from ...heatmaps import span_of
from ...records import TensorRecord, point_size, symbol_and_equation
from ...state_maps import StateMaps, rows_rule
from ...summary import Stats
from ...trace import Trace
from ..colors import NAN_COLOUR, VIRIDIS
from ..common import config_line, shape_text
from ..heatmap import fit_columns
from .budget import MAP_COLUMNS, page_map_rows

#: units of one tensor a held step embeds at most; wider ones keep their first units
VALUE_UNITS = 4096
#: the diverging scale of signed values, -limit .. 0 .. limit (blue, white, red)
DIVERGING = ("#2166ac", "#67a9cf", "#f7f7f7", "#ef8a62", "#b2182b")

Place = tuple[int, str]


def b64(array: FloatArray) -> str:
    """An array's values, row by row, as little-endian float32 in base64."""
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode("ascii")


def explorer_data(trace: Trace, held_rule: str | None = None) -> dict[str, Any]:
    """The page's JSON object (see the module docstring). held_rule: the sentence that says
    which steps the trace holds and why (budget.Holding.rule); the selection's rule if None."""
    cfg = trace.config
    places = [(k, d) for k in range(cfg.num_layers) for d in cfg.directions]
    reductions: list[str] = []
    maps = None if trace.maps is None else _maps(trace.maps, cfg, places, reductions)
    steps = _steps(trace, places, held_rule or trace.selection.rule, reductions)
    if cfg.batch is not None:
        reductions.append(
            f"Heatmaps and values show batch row 0 of {cfg.batch}; the stats are over the "
            "whole batch."
        )
    return {
        "format": "lstm-trace explorer 1",
        "config": config_line(cfg),
        "cell": cfg.cell,
        "seq_len": cfg.seq_len,
        "batch": cfg.batch,
        "places": [{"layer": k, "direction": d, "label": f"layer {k}, {d}"} for k, d in places],
        "palettes": {"viridis": list(VIRIDIS), "diverging": list(DIVERGING), "nan": NAN_COLOUR},
        "maps": maps,
        "steps": steps,
        "first_nonfinite": trace.health.get("first_nonfinite"),
        "reductions": reductions,
    }


def _maps(
    maps: StateMaps, cfg: LSTMConfig, places: list[Place], reductions: list[str]
) -> dict[str, Any]:
    """Every mapped tensor of every place as a heatmap, rows merged to the page's budget."""
    first = maps.first_steps()
    rows, rule = len(first), maps.rule()
    if rows > page_map_rows(cfg):
        rows = page_map_rows(cfg)
        rule = rows_rule(_merge_first(first, rows), cfg.seq_len)
    items: list[dict[str, Any]] = []
    groups: set[tuple[int, int]] = set()  # (units, units a column) of the reduced maps
    for layer, direction in places:
        for name in maps.tensors:
            matrix = maps.matrix(name, layer, direction)
            if rows < matrix.shape[0]:
                matrix = _merge(matrix, first, cfg.seq_len, rows)
            shown, group = fit_columns(matrix, MAP_COLUMNS)
            if group > 1:
                groups.add((int(matrix.shape[1]), group))
            symbol = symbol_and_equation(name, layer, direction, cfg)[0]
            items.append(
                {
                    "layer": layer,
                    "direction": direction,
                    "name": name,
                    "symbol": symbol,
                    "units": int(matrix.shape[1]),
                    "group": group,
                    "cols": int(shown.shape[1]),
                    "scale": _scale(name, cfg, shown),
                    "data": b64(shown),
                }
            )
    if rows < cfg.seq_len:
        reductions.append(f"Heatmap rows: {rule}.")
    for units, group in sorted(groups):
        reductions.append(
            f"Heatmap columns of {units:,} units: each is the mean of {group} consecutive units."
        )
    first_steps = first if rows == len(first) else _merge_first(first, rows)
    return {"rows": rows, "first_steps": first_steps, "rule": rule, "items": items}


def _groups(count: int, rows: int) -> np.ndarray:
    """The first of `count` rows merged into each of `rows` groups."""
    group_of = np.arange(count) * rows // count
    return np.flatnonzero(np.r_[True, group_of[1:] != group_of[:-1]])


def _merge_first(first: list[int], rows: int) -> list[int]:
    """The first step of each of `rows` groups of the rows starting at first."""
    return [first[int(s)] for s in _groups(len(first), rows)]


def _merge(matrix: FloatArray, first: list[int], seq_len: int, rows: int) -> FloatArray:
    """(R, n) means of the steps first[r] .. first[r+1]-1 as (rows, n) means of consecutive
    groups of them, each row weighed by its steps (NaN stays NaN)."""
    sizes = np.diff([*first, seq_len]).astype(np.float64)
    starts = _groups(len(first), rows)
    with np.errstate(invalid="ignore"):
        sums = np.add.reduceat(matrix * sizes[:, None], starts, axis=0)
    return sums / np.add.reduceat(sizes, starts)[:, None]


def _scale(name: str, cfg: LSTMConfig, shown: FloatArray) -> dict[str, Any]:
    """The colour scale of a map, over the span Heatmap draws it in (heatmaps.span_of): a
    sigmoid gate's 0 .. 1 (viridis), the rest diverging over -limit .. limit."""
    (low, high), _ = span_of(name, shown, cfg)
    if name in cfg.kind.report_order:
        sigmoid = low == 0.0
        text = "0 .. 1 (sigmoid)" if sigmoid else "-1 .. 1 (tanh)"
        return {"kind": "unit" if sigmoid else "signed", "limit": 1.0, "text": text}
    text = "-1 .. 1" if high == 1.0 else f"-{high:.3g} .. {high:.3g} (max |v|)"
    return {"kind": "signed", "limit": high, "text": text}


def _steps(trace: Trace, places: list[Place], rule: str, reductions: list[str]) -> dict[str, Any]:
    """The held steps, and per place and hook point their values and stats."""
    cfg, held = trace.config, trace.selection.steps
    records: dict[tuple[int, str, int, str], TensorRecord] = {
        (r.layer, r.direction, r.step, r.name): r for r in trace.tensors
    }
    kind = "values" if trace.values is not None else "samples"
    out = []
    cut = False
    for layer, direction in places:
        points = []
        for name in cfg.kind.hook_points:
            found = [records.get((layer, direction, s, name)) for s in held]
            values = _point_values(trace, layer, direction, name, found)
            cut |= kind == "values" and point_size(name, layer, cfg) > VALUE_UNITS
            symbol, equation = symbol_and_equation(name, layer, direction, cfg)
            shape = next((r.shape for r in found if r is not None), ())
            points.append(
                {
                    "name": name,
                    "symbol": symbol,
                    "equation": equation,
                    "shape": shape_text(shape),
                    "units": int(values.shape[1]),
                    "values": b64(values),
                    "stats": [_stats(None if r is None else r.stats) for r in found],
                }
            )
        out.append({"layer": layer, "direction": direction, "points": points})
    if len(held) < cfg.seq_len:
        reductions.append(f"Values are held for {rule}.")
    if cut:
        reductions.append(
            f"Values of a tensor wider than {VALUE_UNITS:,}: its first {VALUE_UNITS:,}."
        )
    return {"held": list(held), "rule": rule, "kind": kind, "samples": trace.samples, "places": out}


def _point_values(
    trace: Trace, layer: int, direction: str, name: str, found: list[TensorRecord | None]
) -> FloatArray:
    """(held, n) values of batch row 0 at each held step (NaN where none is kept): the full
    values when the trace kept them, else the records' samples."""
    if trace.values is None:
        k = max([len(r.sample) for r in found if r is not None] or [0])
        out = np.full((len(found), k), np.nan)
        for i, r in enumerate(found):
            if r is not None:
                out[i, : len(r.sample)] = [np.nan if v is None else v for v in r.sample]
        return out
    rows = []
    for step in trace.selection.steps:
        value = trace.values.get((name, layer, direction, step))
        rows.append(None if value is None else (value[0] if value.ndim == 2 else value))
    n = max([len(v) for v in rows if v is not None] or [0])
    out = np.full((len(rows), min(n, VALUE_UNITS)), np.nan)
    for i, v in enumerate(rows):
        if v is not None:
            out[i] = v[:VALUE_UNITS]
    return out


def _stats(stats: Stats | None) -> list[float | int | None] | None:
    """[min, max, mean, std, nan, inf], the floats to 7 significant digits (None where the
    tensor has no finite value)."""
    if stats is None:
        return None

    def num(v: float | None) -> float | None:
        return None if v is None else float(f"{v:.7g}")

    return [num(stats.min), num(stats.max), num(stats.mean), num(stats.std), stats.nan, stats.inf]
