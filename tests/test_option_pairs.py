"""The trace's cross-option checks, called as a plain function (no Typer, no argv)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lstm_trace.cli.resolve import check_option_pairs
from lstm_trace.errors import LSTMTraceError

from .conftest import run_cli


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"fmt": "tree", "as_json": True}, "--json contradicts --format tree; give one of them"),
        ({"fmt": "table", "dump_all": True}, "--dump-all needs --dump FILE.npz"),
        (
            {"fmt": "table", "gate": "input_gate"},
            "--gate chooses what --format heatmap shows; add --format heatmap",
        ),
        (
            {"fmt": "table", "seq_first": True},
            "--seq-first says how --x is laid out; it needs --x FILE.npy",
        ),
        (
            {"fmt": "table", "save_as": "keras"},
            "--to says how --save-weights writes; it needs --save-weights FILE",
        ),
    ],
)
def test_an_option_that_needs_or_contradicts_another_is_a_usage_error(
    given: dict[str, object], message: str
) -> None:
    with pytest.raises(LSTMTraceError) as caught:
        check_option_pairs(**given)  # type: ignore[arg-type]
    assert caught.value.message == message
    assert caught.value.exit_code == 2


def test_options_given_with_what_they_need_pass() -> None:
    check_option_pairs(fmt="json", as_json=True)
    check_option_pairs(fmt="table", as_json=True)
    check_option_pairs(fmt="table", dump=Path("d.npz"), dump_all=True)
    check_option_pairs(fmt="heatmap", gate="input_gate")
    check_option_pairs(fmt="table", x_path=Path("x.npy"), seq_first=True)
    check_option_pairs(fmt="table", save_weights=Path("w.pt"), save_as="pytorch")


def test_the_command_line_runs_the_same_checks(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "--seq-first")
    assert code == 2 and out == ""
    assert err == "lstm-trace: error: --seq-first says how --x is laid out; it needs --x FILE.npy\n"
