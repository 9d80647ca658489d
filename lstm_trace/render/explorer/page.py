"""The explorer page: one self-contained HTML document for a Trace.

The table view's sections (html_parts.html_items), the cell diagram and the unrolled
network (inline SVG), the heatmaps and the step view (drawn by explorer.js from the JSON
object data.py makes, embedded as <script type="application/json" id="lt-data">) and gate
health with the first NaN or Inf. Script and style sheet are package data, inlined: the page
loads nothing, so it opens anywhere, offline.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from html import escape
from importlib import resources
from typing import Any

from ...trace import Trace
from ..html_parts import html_items, inline_svg
from ..sections import Item, Note, Section, sections
from ..svg import render_cell_svg, render_unrolled_svg
from .data import explorer_data

#: an SVG document's namespace attributes, which HTML does not need
_XMLNS = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')

#: the sections' table of gate health starts with these words
HEALTH_TITLE = "Gate health"


def asset(name: str) -> str:
    """A file shipped beside this module (explorer.js, explorer.css)."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def explorer_page(trace: Trace, held_rule: str | None = None, frameworks: bool = False) -> str:
    """The page for trace: its heatmaps need Trace.maps (trace(..., maps=True)), and its step
    view shows full values where the trace kept them (keep_values=True), else the records'
    samples. held_rule: the sentence saying which steps the trace holds (budget.Holding);
    frameworks: the PyTorch, Keras and ONNX tables too, as the table view's --frameworks."""
    data = explorer_data(trace, held_rule)
    shapes, health = _split(sections(replace(trace, tensors=[]), frameworks=frameworks))
    title = escape(f"lstm-trace explorer: {data['config']}")
    body = "\n".join(
        [
            _header(data),
            _section("lt-overview", "Shapes, weights and counts", html_items(shapes)),
            _explore(data),
            _section("lt-health", "Gate health", _health(data) + html_items(health)),
            _section("lt-pictures", "The cell and the unrolled network", _pictures(trace)),
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>\n{asset('explorer.css')}</style>\n</head>\n"
        f'<body>\n{body}\n<div id="lt-tip" class="lt-tip" hidden></div>\n'
        f'<script type="application/json" id="lt-data">{_json(data)}</script>\n'
        f"<script>\n{asset('explorer.js')}</script>\n</body>\n</html>\n"
    )


def _json(data: dict[str, Any]) -> str:
    """The data as JSON that cannot end its <script> element early ('<' escaped)."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def _split(items: list[Item]) -> tuple[list[Item], list[Item]]:
    """The sections without the configuration line (the page's headline) and the note on
    the shown steps (the step view says its own), and apart from them gate health: its
    table and the note after it (the frameworks' tables, when asked for, come after)."""
    kept = [i for i in items[1:] if not (isinstance(i, Note) and i.text.startswith("Showing "))]
    at = next(
        (
            n
            for n, i in enumerate(kept)
            if isinstance(i, Section) and i.title.startswith(HEALTH_TITLE)
        ),
        len(kept),
    )
    return kept[:at] + kept[at + 2 :], kept[at : at + 2]


def _section(ident: str, title: str, inner: str) -> str:
    """A part of the page: <section id=ident> with its <h2> title."""
    return f'<section id="{ident}" class="lt-part">\n<h2>{escape(title)}</h2>\n{inner}\n</section>'


def _header(data: dict[str, Any]) -> str:
    """The title, the configuration line, the links to each part, and every reduction."""
    links = "".join(
        f'<a href="#{i}">{t}</a>'
        for i, t in (
            ("lt-overview", "Shapes"),
            ("lt-heatmaps", "Heatmaps"),
            ("lt-steps", "Steps"),
            ("lt-health", "Health"),
            ("lt-pictures", "Diagrams"),
        )
    )
    reduced = "".join(f"<li>{escape(r)}</li>" for r in data["reductions"])
    notes = f'<ul class="lt-reductions">{reduced}</ul>' if reduced else ""
    return (
        '<header class="lt-top">\n<h1>lstm-trace explorer</h1>\n'
        f'<p class="lt-headline">{escape(data["config"])}</p>\n<nav>{links}</nav>\n{notes}\n'
        "</header>"
    )


def _pictures(trace: Trace) -> str:
    """The cell diagram and the unrolled network, inline; an SVG document's namespace
    attributes are not needed in HTML, and the page names no address at all."""
    svgs = [
        inline_svg(render_cell_svg(trace.config)),
        inline_svg(render_unrolled_svg(trace.config)),
    ]
    return "\n".join(
        f'<div class="lt-picture">{_own_ids(_XMLNS.sub("", s), f"lt-svg{k}-")}</div>'
        for k, s in enumerate(svgs)
    )


def _own_ids(svg: str, prefix: str) -> str:
    """The picture's ids (its arrow markers) and references to them, prefixed: ids are one
    namespace across the whole page, and each picture defines the same ones."""
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}\1"', svg)
    return re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}\1)", svg)


