"""An SVG heatmap of gate activations: time steps down, units across, viridis colours.

Pure: an array in, a self-contained SVG 1.1 document out, drawn with svg.py's helpers
(imported inside the function, because svg.py re-exports render_heatmap_svg).
The caller decides any downsampling and says how in the note; the picture shows one cell
per entry of the array it is given.
"""

from __future__ import annotations

import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .colors import NAN_COLOUR, VIRIDIS, viridis
from .svg_draw import FONT, Drawing, document, text_width


def _ticks(n: int, most: int = 5) -> list[int]:
    """Indices of 0..n-1 for ticks: every 1, 2, 5, 10, 20, 50, ... from 0, and the last one."""
    step = 1
    while (n - 1) / step > most:
        step = step * 5 // 2 if str(step)[0] == "2" else step * 2
    ticks = list(range(0, n, step))
    return [*ticks, n - 1] if n - 1 - ticks[-1] >= step / 2 else ticks


def render_heatmap_svg(
    values: ArrayLike,
    title: str,
    row_label: str,
    col_label: str,
    note: str = "",
    *,
    row_ids: Sequence[int] | None = None,
    col_ids: Sequence[int] | None = None,
    bar_labels: tuple[str, str, str] = ("0", "0.5", "1"),
) -> str:
    """A heatmap of values in [0, 1] of shape (rows, cols) as an SVG document.

    Drawn: the title; one cell per value (a <rect> inside the group of class
    'heatmap-cells', NaN cells grey with class 'nan'), coloured with viridis; row ticks on
    the left and column ticks below (row_ids and col_ids give the labels of the ticks, for
    example the time steps and units that survived downsampling; default: the indices);
    the axis labels; a colour bar labelled at 0, 0.5 and 1 with bar_labels (the values those
    stand for, when the caller scaled them), and a grey NaN swatch when there are NaNs; the
    note, wrapped, at the bottom.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] < 1 or v.shape[1] < 1:
        raise ValueError(f"values must be a non-empty 2-D array, got shape {v.shape}")
    rows, cols = v.shape
    rid = list(range(rows)) if row_ids is None else list(row_ids)
    cid = list(range(cols)) if col_ids is None else list(col_ids)
    if len(rid) != rows or len(cid) != cols:
        raise ValueError(f"row_ids and col_ids must have {rows} and {cols} entries")
    cw, rh = min(24.0, max(3.0, 640 / cols)), min(24.0, max(3.0, 400 / rows))
    rt, ct = _ticks(rows), _ticks(cols)
    d = Drawing()
    d.text(16, 28, title, size=17, cls="title")
    x0 = 16 + 22 + max(text_width(str(rid[r])) for r in rt) + 10
    y0, pw, ph = 52.0, cols * cw, rows * rh

    cells = ET.SubElement(d.group, "g", {"class": "heatmap-cells", "shape-rendering": "crispEdges"})
    cells.set("transform", f"translate({x0:g},{y0:g}) scale({cw:g},{rh:g})")
    colours = viridis(v)
    nan = np.isnan(v)
    for r in range(rows):
        row = ET.SubElement(cells, "g", {"transform": f"translate(0,{r})"})
        for c in range(cols):
            attrs = {"x": str(c), "width": "1", "height": "1", "fill": str(colours[r, c])}
            if nan[r, c]:
                attrs["class"] = "nan"
            ET.SubElement(row, "rect", attrs)
    d.add("rect", {"x": x0, "y": y0, "width": pw, "height": ph, "fill": "none", "stroke": "#555"})

    # axes: ticks with the row and column labels they stand for
    for r in rt:
        y = y0 + (r + 0.5) * rh
        d.add("line", {"x1": x0 - 5, "y1": y, "x2": x0, "y2": y, "stroke": "#555"})
        d.text(x0 - 8, y, str(rid[r]), anchor="end", middle=True, cls="tick")
    for c in ct:
        x = x0 + (c + 0.5) * cw
        d.add("line", {"x1": x, "y1": y0 + ph, "x2": x, "y2": y0 + ph + 5, "stroke": "#555"})
        d.text(x, y0 + ph + 18, str(cid[c]), anchor="middle", cls="tick")
    d.text(x0 + pw / 2, y0 + ph + 38, col_label, size=13, anchor="middle", cls="axis")
    yc = y0 + ph / 2
    d.text(24, yc, row_label, size=13, anchor="middle", cls="axis", middle=True)
    d.group[-1].set("transform", f"rotate(-90,24,{yc:g})")

    # colour bar, bottom 0 to top 1, and the NaN swatch
    xb, bh = x0 + pw + 24, max(ph, 120.0)
    d.add("rect", {"x": xb, "y": y0, "width": 16, "height": bh, "fill": "url(#viridis-bar)"})
    d.add("rect", {"x": xb, "y": y0, "width": 16, "height": bh, "fill": "none", "stroke": "#555"})
    for frac, label in zip((1.0, 0.5, 0.0), reversed(bar_labels), strict=True):
        y = y0 + (1 - frac) * bh
        d.add("line", {"x1": xb + 16, "y1": y, "x2": xb + 21, "y2": y, "stroke": "#555"})
        d.text(xb + 24, y, label, anchor="start", middle=True, cls="tick")
    right = xb + 24 + max(text_width(label) for label in bar_labels) + 16
    y_end = max(y0 + ph + 44, y0 + bh + 8)
    if nan.any():
        d.box(xb, y0 + bh + 14, 16, 12, "nan", 0)
        d.group[-1].set("fill", NAN_COLOUR)
        d.text(xb + 22, y0 + bh + 20, "NaN", middle=True, cls="tick")
        right, y_end = max(right, xb + 22 + text_width("NaN") + 16), max(y_end, y0 + bh + 30)

    width = max(right, text_width(title, 17) + 32, 360.0)
    lines = textwrap.wrap(note, max(40, int((width - 32) / (FONT * 0.62)))) if note else []
    for i, line in enumerate(lines):
        d.text(16, y_end + 22 + 17 * i, line, cls="note")
    d.width, d.height = width, y_end + 22 + 17 * len(lines)

    gradient = ET.Element("linearGradient", {"id": "viridis-bar", "x1": "0", "y1": "1"})
    gradient.attrib.update(x2="0", y2="0")
    for i, colour in enumerate(VIRIDIS):
        offset = f"{i / (len(VIRIDIS) - 1):g}"
        ET.SubElement(gradient, "stop", {"offset": offset, "stop-color": colour})
    return document([(d, 0)], title, defs=[gradient])
