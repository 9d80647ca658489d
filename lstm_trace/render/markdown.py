"""GitHub-flavoured Markdown: the table view's sections as GFM tables, for pull requests."""

from __future__ import annotations

from ..trace import Trace
from .sections import Note, Section, sections


def render_markdown(trace: Trace, frameworks: bool = False) -> str:
    """Trace -> Markdown text: a heading, then each section as a '###' heading and a table."""
    items = sections(trace, frameworks)
    lines: list[str] = []
    for i, item in enumerate(items):
        if isinstance(item, Note):
            text = _inline(item.text)
            lines += [f"## {text}" if i == 0 else (f"_{text}_" if item.dim else text), ""]
        else:
            lines += [*_table(item), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _table(section: Section) -> list[str]:
    head = [c.rstrip(">") for c in section.columns]
    align = ["---:" if c.endswith(">") else "---" for c in section.columns]
    out = [f"### {_inline(section.title)}", "", _row(head), _row(align)]
    out += [_row(row) for row in section.rows if row is not None]
    return out


def _row(cells: tuple[str, ...] | list[str]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _cell(text: str) -> str:
    """Names and equations as code spans, so '_' and '*' stay literal; a pipe would end the
    cell, so it is escaped (GFM honours that inside code spans too)."""
    text = " ".join(text.split())
    if not text:
        return " "
    if any(c in text for c in "_*~\\") and "`" not in text:
        text = f"`{text}`"
    return text.replace("|", "\\|")


def _inline(text: str) -> str:
    """Running text: '*' would start emphasis; '_' inside words never does in GFM."""
    return " ".join(text.split()).replace("*", "\\*")
