"""The command line's consoles and notes: the answer on stdout, notes on stderr (none with
--quiet), and the terminal view saved as a picture or a page (--export-svg, --export-html)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rich.console import Console, RenderableType

#: --quiet: no notes on stderr (errors are still said)
_QUIET = [False]


def set_quiet(on: bool) -> bool:
    """--quiet's callback: notes off (on True) or on for this command."""
    _QUIET[0] = bool(on)
    return on


def note(message: str) -> None:
    """A diagnostic for the user, on stderr, never mixed into the answer; none with --quiet."""
    if not _QUIET[0]:
        sys.stderr.write(f"lstm-trace: {message}\n")


def data_console(record: bool = False) -> Console:
    """The console for the answer (stdout). NO_COLOR (https://no-color.org) means no escape
    codes at all, bold included; a pipe gets plain text by Rich's own detection. No emoji
    codes: a name such as a module's ':stop:' is printed as it is (and Rich's table of them,
    2 ms of every start, is never loaded)."""
    plain = bool(os.environ.get("NO_COLOR"))
    return Console(
        highlight=False, emoji=False, color_system=None if plain else "auto", record=record
    )


def show(console: Console, renderable: RenderableType) -> None:
    """Print a view. Into a pipe or a file (plain text, no colour) the lines lose the spaces
    Rich pads tables with, so that diffs and greps of the output stay clean."""
    if console.is_terminal or console.record:
        console.print(renderable)
        return
    with console.capture() as captured:
        console.print(renderable)
    console.file.write("\n".join(line.rstrip() for line in captured.get().split("\n")))


def save_exports(console: Console, svg: Path | None, html: Path | None) -> None:
    """--export-svg / --export-html: what was printed, as a picture or a page."""
    for path, kind in ((svg, "svg"), (html, "html")):
        if path is None:
            continue
        from ..formats.targets import atomic_open  # lazy: only when there is a file to write

        if kind == "svg":
            text = console.export_svg(title="lstm-trace", clear=False)
        else:
            text = console.export_html(clear=False)
        with atomic_open(path) as f:
            f.write(text.encode())
        note(f"wrote {path}")
