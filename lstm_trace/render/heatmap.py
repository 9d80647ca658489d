"""The terminal heatmap: time steps down, units across, one gate's activation as colour.

Two steps share a text line (the upper half block takes the first as its colour, the
background the second); units are averaged into columns to fit the width, and both rules are
stated under the picture.
"""

from __future__ import annotations

import math

import numpy as np
from rich.console import Group, RenderableType
from rich.style import Style
from rich.text import Text

from ..cells.base import FloatArray
from .colors import viridis_rgb

LABEL = 7  # width of the step labels on the left


def fit_columns(matrix: FloatArray, width: int) -> tuple[FloatArray, int]:
    """Average groups of consecutive units so that at most `width` columns remain."""
    units = matrix.shape[1]
    group = max(1, math.ceil(units / max(width, 1)))
    if group == 1:
        return matrix, 1
    cols = math.ceil(units / group)
    padded = np.full((matrix.shape[0], cols * group), np.nan)
    padded[:, :units] = matrix
    with np.errstate(invalid="ignore"):
        means = np.nanmean(padded.reshape(matrix.shape[0], cols, group), axis=2)
    return means, group


def gate_span(gate: str) -> tuple[float, float]:
    """The values a gate's colours run between: (0, 1) for a sigmoid, (-1, 1) for the
    candidate (tanh)."""
    return (-1.0, 1.0) if gate == "candidate" else (0.0, 1.0)


def scale(matrix: FloatArray, gate: str, span: tuple[float, float] | None = None) -> FloatArray:
    """Values to [0, 1]: span (low, high) becomes (0, 1); by default the gate's own span,
    so a sigmoid gate stays as it is and the candidate (tanh) maps from [-1, 1]."""
    low, high = gate_span(gate) if span is None else span
    return (matrix - low) / (high - low)


def span_text(span: tuple[float, float]) -> str:
    """(-1.0, 1.0) -> '-1 .. 1': the legend's ends, in three digits."""
    return f"{span[0]:.3g} .. {span[1]:.3g}"


#: without colour (a pipe, NO_COLOR), shades of one character stand for the values
SHADES = " .:-=+*#%@"


def render_heatmap(
    matrix: FloatArray,
    gate: str,
    title: str,
    rows_rule: str,
    width: int,
    first_steps: list[int],
    color: bool = True,
    *,
    span: tuple[float, float] | None = None,
    note: str = "",
) -> RenderableType:
    """matrix: (rows, units) means; first_steps[r]: the first time step averaged into row r.

    With color, two rows per line in half blocks; without, one row per line in shades.
    span: the values the colours run between (default: the gate's, gate_span); note: a
    sentence added to the notes under the picture (how span was chosen)."""
    span = gate_span(gate) if span is None else span
    values, group = fit_columns(scale(matrix, gate, span), width - LABEL)
    notes = _notes(rows_rule, group, matrix.shape[1], per_line=2 if color else 1, note=note)
    lines: list[Text] = [Text(title, style="bold")]
    if not color:
        for r in range(values.shape[0]):
            cells = "".join(_shade(float(v)) for v in values[r])
            lines.append(Text(f"t={first_steps[r]:<4} "[:LABEL].ljust(LABEL) + cells))
        lines.append(Text(" " * LABEL + SHADES[1:] + f"  {span_text(span)} (shades; ? is NaN)"))
        return Group(*lines, notes)
    colours = viridis_rgb(values)  # (rows, cols, 3)
    for r in range(0, values.shape[0], 2):
        line = Text(f"t={first_steps[r]:<4} "[:LABEL].ljust(LABEL))
        lower = values[r + 1] if r + 1 < values.shape[0] else None
        for c in range(values.shape[1]):
            top = "rgb({},{},{})".format(*colours[r, c])
            bottom = None if lower is None else "rgb({},{},{})".format(*colours[r + 1, c])
            style = Style(color=top, bgcolor=bottom)
            line.append("▀", style=style)
        lines.append(line)
    legend = Text(" " * LABEL)
    for k in range(11):
        legend.append("█", style=Style(color="rgb({},{},{})".format(*viridis_rgb(k / 10))))
    legend.append(f"  {span_text(span)}")
    return Group(*lines, legend, notes)


def _shade(value: float) -> str:
    if math.isnan(value):
        return "?"
    return SHADES[min(int(min(max(value, 0.0), 1.0) * len(SHADES)), len(SHADES) - 1)]


def _notes(rows_rule: str, group: int, units: int, per_line: int, note: str = "") -> Text:
    cols_rule = (
        f"one column per unit ({units} units)"
        if group == 1
        else f"each column is the mean of {group} consecutive units ({units} units)"
    )
    lines, nan = ("two per line", "grey") if per_line == 2 else ("one per line", "?")
    return Text(
        f"Rows: {rows_rule}, {lines}. Columns: {cols_rule}. Batch row 0. NaN: {nan}."
        + (f" {note}" if note else ""),
        style="dim",
    )
