"""The HTML pieces: the table view's sections as tables, the pictures inline and scoped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from lstm_trace import LSTMConfig, trace
from lstm_trace.render.html_parts import SVG_CLASS, html_items, html_table, inline_svg
from lstm_trace.render.sections import Section, sections
from lstm_trace.render.svg import render_svg


def test_sections_become_escaped_tables() -> None:
    s = Section.of("W <&> b", "name", "count>")
    s.add("W_f", "7,140")
    s.rows.append(None)
    s.add("<b>", "1")
    html = html_table(s)
    assert "<caption>W &lt;&amp;&gt; b</caption>" in html
    assert '<th class="num">count</th>' in html and '<td class="num">7,140</td>' in html
    assert "<td>&lt;b&gt;</td>" in html and 'class="lt-break"' in html
    ET.fromstring(html)  # well formed


def test_the_walkthrough_numbers_are_in_the_tables() -> None:
    t = trace(LSTMConfig(input_size=32, hidden_size=70, direction="bi"))
    html = html_items(sections(t))
    assert html.startswith('<p class="lt-headline">')
    for text in ("70 x 102", "70 + 32 = 102", "140", "28,560", "57,680"):
        assert text in html, text


def test_inline_svg_is_scoped() -> None:
    svg = inline_svg(render_svg(LSTMConfig(input_size=32, hidden_size=70)))
    assert not svg.startswith("<?xml") and f'<svg class="{SVG_CLASS}"' in svg
    style = svg[svg.index("<style") : svg.index("</style>")]
    rules = [r.split("{")[0].strip() for r in style.split(">", 1)[1].split("}") if "{" in r]
    assert rules and all(r.startswith(f"svg.{SVG_CLASS} ") for r in rules), rules
    assert "W_f" in svg and "70x102" in svg
    ET.fromstring(svg)
