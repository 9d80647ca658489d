"""The SVG pictures: valid self-contained SVG, the right shapes in the labels, no overlaps."""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from itertools import combinations, pairwise
from pathlib import Path

import numpy as np
import pytest

from lstm_trace import LSTMConfig
from lstm_trace.render.colors import viridis
from lstm_trace.render.png import svg_to_png
from lstm_trace.render.svg import (
    render_cell_svg,
    render_svg,
    render_unrolled_svg,
)
from lstm_trace.render.svg_heatmap import render_heatmap_svg

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
        pairs = [p.split(",") for p in el.attrib["points"].split()]
        pts = [(float(x), float(y)) for x, y in pairs]
        segments += list(pairwise(pts))
    boxes = []
    for r in root.iter(f"{NS}rect"):
        if r.get("class"):  # boxes; the unclassed background does not count
            x, y = float(r.attrib["x"]), float(r.attrib["y"])
            boxes.append((x, y, x + float(r.attrib["width"]), y + float(r.attrib["height"])))
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
        if not (a[0] >= 0 and a[1] >= 0 and a[2] <= width and a[3] <= height):
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


# --- what the pictures say ------------------------------------------------------------------


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_cell_labels_carry_the_shapes(cfg: LSTMConfig) -> None:
    svg = render_cell_svg(cfg)
    self_contained(svg)
    labels = texts(parse(svg))
    h, i = cfg.hidden_size, cfg.input_size
    h_out = cfg.proj_size or h  # computed here, not with the config's helpers
    x = h_out + i
    for g in "fico":
        assert f"W_{g} {h}x{x}" in labels
        assert f"b_{g} {h}" in labels
    expected = [
        f"x_t {dims(cfg, i)}",
        f"h_(t-1) {dims(cfg, h_out)}",
        f"C_(t-1) {dims(cfg, h)}",
        f"X = [h, x] {dims(cfg, x)}",
        dims(cfg, x),
        f"f_t {dims(cfg, h)}",
        f"i_t {dims(cfg, h)}",
        f"C~_t {dims(cfg, h)}",
        f"o_t {dims(cfg, h)}",
        f"C_t {dims(cfg, h)}",
        f"tanh(C_t) {dims(cfg, h)}",
        f"h_t {dims(cfg, h_out)}",
    ]
    missing = [s for s in expected if s not in labels]
    assert missing == []
    assert labels.count(dims(cfg, x)) == 4  # one branch of X into each gate
    assert labels[0].startswith(f"LSTM cell: input {i}, hidden {h}")
    assert any("sigmoid" in s for s in labels)  # the legend's notes


def test_cell_walkthrough_numbers() -> None:
    labels = texts(parse(render_cell_svg(WALKTHROUGH)))
    assert labels[0] == "LSTM cell: input 32, hidden 70"
    joined = "\n".join(labels)
    for s in ["x_t (32)", "h_(t-1) (70)", "X = [h, x] (102)", "W_f 70x102", "b_f 70", "(102)"]:
        assert s in labels
    assert "70 + 32 = 102" in joined
    assert "W_hr" not in joined and "(4, " not in joined


def test_cell_with_projection_shows_w_hr_and_p() -> None:
    labels = texts(parse(render_cell_svg(PROJ)))
    joined = "\n".join(labels)
    assert "W_hr 20x70" in labels  # on the h_t path: P x H
    assert "(70)" in labels  # o_t * tanh(C_t) before the projection
    assert "h_t (20)" in labels and "h_(t-1) (20)" in labels and "C_t (70)" in labels
    assert "W_f 70x52" in labels and "X = [h, x] (52)" in labels  # X = P + I = 52
    assert "proj 20" in labels[0]
    assert "projection W_hr (20 x 70)" in joined


def test_cell_batched_shapes_gain_a_leading_batch() -> None:
    labels = texts(parse(render_cell_svg(BI_2_LAYER)))
    joined = "\n".join(labels)
    assert "f_t (4, 70)" in labels and "x_t (4, 32)" in labels and "(4, 102)" in labels
    assert "W_f 70x102" in labels  # weights have no batch dimension
    # the upper layer reads D * h_out = 140, so its X is 70 + 140 = 210
    assert "140" in joined and "70 + 140 = 210" in joined and "70x210" in joined


def test_unrolled_walkthrough() -> None:
    svg = render_unrolled_svg(WALKTHROUGH)
    self_contained(svg)
    labels = texts(parse(svg))
    assert labels.count("L0 fwd") == 3
    assert [s for s in labels if s.startswith("x_")] == ["x_0 (32)", "x_1 (32)", "x_2 (32)"]
    assert [s for s in labels if s.startswith("y_")] == ["y_0 (70)", "y_1 (70)", "y_2 (70)"]
    assert labels.count("h (70)") == 2 and labels.count("C (70)") == 2
    assert "output (3, 70); h_n (1, 70); c_n (1, 70)" in labels
    assert "\u2026" not in labels  # nothing elided


