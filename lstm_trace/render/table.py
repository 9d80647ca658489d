"""The default view: the sections as Rich tables, readable at 80 columns."""

from __future__ import annotations

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..trace import Trace
from .sections import Item, Note, Section, sections


def render_table(trace: Trace, frameworks: bool = False) -> RenderableType:
    """Trace -> a Group of tables; the caller prints it on the data console.

    frameworks adds where each weight lives in PyTorch, Keras and ONNX.
    """
    return Group(
        *(_render(item, first=i == 0) for i, item in enumerate(sections(trace, frameworks)))
    )


def _render(item: Item, first: bool) -> RenderableType:
    if isinstance(item, Note):
        # the first note is the configuration line, the headline
        return Text(item.text + "\n", style="bold" if first else ("dim" if item.dim else ""))
    return rich_table(item)


def rich_table(section: Section) -> Table:
    """A Section as a Rich Table; cells are plain text (brackets are data, not markup)."""
    table = Table(title=section.title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    for column in section.columns:
        table.add_column(column.rstrip(">"), justify="right" if column.endswith(">") else "left")
    for row in section.rows:
        if row is None:
            table.add_section()
        else:
            table.add_row(*(Text(cell) for cell in row))
    return table
