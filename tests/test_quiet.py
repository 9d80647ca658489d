"""--quiet: no notes on stderr, for the trace and every subcommand that notes; errors are still
said, and the next command (in the same process, as the tests run them) notes again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lstm_trace import LSTMConfig, init_weights

from .conftest import run_cli


def two_modules(tmp_path: Path) -> Path:
    lstm = init_weights(LSTMConfig(input_size=3, hidden_size=4)).to_pytorch()
    gru = init_weights(LSTMConfig(input_size=3, hidden_size=4, cell="gru")).to_pytorch()
    state = {f"enc.{k}": v for k, v in lstm.items()} | {f"dec.{k}": v for k, v in gru.items()}
    np.savez(tmp_path / "m.npz", **state)
    return tmp_path / "m.npz"


def test_quiet_trace_says_nothing_on_stderr(tmp_path: Path, capsys: Any) -> None:
    path = two_modules(tmp_path)
    code, out, err = run_cli(capsys, "--weights", path, "--module", "enc", "--json", "--quiet")
    assert code == 0 and out.startswith("{") and err == ""
    code, _, err = run_cli(capsys, "--weights", path, "--module", "enc", "--json")
    assert code == 0 and "traced enc; not traced: dec" in err  # notes are back


def test_quiet_subcommands_and_errors(tmp_path: Path, capsys: Any) -> None:
    path = two_modules(tmp_path)
    target = tmp_path / "k.npz"
    code, _, err = run_cli(capsys, "convert", path, target, "--to", "keras", "-m", "enc", "-q")
    assert code == 0 and err == "" and target.exists()
    code, _, err = run_cli(capsys, "convert", path, target, "--to", "keras", "-m", "enc")
    assert f"wrote {target}" in err
    code, _, err = run_cli(capsys, "--weights", path, "--quiet")  # an error is still said
    assert code == 2 and err.startswith("lstm-trace: error:") and len(err.splitlines()) == 1
    spec = tmp_path / "s.toml"
    spec.write_text('[models.m]\ninput = 3\nhidden = 4\n[models.m.expect]\noutput = "3,4"\n')
    code, _, err = run_cli(capsys, "check", spec, "--quiet")
    assert code == 0 and err == ""