def test_unrolled_bidirectional_two_layers_batched() -> None:
    labels = texts(parse(render_unrolled_svg(BI_2_LAYER)))
    # T = 5 > 4: steps 0, 1, 2, an ellipsis, and 4
    for name in ("L0 fwd", "L0 bwd", "L1 fwd", "L1 bwd"):
        assert labels.count(name) == 4
    assert [s for s in labels if s.startswith("x_")] == [f"x_{t} (4, 32)" for t in (0, 1, 2, 4)]
    assert [s for s in labels if s.startswith("y_")] == [f"y_{t} (4, 140)" for t in (0, 1, 2, 4)]
    assert labels.count("(4, 140)") == 4  # layer 1's input in each drawn column
    # 4 rows x 4 gaps between the 5 columns (cells and ellipsis), one h and one C each
    assert labels.count("h (4, 70)") == 16 and labels.count("C (4, 70)") == 16
    assert "output (4, 5, 140); h_n (4, 4, 70); c_n (4, 4, 70)" in labels
    assert any("step 3 is elided" in s for s in labels)
    assert "cat = [forward h_t, backward h_t]: 70 + 70 = 140 entries." in labels


def test_unrolled_caption_with_projection_and_elision() -> None:
    cfg = LSTMConfig(input_size=7, hidden_size=9, seq_len=12, bidirectional=True, proj_size=4)
    labels = texts(parse(render_unrolled_svg(cfg, max_steps=3)))
    assert labels.count("L0 fwd") == 3  # steps 0, 1 and 11
    assert "output (12, 8); h_n (2, 4); c_n (2, 9)" in labels
    assert "h (4)" in labels and "C (9)" in labels
    assert any("steps 0 to 1 and 11 drawn; steps 2 to 10 are elided" in s for s in labels)
    with pytest.raises(ValueError, match="max_steps"):
        render_unrolled_svg(cfg, max_steps=1)


def test_render_svg_combines_both_pictures() -> None:
    root = parse(render_svg(BI_2_LAYER))
    labels = texts(root)
    assert labels[0].startswith("LSTM cell")
    assert any(s.startswith("Unrolled over T = 5: 2 layers, bidirectional") for s in labels)
    groups = [g for g in root if g.tag == f"{NS}g"]
    assert len(groups) == 2 and groups[1].get("transform", "").startswith("translate(0,")
    # a single step of a single layer needs no unrolled picture
    one = texts(parse(render_svg(LSTMConfig(seq_len=1))))
    assert not any(s.startswith("Unrolled") for s in one)


# --- the heatmap ------------------------------------------------------------------------------


def cells(root: ET.Element) -> list[ET.Element]:
    (group,) = [g for g in root.iter(f"{NS}g") if g.get("class") == "heatmap-cells"]
    return list(group.iter(f"{NS}rect"))


def test_heatmap_has_one_cell_per_value_and_a_colour_bar() -> None:
    values = np.linspace(0, 1, 40 * 70).reshape(40, 70)
    svg = render_heatmap_svg(values, "Forget gate", "time step", "unit", "every 10th step")
    self_contained(svg)
    root = parse(svg)
    rects = cells(root)
    assert len(rects) == 40 * 70
    assert rects[0].get("fill") == "#440154" and rects[-1].get("fill") == "#fde725"
    labels = texts(root)
    assert labels[0] == "Forget gate"
    for s in ["time step", "unit", "every 10th step", "0", "1", "39", "60"]:
        assert s in labels
    stops = list(root.iter(f"{NS}stop"))
    assert len(stops) == 11 and stops[0].get("stop-color") == "#440154"
    assert len(svg.encode()) < 200_000


def test_heatmap_draws_nan_grey_and_says_so() -> None:
    values = np.full((3, 5), 0.5)
    values[1, 2] = np.nan
    root = parse(render_heatmap_svg(values, "t", "rows", "cols", "", row_ids=[0, 5, 9]))
    rects = cells(root)
    assert len(rects) == 15
    nan = [r for r in rects if r.get("class") == "nan"]
    assert len(nan) == 1 and nan[0].get("fill") == "#a6a6a6"
    labels = texts(root)
    assert "NaN" in labels and "9" in labels  # the row ids label the ticks
    clean = texts(parse(render_heatmap_svg(np.zeros((2, 2)), "t", "r", "c", "")))
    assert "NaN" not in clean


