"""Drawing primitives for the SVG pictures: text metrics, a Drawing of elements, documents.

Labels are monospace, so a label of n characters at size s is at most n * s * CHAR wide;
the pictures derive every position from those widths.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence

from ..config import LSTMConfig

SVG_NS = "http://www.w3.org/2000/svg"
FONT = 12  # px: shape labels
CHAR = 0.62  # em: advance of one monospace character (DejaVu Sans Mono: 0.602)
MONO = "'DejaVu Sans Mono',Menlo,Consolas,'Liberation Mono',monospace"
SANS = "'DejaVu Sans',Helvetica,Arial,sans-serif"
STYLE = f"""
text{{font-family:{MONO};fill:#222}} .title{{font-family:{SANS};font-weight:bold}}
.label{{fill:#1a4a8a}} .sym{{font-weight:bold}} .dot{{fill:#444}}
.wire{{fill:none;stroke:#444;stroke-width:1.6}} .cstate{{fill:none;stroke:#b23b2e;stroke-width:2.6}}
.gate{{fill:#fbe3a4;stroke:#a57c1b;stroke-width:1.4}} .proj{{fill:#d8ecd0;stroke:#4d7f3a}}
.op{{fill:#f6c9c4;stroke:#a3392f;stroke-width:1.4}} .body{{fill:#eef3fa;stroke:#8aa0bd}}
.cell{{fill:#dde9f7;stroke:#3d5a80;stroke-width:1.4}}
"""

Point = tuple[float, float]
SIGMA, TIMES = "\u03c3", "\u00d7"  # sigma and times, escaped for linters


def text_width(s: str, size: float = FONT) -> float:
    """An upper bound of the width of s in pixels, set in the monospace font at size."""
    return len(s) * size * CHAR


def fmt(v: float) -> str:
    return f"{v:.1f}".removesuffix(".0")


def dims(cfg: LSTMConfig, n: int) -> str:
    """The shape of a vector of n per sequence: '(70)' unbatched, '(4, 70)' with a batch of 4."""
    return f"({n})" if cfg.batch is None else f"({cfg.batch}, {n})"


def batch_notes(cfg: LSTMConfig) -> list[str]:
    """The cell diagrams' note on the batch, for either cell."""
    if cfg.batch is None:
        return []
    return [f"Batch {cfg.batch}: each vector is ({cfg.batch}, n), one row per sequence."]


def layer_notes(cfg: LSTMConfig, weight: str) -> list[str]:
    """The cell diagrams' note on the layers above the one drawn: what their x_t and X are,
    and the shape of their weight (W, or the GRU's W_r)."""
    if cfg.num_layers == 1:
        return []
    h, xin, k = cfg.h_out, cfg.output_size, cfg.num_layers - 1
    upper = {1: "layer 1 reads", 2: "layers 1 and 2 read"}.get(k, f"layers 1 to {k} read")
    what = f"[h_fwd, h_bwd] of 2 x {h} = {xin}" if cfg.bidirectional else f"h_t of {xin}"
    return [f"Layer 0 shown; {upper} x_t = {what} from below, so X = {h} + {xin} = "
            f"{h + xin} and {weight} is {cfg.hidden_size}x{h + xin}."]  # fmt: skip


def direction_notes(cfg: LSTMConfig) -> list[str]:
    """The cell diagrams' note on the backward direction, for either cell."""
    if cfg.bidirectional:
        return ["The backward direction has its own weights of the same shapes and reads "
                "t = T-1 down to 0."]  # fmt: skip
    if cfg.direction == "reverse":
        return ["Direction reverse: the one cell reads t = T-1 down to 0, so h_(t-1) is its "
                "state from step t+1."]  # fmt: skip
    return []


class Drawing:
    """A <g> of SVG elements and the size (width, height) of the area they cover."""

    def __init__(self) -> None:
        self.group = ET.Element("g")
        self.width = 0.0
        self.height = 0.0

    def add(self, tag: str, attrs: dict[str, str | float]) -> ET.Element:
        """Append an element; numbers are written with one decimal at most."""
        values = {k: v if isinstance(v, str) else fmt(v) for k, v in attrs.items()}
        return ET.SubElement(self.group, tag, values)

    def text(
        self,
        x: float,
        y: float,
        s: str,
        *,
        size: float = FONT,
        anchor: str = "start",
        cls: str = "label",
        middle: bool = False,
    ) -> None:
        """A line of text with its baseline at y (or centred on y when middle)."""
        base = y + 0.35 * size if middle else y
        el = self.add("text", {"x": x, "y": base, "font-size": size, "class": cls})
        if anchor != "start":
            el.set("text-anchor", anchor)
        el.text = s

    def wire(self, points: Sequence[Point], *, cls: str = "wire", arrow: bool = True) -> None:
        """A polyline through points, with an arrowhead at the last one."""
        attrs: dict[str, str | float] = {
            "points": " ".join(f"{fmt(x)},{fmt(y)}" for x, y in points),
            "class": cls,
        }
        if arrow:
            attrs["marker-end"] = "url(#arrow-c)" if cls == "cstate" else "url(#arrow)"
        self.add("polyline", attrs)

    def box(self, x: float, y: float, w: float, h: float, cls: str, r: float = 6) -> None:
        """A rounded rectangle with its top-left corner at (x, y)."""
        self.add("rect", {"x": x, "y": y, "width": w, "height": h, "rx": r, "class": cls})

    def node(self, x: float, y: float, symbol: str, rx: float = 13, ry: float = 13) -> None:
        """A pointwise operation: an ellipse centred on (x, y) with its symbol inside."""
        self.add("ellipse", {"cx": x, "cy": y, "rx": rx, "ry": ry, "class": "op"})
        size = 14 if ry > 10 else 11
        self.text(x, y, symbol, size=size, anchor="middle", cls="sym", middle=True)

    def dot(self, x: float, y: float) -> None:
        """A junction where a wire splits or two wires join."""
        self.add("circle", {"cx": x, "cy": y, "r": 3.5, "class": "dot"})

    def legend(self, y: float, items: Sequence[tuple[str, str]]) -> float:
        """A row of (kind, words) keys at y: a box for a layer ('gate', 'proj'), an ellipse
        for an operation ('op'), a wire of that class otherwise. Returns the row's right end."""
        x = 16.0
        for kind, s in items:
            if kind in ("gate", "proj"):
                self.box(x, y - 10, 26, 18, kind, 3)
            elif kind == "op":
                self.add("ellipse", {"cx": x + 13, "cy": y - 1, "rx": 12, "ry": 9, "class": "op"})
            else:
                self.wire([(x, y - 1), (x + 26, y - 1)], cls=kind)
            self.text(x + 34, y + 4, s, cls="legend")
            x += 34 + text_width(s) + 26
        return x

    def notes(self, y: float, lines: Sequence[str]) -> None:
        """Lines of notes under the legend at y; the drawing's height ends with them."""
        for i, note in enumerate(lines):
            self.text(16, y + 28 + 18 * i, note, cls="note")
        self.height = y + 28 + 18 * len(lines)


def document(
    parts: Iterable[tuple[Drawing, float]], title: str, defs: Iterable[ET.Element] = ()
) -> str:
    """The SVG document of the drawings, each placed at (0, its y offset), on white."""
    parts = list(parts)
    width = math.ceil(max(d.width for d, _ in parts))
    height = math.ceil(max(y + d.height for d, y in parts))
    root = ET.Element("svg", {"xmlns": SVG_NS, "version": "1.1"})
    root.attrib.update(width=str(width), height=str(height), viewBox=f"0 0 {width} {height}")
    ET.SubElement(root, "title").text = title
    ET.SubElement(root, "style", {"type": "text/css"}).text = STYLE
    defs_el = ET.SubElement(root, "defs")
    for name, colour in (("arrow", "#444"), ("arrow-c", "#b23b2e")):
        marker = ET.SubElement(defs_el, "marker", {"id": name, "viewBox": "0 0 10 10"})
        marker.attrib.update(refX="10", refY="5", markerWidth="10", markerHeight="10")
        marker.attrib.update(orient="auto", markerUnits="userSpaceOnUse")
        ET.SubElement(marker, "path", {"d": "M0,1 L10,5 L0,9 z", "fill": colour})
    defs_el.extend(defs)
    ET.SubElement(root, "rect", {"width": "100%", "height": "100%", "fill": "#ffffff"})
    for drawing, y in parts:
        if y:
            drawing.group.set("transform", f"translate(0,{fmt(y)})")
        root.append(drawing.group)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"
