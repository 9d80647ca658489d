"""--help at 80 columns: choices never wrap mid-word, defaults are shown one way, usage lines
name real arguments and do not make a subcommand look required."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lstm_trace.cli import app

COMMANDS = [
    "",
    *sorted(c.name or getattr(c.callback, "__name__", "") for c in app.registered_commands),
]


def help_text(command: str) -> str:
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"}
    args = [sys.executable, "-m", "lstm_trace", *([command] if command else []), "--help"]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c or "trace")
def test_help_fits_80_columns_and_reads_cleanly(command: str) -> None:
    text = help_text(command)
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)
    for line in lines:  # a metavar such as <uni|bi> opens and closes on one line
        assert line.count("<") == line.count(">"), line
    assert "(default:" not in text.replace("\n", " ")  # Typer's [default: ...] only
    usage = next(line for line in lines if "Usage:" in line)
    assert "{" not in usage and "}" not in usage, usage


def test_main_usage_does_not_require_a_subcommand() -> None:
    usage = next(line for line in help_text("").splitlines() if "Usage:" in line)
    assert re.search(r"lstm-trace \[OPTIONS\] \[COMMAND\] \[ARGS\]\.\.\.", usage), usage


def test_defaults_shown_and_yielding_to_a_file(tmp_path: Path) -> None:
    """The options carry real defaults for --help, and a default still yields to a weights
    file: an option counts as given only when typed."""
    from lstm_trace import LSTMConfig, init_weights
    from lstm_trace.cli import main
    from lstm_trace.formats.writing import write_weights

    text = " ".join(help_text("").split())
    for shown in ("[default: 32]", "[default: 70]", "[default: 3]", "[default: float32]"):
        assert shown in text
    path = tmp_path / "w.npz"
    cfg = LSTMConfig(input_size=5, hidden_size=6, num_layers=2, dtype="float64")
    write_weights(path, init_weights(cfg), "pytorch")
    assert main(["--weights", str(path), "--json", "--samples", "0"]) == 0
    assert main(["--weights", str(path), "--input", "32"]) == 2  # typed, so it contradicts