def test_heatmap_text_is_escaped() -> None:
    svg = render_heatmap_svg(np.zeros((2, 2)), "a < b & c", "r<", "c>", 'say "<script>"')
    self_contained(svg)
    labels = texts(parse(svg))
    assert "a < b & c" in labels and 'say "<script>"' in labels


def test_heatmap_rejects_what_it_cannot_draw() -> None:
    with pytest.raises(ValueError, match="2-D"):
        render_heatmap_svg(np.zeros(5), "t", "r", "c", "")
    with pytest.raises(ValueError, match="2-D"):
        render_heatmap_svg(np.zeros((0, 3)), "t", "r", "c", "")
    with pytest.raises(ValueError, match="entries"):
        render_heatmap_svg(np.zeros((2, 3)), "t", "r", "c", "", row_ids=[1])


def test_viridis_interpolates_and_clips() -> None:
    colours = viridis([0.0, 0.05, 0.5, 1.0, 1.7, -3.0, np.nan])
    # 0.05 is halfway between the anchors #440154 and #482475
    expected = ["#440154", "#461264", "#21918c", "#fde725", "#fde725", "#440154", "#a6a6a6"]
    assert list(colours) == expected


# --- PNG --------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("rsvg-convert") is None, reason="rsvg-convert is not installed")
def test_svg_to_png_with_rsvg_convert(tmp_path: Path) -> None:
    svg = render_svg(WALKTHROUGH)
    root = parse(svg)
    data = svg_to_png(svg)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (int(root.attrib["width"]), int(root.attrib["height"]))


def test_svg_to_png_without_a_converter(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(os.path, "exists", lambda path: False)
    with pytest.raises(FileNotFoundError, match="rsvg-convert or chromium") as info:
        svg_to_png(render_cell_svg(WALKTHROUGH))
    assert "apt-get install librsvg2-bin" in str(info.value)


def test_svg_to_png_falls_back_to_headless_chromium(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[list[str]] = []

    def run(command: list[str], **kwargs: object) -> object:
        calls.append(command)
        shot = next(a for a in command if a.startswith("--screenshot="))
        Path(shot.split("=", 1)[1]).write_bytes(b"\x89PNG fake")
        return subprocess.CompletedProcess(command, 0, b"", b"")

    monkeypatch.setattr(
        shutil, "which", lambda name: "/opt/chromium" if name == "chromium" else None
    )
    monkeypatch.setattr(subprocess, "run", run)
    svg = render_cell_svg(WALKTHROUGH)
    root = parse(svg)
    assert svg_to_png(svg) == b"\x89PNG fake"
    (command,) = calls
    assert command[0] == "/opt/chromium"
    for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]:
        assert flag in command
    assert f"--window-size={root.attrib['width']},{root.attrib['height']}" in command
    assert any(a.startswith("--user-data-dir=") for a in command)
    assert command[-1].startswith("file:///") and command[-1].endswith(".svg")


# --- the committed example pictures -----------------------------------------------------------

PICTURES = Path(__file__).parent.parent / "examples" / "pictures"


#: the heatmap in examples/pictures is the tool's own: this command, in float64 so that a
#: different BLAS cannot move a colour
HEATMAP_COMMAND = ["--format", "heatmap", "-T", "400", "--dtype", "float64", "--seed", "1"]


def forget_gate_example() -> str:
    """What `lstm-trace --format heatmap -T 400 --dtype float64 --seed 1 --svg FILE` writes."""
    import tempfile

    from lstm_trace.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "heatmap.svg"
        assert main([*HEATMAP_COMMAND, "--svg", str(path)]) == 0
        return path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("walkthrough", lambda: render_svg(WALKTHROUGH)),
        ("bidirectional-2-layer", lambda: render_svg(BI_2_LAYER)),
        ("forget-gate-heatmap", forget_gate_example),
    ],
)
def test_example_pictures_are_current(name: str, make: Callable[[], str]) -> None:
    """examples/pictures/*.svg are what the renderers draw now. UPDATE_GOLDEN=1 rewrites them,
    and the PNGs of the two network pictures when rsvg-convert (or chromium) is there."""
    svg, path = make(), PICTURES / f"{name}.svg"
    if os.environ.get("UPDATE_GOLDEN"):
        PICTURES.mkdir(exist_ok=True)
        path.write_text(svg, encoding="utf-8")
        if name != "forget-gate-heatmap":
            path.with_suffix(".png").write_bytes(svg_to_png(svg))
    assert svg == path.read_text(encoding="utf-8"), f"{path} differs; UPDATE_GOLDEN=1 redraws it"
    assert path.stat().st_size < 200_000
    self_contained(svg)