def _explore(data: dict[str, Any]) -> str:
    """The heatmaps and the step view, filled in by the script, under a bar that stays in
    sight: the layer and direction shown, and the step slider."""
    return "\n".join([_controls(data), _heatmaps(data), _steps(data)])


def _controls(data: dict[str, Any]) -> str:
    """The sticky bar: the layer and direction chooser and the step slider over 0 .. T-1
    (the script snaps it to the held steps)."""
    first = data["steps"]["held"][0] if data["steps"]["held"] else 0
    return (
        '<div class="lt-controls"><label>Layer and direction <select id="lt-place"></select>'
        '</label><div class="lt-slider"><button type="button" id="lt-prev" '
        'aria-label="the held step before">&#9664;</button>'
        f'<input type="range" id="lt-step" min="0" max="{data["seq_len"] - 1}" '
        f'value="{first}" step="1" aria-label="time step">'
        '<button type="button" id="lt-next" aria-label="the next held step">&#9654;</button>'
        '<output id="lt-step-label" for="lt-step"></output></div></div>'
    )


def _heatmaps(data: dict[str, Any]) -> str:
    """The heatmaps' part: how to read them (rows, t = 0, hover, click) and their box."""
    maps = data["maps"]
    backward = any(p["direction"] == "backward" for p in data["places"])
    top = "t = 0 at the top, a backward direction's too" if backward else "t = 0 at the top"
    rule = (
        f"Steps down ({top}), units across; rows: {maps['rule']}. Hover a cell for its step, "
        "unit and value; click it to show that step's values below; the line marks the "
        "slider's step."
        if maps is not None
        else "This trace kept no heatmaps: trace(..., maps=True) keeps them."
    )
    return _section(
        "lt-heatmaps",
        "Heatmaps of every gate and state",
        f'<p class="lt-rule">{escape(rule)} <span class="lt-nan">NaN</span></p>\n'
        '<div id="lt-maps" class="lt-maps"></div>',
    )


def _steps(data: dict[str, Any]) -> str:
    """The step view: which steps are held, and the table the script fills."""
    steps = data["steps"]
    held = steps["held"]
    listed = ", ".join(str(s) for s in held)
    # a trace that kept no values shows its records' samples: the strip is theirs, not every unit
    strip = "every unit" if steps["kind"] == "values" else "the samples"
    return _section(
        "lt-steps",
        "Every tensor at one step",
        f'<p class="lt-rule">Values held for {escape(steps["rule"])}; the slider moves '
        "between them (the heatmaps cover every step). Every unit: a strip of colour, on "
        "the scale of the tensor's heatmap when the step's values fit it (the gates, h), else "
        "over \u00b1m, m its largest |value| at the step; hover it for a unit's value and "
        "the scale.</p>\n"
        f'<details class="lt-held"><summary>The {len(held):,} held steps</summary>'
        f"<p>{listed}</p></details>\n"
        '<div class="lt-scroll"><table id="lt-values" class="lt-table lt-values">'
        "<thead><tr><th>tensor</th>"
        '<th>symbol</th><th>shape</th><th class="num">min</th><th class="num">max</th>'
        '<th class="num">mean</th><th class="num">std</th><th class="num">NaN/Inf</th>'
        f"<th>{_values_head(data)}</th><th>{strip}</th></tr></thead>"
        "<tbody></tbody></table></div>",
    )


def _values_head(data: dict[str, Any]) -> str:
    """The values column's head: full values or the records' samples, of batch row 0."""
    steps = data["steps"]
    row0 = ", batch row 0" if data["batch"] is not None else ""
    if steps["kind"] == "samples":
        return f"first {steps['samples']} (samples{row0})"
    return f"values{row0}"


def _health(data: dict[str, Any]) -> str:
    """The first NaN or Inf, highlighted, with a button that shows its step; or that there
    is none."""
    first = data["first_nonfinite"]
    if first is None:
        return '<p class="lt-callout lt-ok">No NaN or Inf in any gate.</p>'
    where = f"step {first['step']}, layer {first['layer']}, {first['direction']}, {first['gate']}"
    button = (
        f' <button type="button" id="lt-jump-nan" data-step="{first["step"]}">'
        f"Show step {first['step']}</button>"
        if first["step"] in data["steps"]["held"]
        else ""
    )
    return (
        f'<p class="lt-callout lt-bad" id="lt-first-nan">First NaN or Inf: {escape(where)}.'
        f"{button}</p>"
    )
