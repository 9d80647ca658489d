"""`lstm-trace inspect FILE`: every recurrent module a weights file holds, and the rest."""

# No `from __future__ import annotations`: Typer reads each command's annotations, and as
# strings they would be compiled and evaluated at every start (4 of the walkthrough's ms).

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from ..config import parse_bytes
from .app import DEFAULT_MAX_MEMORY_TEXT, app
from .commands import PlainUsage
from .console import data_console, show
from .options import MaxMemoryOpt, ModuleOpt, NamesOpt, QuietOpt, parse_names


@app.command(cls=PlainUsage)
def inspect(
    source: Annotated[
        Path, typer.Argument(metavar="FILE", help="Weights or model file (any supported kind).")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help='{"modules": [...], "untraced": [...]} on stdout.')
    ] = False,
    module: ModuleOpt = None,
    names: NamesOpt = None,
    max_memory: MaxMemoryOpt = DEFAULT_MAX_MEMORY_TEXT,
    quiet: QuietOpt = False,
) -> None:
    """List every recurrent module of a file (name, kind, sizes, layers, direction, counts),
    then what else it holds, which is not traced. --module NAME shows that one."""
    from ..formats.inventory import inventory  # lazy: the readers, for inspect only
    from ..formats.modules import pick_module  # lazy: as above
    from ..formats.reading import read_contents  # lazy: as above
    from ..render.inventory import (  # lazy: the views, for inspect only
        counts_section,
        footnotes,
        modules_section,
        names_whole,
        untraced_section,
    )
    from ..render.table import rich_table  # lazy: as above

    limit = parse_bytes(max_memory)
    contents = read_contents(source, max_memory=limit, names=parse_names(names))
    if module is not None:
        chosen = pick_module(contents, module)
        contents = type(contents)(contents.path, (chosen,), (), contents.notes)
    doc = inventory(contents)
    if as_json:
        import json  # lazy: for --json only

        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    console = data_console()
    if doc["modules"]:
        show(console, names_whole(rich_table(modules_section(doc))))
    lines = footnotes(doc)
    if lines:
        show(console, Text("\n".join(lines) + "\n"))  # a blank line before the next table
    if doc["modules"]:
        show(console, names_whole(rich_table(counts_section(doc))))
    if doc["untraced"]:
        show(console, names_whole(rich_table(untraced_section(doc))))
