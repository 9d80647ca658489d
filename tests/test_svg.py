"""The SVG pictures: valid self-contained SVG, the right shapes in the labels, no overlaps."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from lstm_trace import LSTMConfig
from lstm_trace.render import svg as svg_module
from lstm_trace.render.svg import (
    render_cell_svg,
    render_svg,
    render_unrolled_svg,
    svg_to_png,
)
from lstm_trace.render.svg_heatmap import render_heatmap_svg, viridis

NS = "{http://www.w3.org/2000/svg}"

WALKTHROUGH = LSTMConfig(input_size=32, hidden_size=70, seq_len=3)
BI_2_LAYER = LSTMConfig(
    input_size=32, hidden_size=70, batch=4, seq_len=5, num_layers=2, bidirectional=True
)
PROJ = LSTMConfig(input_size=32, hidden_size=70, proj_size=20)
CONFIGS = [
    WALKTHROUGH,
    BI_2_LAYER,
    PROJ,
    LSTMConfig(input_size=5, hidden_size=3, seq_len=1),
    LSTMConfig(input_size=300, hidden_size=1024, seq_len=12, num_layers=3, batch=256),
    LSTMConfig(input_size=7, hidden_size=9, seq_len=2, bidirectional=True, proj_size=4),
]
IDS = ["walkthrough", "bi-2-layer-batched", "proj", "tiny", "large", "bi-proj"]


def parse(svg: str) -> ET.Element:
    """The document parsed strictly; its root must be an <svg> with a viewBox and a size."""
    assert svg.startswith("<?xml")
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    width, height = float(root.attrib["width"]), float(root.attrib["height"])
    assert root.attrib["viewBox"] == f"0 0 {root.attrib['width']} {root.attrib['height']}"
    assert width > 100 and height > 100
    return root


def texts(root: ET.Element) -> list[str]:
    return [el.text or "" for el in root.iter(f"{NS}text")]


def self_contained(svg: str) -> None:
    assert "<script" not in svg
    assert 'href="http' not in svg and "xlink:href" not in svg
    assert "@import" not in svg and "<image" not in svg and "<foreignObject" not in svg


def dims(cfg: LSTMConfig, n: int) -> str:
    """Independent of the module: '(70)' unbatched, '(4, 70)' batched."""
    return f"({n})" if cfg.batch is None else f"({cfg.batch}, {n})"


# --- the layout: no label may touch a line, a box edge, a node or another label -----------

Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def _text_box(el: ET.Element) -> Box:
    size = float(el.attrib["font-size"])
    # DejaVu Sans Mono advances 0.602 em; the bold sans title is a little wider on average
    n = len(el.text or "")
    w = n * size * (0.66 if "title" in el.get("class", "") else 0.61)
    x, y = float(el.attrib["x"]), float(el.attrib["y"])
    anchor = el.get("text-anchor", "start")
    x0 = x - w / 2 if anchor == "middle" else x - w if anchor == "end" else x
    return (x0, y - 0.75 * size, x0 + w, y + 0.22 * size)


def _meets(a: Box, b: Box, pad: float = 0.0) -> bool:
    return a[0] < b[2] + pad and b[0] < a[2] + pad and a[1] < b[3] + pad and b[1] < a[3] + pad


def _segment_meets(p: tuple[float, float], q: tuple[float, float], box: Box) -> bool:
    """Liang-Barsky: does the segment pq pass through the box (grown by 1.5 px)?"""
    x0, y0, x1, y1 = box[0] - 1.5, box[1] - 1.5, box[2] + 1.5, box[3] + 1.5
    t0, t1 = 0.0, 1.0
    dx, dy = q[0] - p[0], q[1] - p[1]
    for pk, qk in ((-dx, p[0] - x0), (dx, x1 - p[0]), (-dy, p[1] - y0), (dy, y1 - p[1])):
        if pk == 0:
            if qk < 0:
                return False
            continue
        t = qk / pk
        if pk < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return False
    return True


def layout_problems(svg: str) -> list[str]:
    """Every label that overlaps another, crosses a line, straddles a box edge, sits on a
    node, or leaves the picture (for documents without transforms)."""
    root = parse(svg)
    assert "transform" not in svg
    width, height = float(root.attrib["width"]), float(root.attrib["height"])
    labels = [(el.text or "", _text_box(el), el) for el in root.iter(f"{NS}text")]
    segments = []
    for el in root.iter(f"{NS}polyline"):
        pts = [tuple(map(float, p.split(","))) for p in el.attrib["points"].split()]
        segments += list(zip(pts, pts[1:], strict=False))
    boxes = [
        (float(r.attrib["x"]), float(r.attrib["y"]))
        + (float(r.attrib["x"]) + float(r.attrib["width"]),)
        + (float(r.attrib["y"]) + float(r.attrib["height"]),)
        for r in root.iter(f"{NS}rect")
        if r.get("class")
    ]
    nodes = []
    for el in [*root.iter(f"{NS}ellipse"), *root.iter(f"{NS}circle")]:
        cx, cy = float(el.attrib["cx"]), float(el.attrib["cy"])
        rx = float(el.get("rx", el.get("r", "0")))
        ry = float(el.get("ry", el.get("r", "0")))
        nodes.append((cx, cy, (cx - rx, cy - ry, cx + rx, cy + ry)))
    problems = []
    for (s, a, _), (t, b, _) in combinations(labels, 2):
        if _meets(a, b, pad=1):
            problems.append(f"{s!r} overlaps {t!r}")
    for s, a, el in labels:
        if not (0 <= a[0] and a[2] <= width and 0 <= a[1] and a[3] <= height):
            problems.append(f"{s!r} leaves the picture")
        problems += [
            f"{s!r} crosses a line {p}-{q}" for p, q in segments if _segment_meets(p, q, a)
        ]
        for box in boxes:
            inside = box[0] <= a[0] and a[2] <= box[2] and box[1] <= a[1] and a[3] <= box[3]
            if _meets(a, box) and not inside:
                problems.append(f"{s!r} straddles the edge of a box {box}")
        x, y = float(el.attrib["x"]), float(el.attrib["y"])
        for cx, cy, nb in nodes:
            own = abs(x - cx) < 0.5 and abs(y - cy) < 8  # a node's own symbol
            if _meets(a, nb) and not own:
                problems.append(f"{s!r} sits on a node at ({cx}, {cy})")
    return problems


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_cell_layout_has_no_overlaps(cfg: LSTMConfig) -> None:
    assert layout_problems(render_cell_svg(cfg)) == []


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
@pytest.mark.parametrize("max_steps", [2, 4])
def test_unrolled_layout_has_no_overlaps(cfg: LSTMConfig, max_steps: int) -> None:
    assert layout_problems(render_unrolled_svg(cfg, max_steps)) == []
