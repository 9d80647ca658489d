"""What a notebook shows of a Trace, an Explanation and a Heatmap: HTML, and plain text.

Jupyter (and IPython) ask an object for ``_repr_mimebundle_``: a dict of MIME type to text.
This module builds those texts; the objects' methods call it lazily, so that a script that
never shows a trace never loads Rich's tables or the pictures. No Jupyter package is needed:
the protocol is a method that returns strings.

The HTML is one <div class="lt-notebook"> with a <style> whose every rule starts with that
class, so nothing in it styles the rest of the notebook; the pictures inside are inline SVG
with their own style sheet scoped to them (html_parts.inline_svg). text/plain is what a
terminal shows: the table view printed without colour at WIDTH columns.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Container
from html import escape

from rich.console import Console, RenderableType

from ..config import LSTMConfig
from ..trace import Trace
from .html_parts import SVG_CLASS, html_items, inline_svg
from .sections import Item, Section, sections
from .svg import render_cell_svg, render_svg
from .table import render_table

#: columns of the plain text (text/plain, str(trace)): wide enough for every table of the view
WIDTH = 100

#: the class of the wrapper <div>, which every rule of STYLE selects
WRAPPER = "lt-notebook"

_STYLE_RULES = {
    "": "line-height:1.35",
    ".lt-headline": "font-family:monospace;font-weight:bold;font-size:1.05em;margin:0.3em 0",
    ".lt-note": "margin:0.4em 0;max-width:60em",
    ".lt-aside": "margin:0.4em 0;opacity:0.7",
    "table.lt-table": "border-collapse:collapse;margin:0.6em 0;font-family:monospace;"
    "font-size:0.9em",
    "table.lt-table caption": "text-align:left;font-weight:bold;padding:0.2em 0",
    "table.lt-table th": "text-align:left;padding:0.15em 0.8em;border:none;"
    "border-bottom:1px solid currentColor",
    "table.lt-table td": "text-align:left;padding:0.1em 0.8em;border:none",
    "table.lt-table .num": "text-align:right",
    "tr.lt-break td": "padding:0.3em",
    f"svg.{SVG_CLASS}": "max-width:100%;height:auto;display:block;margin:0.6em 0",
    "details > summary": "cursor:pointer;margin:0.4em 0",
}

#: the wrapper's style sheet: every selector is prefixed by the wrapper's class
STYLE = "".join(
    f".{WRAPPER}{' ' + sel if sel else ''}{{{rule}}}" for sel, rule in _STYLE_RULES.items()
)


def plain(renderable: RenderableType, width: int = WIDTH) -> str:
    """A Rich renderable as plain text, width columns, no colour or other escape codes.

    force_jupyter=False: inside a notebook Rich would otherwise display the renderable in
    the cell instead of writing it to the string."""
    out = io.StringIO()
    console = Console(
        file=out, width=width, color_system=None, no_color=True, force_jupyter=False,
        force_terminal=False, highlight=False, emoji=False,
    )  # fmt: skip
    console.print(renderable)
    # without the spaces Rich pads table lines with, as the command line prints into a pipe
    return "\n".join(line.rstrip() for line in out.getvalue().split("\n"))


def wrap(body: str) -> str:
    """Body inside the wrapper <div>, with the scoped style sheet."""
    return f'<div class="{WRAPPER}"><style>{STYLE}</style>\n{body}\n</div>'


def mimebundle(
    html: Callable[[], str],
    text: Callable[[], str],
    include: Container[str] | None = None,
    exclude: Container[str] | None = None,
    **more: Callable[[], str],
) -> dict[str, str]:
    """The _repr_mimebundle_ answer: text/html, text/plain and more (MIME type: maker), each
    made only when the front end wants it (include, exclude: MIME types, or None)."""
    makers = {"text/html": html, "text/plain": text, **more}
    return {
        kind: make()
        for kind, make in makers.items()
        if (include is None or kind in include) and (exclude is None or kind not in exclude)
    }


# --- a Trace --------------------------------------------------------------------------------


def trace_text(trace: Trace, width: int = WIDTH) -> str:
    """The table view as plain text: what `lstm-trace` prints in a terminal."""
    return plain(render_table(trace), width)


def trace_html(trace: Trace) -> str:
    """The trace as HTML: the configuration line, the weights with shapes and counts and the
    parameter counts, the cell diagram, the gate health with its notes, the outputs, then
    (folded) the cell's equations and the traced values: the table view, reordered so that
    what a glance needs comes first."""
    items = sections(trace)
    head, middle, outputs, health = _parts(items)
    body = [
        html_items(head),
        inline_svg(render_svg(trace.config)),
        html_items(health),
        html_items(outputs),
    ]
    if middle:
        body.append(
            "<details><summary>The cell's equations and the traced values</summary>"
            + html_items(middle)
            + "</details>"
        )
    return wrap("\n".join(body))


def _parts(items: list[Item]) -> tuple[list[Item], list[Item], list[Item], list[Item]]:
    """(configuration line, weights and counts; the cell and value tables; the outputs; the
    health table and its note), from the table view's sections in their order. Should that
    order change, everything is still shown, in the table view's order."""
    health, outputs = items[-2:], items[-3:-2]
    if (
        len(items) >= 6
        and isinstance(items[1], Section)
        and isinstance(items[-3], Section)
        and isinstance(items[-2], Section)
        and items[-2].title.startswith("Gate health")
    ):
        return items[:3], items[3:-3], outputs, health
    return items, [], [], []


# --- an Explanation and a Heatmap -----------------------------------------------------------


def markdown_html(text: str) -> str:
    """Markdown as HTML, by markdown-it-py (Rich's own Markdown parser, so installed with it);
    without it, the text as it is in a <pre>."""
    try:
        from markdown_it import MarkdownIt
    except ImportError:  # Rich without its Markdown parser: show the text as it is
        return f"<pre>{escape(text)}</pre>"
    return str(MarkdownIt("commonmark").render(text))


def explanation_html(text: str, config: LSTMConfig) -> str:
    """The walkthrough's Markdown as HTML, the cell diagram after its first paragraph (what
    the cell reads and carries)."""
    html = markdown_html(text)
    diagram = inline_svg(render_cell_svg(config))
    end = html.find("</p>", max(html.find("</h1>"), 0))
    if end < 0:
        return wrap(diagram + html)
    end += len("</p>")
    return wrap(html[:end] + "\n" + diagram + html[end:])


def svg_html(svg: str, caption: str = "") -> str:
    """An SVG document inline in the wrapper, with an optional caption under it."""
    note = f'<p class="lt-aside">{escape(caption)}</p>' if caption else ""
    return wrap(inline_svg(svg) + note)
