"""The answer's console prints names as they are: Rich's emoji codes are off (a module or a
node named ':stop_sign:' is not a picture), in the terminal's console and the notebook's."""

from __future__ import annotations

import io

from rich.table import Table

from lstm_trace.cli.console import data_console
from lstm_trace.render.notebook import plain


def test_emoji_codes_are_printed_as_they_are() -> None:
    console = data_console()
    console.file = io.StringIO()
    console.print("layer :stop_sign: of encoder:lstm:")
    assert console.file.getvalue() == "layer :stop_sign: of encoder:lstm:\n"


def test_the_notebooks_text_keeps_emoji_codes() -> None:
    table = Table("name")
    table.add_row(":smile:")
    assert ":smile:" in plain(table, 40)
