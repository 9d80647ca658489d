"""HTML pieces shared by the notebook display and the explorer page: the table view's
sections as HTML tables, and the SVG pictures inline.

Pure strings in, strings out; every piece of text is escaped. The pictures' own style sheet
is scoped to their <svg> element, so that inlined in a notebook or a page it styles nothing
else (an inline <style> applies to the whole document).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html import escape

from .sections import Item, Note, Section

#: the class every inlined picture carries, which its scoped style sheet selects
SVG_CLASS = "lt-svg"

_RULE = re.compile(r"([^{}]+)\{")


def html_items(items: Iterable[Item]) -> str:
    """Sections as <table>s (a title caption, right-aligned columns where the table view
    aligns them, a None row as a break between groups), notes as <p>s; the first note, the
    configuration line, as the headline."""
    out: list[str] = []
    for i, item in enumerate(items):
        if isinstance(item, Note):
            kind = "lt-headline" if i == 0 else ("lt-aside" if item.dim else "lt-note")
            out.append(f'<p class="{kind}">{escape(item.text)}</p>')
        else:
            out.append(html_table(item))
    return "\n".join(out)


def html_table(section: Section) -> str:
    """A Section as a <table class="lt-table">; a column whose name ends in '>' is
    right-aligned (class "num"); a None row becomes a thin break row."""
    right = [c.endswith(">") for c in section.columns]
    head = "".join(
        f"<th{_num(r)}>{escape(c.rstrip('>'))}</th>"
        for c, r in zip(section.columns, right, strict=True)
    )
    body: list[str] = []
    for row in section.rows:
        if row is None:
            body.append(f'<tr class="lt-break"><td colspan="{len(right)}"></td></tr>')
        else:
            cells = "".join(
                f"<td{_num(r)}>{escape(v)}</td>" for v, r in zip(row, right, strict=True)
            )
            body.append(f"<tr>{cells}</tr>")
    return (
        f'<table class="lt-table"><caption>{escape(section.title)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def _num(right: bool) -> str:
    return ' class="num"' if right else ""


def inline_svg(svg: str) -> str:
    """An SVG document (svg_draw.document's) as an element to place inside HTML: no XML
    declaration, the root of class SVG_CLASS, and its style rules scoped to it."""
    body = re.sub(r"^\s*<\?xml[^>]*\?>\s*", "", svg)
    body = body.replace("<svg ", f'<svg class="{SVG_CLASS}" ', 1)

    def scoped(style: re.Match[str]) -> str:
        rules = _RULE.sub(lambda m: f"svg.{SVG_CLASS} {m.group(1).strip()}{{", style.group(2))
        return style.group(1) + rules + style.group(3)

    return re.sub(r"(<style[^>]*>)(.*?)(</style>)", scoped, body, count=1, flags=re.S)
