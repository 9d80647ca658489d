"""The top-level `lstm-trace --help`, served from help.txt without Typer or Rich.

help.txt is exactly what Typer prints for `lstm-trace --help` with no colour at 80 columns,
after a first line naming the Typer and Rich it was rendered with (`typer 0.28.0 rich
15.0.0`); tests/test_startup.py renders the real help and compares (UPDATE_GOLDEN=1 rewrites
the file). That is the form a pipe, a file or CI gets when no terminal sets the width.

It is served only when Rich would print exactly that here: the same Typer and Rich (another
Rich may draw the help otherwise), stdout not a terminal (a terminal gets colours and its own
width, which only Rich renders), UTF-8 (else Rich draws the boxes in ASCII), nothing in the
environment that forces colour or changes Typer's help, and a width of 80 by Rich's own
rule: COLUMNS when it is a number, else the width of the first of stdin, stdout and stderr
that is a terminal, else 80. Anything else gets None, and the Typer app renders the help as
before.
"""

from __future__ import annotations

import os
import sys

from .version import installed_versions

#: what help.txt was rendered at
WIDTH = 80
HELP_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "help.txt")
#: variables that make Typer's or Rich's help differ from help.txt even in a pipe (forced
#: colour or terminal, a fixed width, Typer without Rich): with one of them set, Typer answers
_CHANGES_HELP = (
    "FORCE_COLOR",
    "PY_COLORS",
    "GITHUB_ACTIONS",
    "TTY_COMPATIBLE",
    "TTY_INTERACTIVE",
    "TERMINAL_WIDTH",
    "TYPER_USE_RICH",
    "_TYPER_FORCE_DISABLE_TERMINAL",
)


def served_help() -> str | None:
    """help.txt's help when it is what Typer would print to this stdout, else None."""
    if not plain_at_width(WIDTH):
        return None
    try:
        with open(HELP_FILE, encoding="utf-8") as file:
            rendered_by, text = file.read().split("\n", 1)
    except (OSError, ValueError):  # an install without the file, or an empty one
        return None
    return text if rendered_by == renderers() else None


def renderers() -> str:
    """help.txt's first line for the Typer and Rich installed: "typer 0.28.0 rich 15.0.0"
    ("typer ? ..." for one whose version cannot be read quickly: never help.txt's)."""
    versions = installed_versions(("typer", "rich"))
    return " ".join(f"{name} {version or '?'}" for name, version in versions.items())


def plain_at_width(width: int) -> bool:
    """Whether Typer's Rich console would print to sys.stdout without colour, with box
    characters, `width` columns wide."""
    if sys.platform == "win32" or any(name in os.environ for name in _CHANGES_HELP):
        return False  # Windows' consoles take a column off; the variables are above
    out = sys.stdout
    try:
        if out.isatty():
            return False
    except (AttributeError, ValueError):
        return False
    encoding = (getattr(out, "encoding", None) or "utf-8").lower()
    return encoding.startswith("utf") and rich_width() == width


def rich_width() -> int:
    """The width Rich's Console gives itself: COLUMNS when it is a number, else the width of
    the first of stdin, stdout and stderr that has a terminal's size, else 80 (as for 0)."""
    columns = os.environ.get("COLUMNS")
    if columns is not None and columns.isdigit():
        return int(columns)
    for fd in (0, 1, 2):
        try:
            found = os.get_terminal_size(fd).columns
        except (AttributeError, ValueError, OSError):  # not a terminal
            continue
        return found or 80
    return 80
