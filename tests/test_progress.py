"""Progress bars on stderr (cli/progress.py): when they show, what they count, and that the
pieces the pass reports in (cells/recurrence.py) leave every result bit for bit the same."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import pytest

from lstm_trace import LSTMConfig, trace
from lstm_trace.cells import kernel, recurrence
from lstm_trace.cells.base import FloatArray
from lstm_trace.cli import console, progress
from lstm_trace.render import render_json
from lstm_trace.render.json import json_pieces

from .conftest import run_cli

ROOT = Path(__file__).parent.parent
#: about 2 to 3 s here, so that a bar (after progress.DELAY, 1 s) shows in the middle of it
LONG = ("-T", "200000", "-H", "64", "--samples", "0")
#: what only a progress bar writes: its count's unit and rate, Rich's bar and hidden cursor
BAR_MARKS = ("steps/s", "/200000", "━", "\x1b[?25l")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "LSTM_TRACE_DEBUG")}
    # one BLAS thread each: the runs go side by side, and B = 1 gains nothing from more; the
    # NumPy loop, whose speed LONG is sized for (the compiled kernel runs it in 0.6 s, before
    # a bar is due)
    return {**env, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
            "LSTM_TRACE_KERNEL": "numpy", **extra}  # fmt: skip


def _drain(fd: int, into: bytearray) -> None:
    """Read a pty's master side until the child's side is closed (EIO on Linux)."""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return
        if not chunk:
            return
        into.extend(chunk)


def _run(args: Sequence[str], env: dict[str, str], tty: bool) -> tuple[int, str, str]:
    """`python -m lstm_trace args`, stdout a pipe, stderr a pseudo-terminal when tty (else a
    pipe): (exit status, stdout, stderr)."""
    command = [sys.executable, "-m", "lstm_trace", *args]
    if not tty:
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
        return done.returncode, done.stdout, done.stderr
    master, slave = pty.openpty()
    err = bytearray()
    try:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=slave, env=env, cwd=ROOT)
        os.close(slave)  # the child's copy is the only one: EOF when it exits
        reader = threading.Thread(target=_drain, args=(master, err))
        reader.start()
        out, _ = child.communicate(timeout=120)
        reader.join(timeout=30)
    finally:
        os.close(master)
    return child.returncode, out.decode(), err.decode(errors="replace")


def test_a_long_trace_shows_a_bar_on_a_terminal_only() -> None:
    """One long run four ways at once: stderr a terminal (a bar), a pipe, a terminal with CI
    set, a terminal with --quiet (none)."""
    runs = {
        "terminal": (LONG, _env(), True),
        "pipe": (LONG, _env(), False),
        "ci": (LONG, _env(CI="1"), True),
        "quiet": ((*LONG, "--quiet"), _env(), True),
    }
    with ThreadPoolExecutor(len(runs)) as pool:
        futures = {name: pool.submit(_run, *how) for name, how in runs.items()}
        results = {name: f.result() for name, f in futures.items()}
    answers = set()
    for name, (code, out, err) in results.items():
        assert code == 0, (name, err)
        assert "(200000, 64)" in out  # the answer: the output's shape
        assert not any(mark in out for mark in BAR_MARKS), name  # never on stdout
        answers.add(out)
        shown = [mark for mark in BAR_MARKS if mark in err]
        if name == "terminal":
            assert shown == list(BAR_MARKS), err[-500:]
            assert "tracing" in err
        else:
            assert shown == [] and "━" not in err, (name, err[-500:])
    assert len(answers) == 1  # the same answer, whether a bar was shown or not


def test_a_short_run_on_a_terminal_prints_nothing_extra() -> None:
    code, out, err = _run(["--input", "32", "--hidden", "70"], _env(), True)
    assert code == 0 and "70 x 102" in out
    assert err == ""  # done before a bar is due


class Shown:
    """A stand-in for progress.Bar: records what would have been drawn."""

    made: ClassVar[list[Shown]] = []

    def __init__(self, unit: str, description: str) -> None:
        self.unit, self.description = unit, description
        self.counts: list[tuple[int, int]] = []
        self.closed = False
        Shown.made.append(self)

    def show(self, done: int, total: int) -> None:
        self.counts.append((done, total))

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def bars(monkeypatch: pytest.MonkeyPatch) -> list[Shown]:
    """Every bar due at once, recorded instead of drawn, as if stderr were a terminal."""
    Shown.made = []
    monkeypatch.setattr(progress, "Bar", Shown)
    monkeypatch.setattr(progress, "DELAY", 0.0)
    monkeypatch.setattr(progress, "REFRESH", 1e9)  # every report passed on
    monkeypatch.setattr(progress, "_is_terminal", lambda stream: stream is sys.stderr)
    monkeypatch.delenv("CI", raising=False)
    return Shown.made


@pytest.mark.parametrize("fmt", ["table", "tree", "jsonl", "markdown", "heatmap"])
def test_every_format_counts_the_pass(
    fmt: str, bars: list[Shown], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "-T", "5", "--layers", "2", "--direction", "bi", "-f", fmt)
    assert code == 0 and out and err == ""
    (bar,) = bars
    assert bar.unit == "steps" and bar.closed
    assert bar.counts[-1] == (2 * 2 * 5, 2 * 2 * 5)  # layers x directions x T
    assert [d for d, _ in bar.counts] == sorted(d for d, _ in bar.counts)


def test_json_counts_the_pass_then_the_records_written(
    bars: list[Shown], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "-T", "6", "--steps", "all", "--json")
    records = len(json.loads(out)["tensors"])
    assert code == 0 and records == 6 * 10  # the LSTM's ten hook points a step
    assert [(b.unit, b.counts[-1], b.closed) for b in bars] == [
        ("steps", (6, 6), True),
        ("records", (records, records), True),
    ]
    assert [d for d, _ in bars[1].counts] == list(range(1, records + 1))


def test_the_explorer_pages_own_pass_counts_too(
    bars: list[Shown], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--html traces the run once more for its page: a second bar counts that pass."""
    page = tmp_path / "run.html"
    code, _, err = run_cli(capsys, "-T", "7", "--direction", "bi", "--html", str(page))
    assert code == 0 and page.exists() and f"wrote {page}" in err
    assert [(b.description, b.counts[-1], b.closed) for b in bars] == [
        ("tracing", (14, 14), True),
        ("tracing for the page", (14, 14), True),
    ]


def test_no_bar_with_quiet_ci_or_while_records_stream_to_the_terminal(
    bars: list[Shown], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli(capsys, "-T", "5", "--quiet")[0] == 0
    monkeypatch.setenv("CI", "true")
    assert run_cli(capsys, "-T", "5")[0] == 0
    monkeypatch.setenv("CI", "")  # empty: not set
    assert run_cli(capsys, "-T", "5")[0] == 0
    assert len(bars) == 1
    console.set_quiet(False)
    monkeypatch.setattr(progress, "_is_terminal", lambda stream: True)  # stdout as well
    assert run_cli(capsys, "-T", "5", "-f", "jsonl")[0] == 0  # its lines would mix
    assert run_cli(capsys, "-T", "5")[0] == 0  # printed after the bar is gone: one
    assert len(bars) == 2


def test_check_counts_each_models_pass(
    bars: list[Shown], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(
        '[models.a]\nseq_len = 4\nexpect = { output = "4,70" }\n'
        '[models.b]\nseq_len = 3\ndirection = "bi"\nexpect = { output = "3,140" }\n'
    )
    code, _, _ = run_cli(capsys, "check", spec)
    assert code == 0
    assert [(b.description, b.counts[-1]) for b in bars] == [("a", (4, 4)), ("b", (6, 6))]


def test_explain_runs_no_pass(bars: list[Shown], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "explain", "-T", "500")[0] == 0
    assert bars == []


def test_tally_counts_layers_directions_and_steps() -> None:
    cfg = LSTMConfig(input_size=3, hidden_size=4, seq_len=7, num_layers=3, direction="bi")
    assert progress.pass_steps(cfg) == 3 * 2 * 7
    assert progress.pass_steps(LSTMConfig(seq_len=9, cell="gru")) == 9
    now = [100.0]
    shown: list[tuple[int, int]] = []
    tally = progress.Tally(42, lambda d, t: shown.append((d, t)), delay=1.0, clock=lambda: now[0])
    block = np.zeros((3, 1, 16), dtype=np.float32)
    tally.observe(0, "forward", range(3), block)
    now[0] = 100.5
    tally.observe(0, "forward", range(3, 7), block)
    assert tally.done == 7 and shown == []  # not yet a second of work
    now[0] = 101.0
    tally.observe(0, "backward", range(6, 2, -1), block)
    assert shown == [(11, 42)]
    now[0] = 101.0 + 0.5 / progress.REFRESH  # too soon for another redraw
    tally.advance(5)
    assert shown == [(11, 42)] and tally.done == 16
    now[0] = 101.0 + 1.0 / progress.REFRESH
    tally.advance(26)
    assert shown == [(11, 42), (42, 42)]


def test_a_bars_line_fits_the_terminal() -> None:
    task = SimpleNamespace(
        description="tracing", total=200000, completed=81920, speed=95312.4, time_remaining=65.2
    )
    drawn = progress.line(task, "steps", 100)
    (done,) = [span for span in drawn.spans if span.style == "bar.complete"]
    assert done.end - done.start == progress.BAR_WIDTH * 81920 // 200000  # 16 of 40
    text = drawn.plain
    bar = "━" * progress.BAR_WIDTH
    # the count as wide as the total's, so that the bar does not move as it grows
    assert text == f"tracing {bar}  81920/200000 steps 95,312 steps/s 0:01:05"
    assert text.count("━") == progress.BAR_WIDTH
    narrow = progress.line(task, "steps", 60).plain
    assert len(narrow) == 60 and narrow.endswith("━  81920/200000 steps 95,312 steps/s 0:01:05")
    task.speed = task.time_remaining = None  # before Rich has an estimate
    assert progress.line(task, "records", 10).plain == "tracing   81920/200000 records -:--:--"


def test_wanted_needs_a_terminal_no_quiet_and_no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(progress, "_is_terminal", lambda stream: True)
    assert progress.wanted()
    monkeypatch.setenv("CI", "1")
    assert not progress.wanted()
    monkeypatch.setenv("CI", "")
    assert progress.wanted()
    console.set_quiet(True)
    try:
        assert not progress.wanted()
    finally:
        console.set_quiet(False)
    monkeypatch.setattr(progress, "_is_terminal", lambda stream: False)
    assert not progress.wanted()


def test_rich_progress_is_loaded_only_when_a_bar_shows() -> None:
    code = (
        "import sys; from lstm_trace.cli import main; main(['-T', '3']); "
        "print('rich.progress' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0 and done.stdout.strip().endswith("False")


# --- the pieces of a block: the pass reports often, and its results do not change ---

SHAPES = [
    {"input_size": 5, "hidden_size": 8, "seq_len": 23},
    {"input_size": 5, "hidden_size": 8, "seq_len": 23, "batch": 3},
    {"input_size": 4, "hidden_size": 6, "seq_len": 17, "batch": 2, "num_layers": 2,
     "direction": "bi"},
    {"input_size": 4, "hidden_size": 6, "seq_len": 19, "proj_size": 3, "direction": "reverse"},
    {"input_size": 4, "hidden_size": 6, "seq_len": 15, "batch": 2, "peepholes": True},
    {"input_size": 3, "hidden_size": 7, "seq_len": 21, "cell": "gru", "direction": "bi"},
    {"input_size": 3, "hidden_size": 7, "seq_len": 13, "batch": 4, "cell": "gru",
     "reset_after": False},
]  # fmt: skip


def _traced(cfg: LSTMConfig, pieces: int | None, block: int | None) -> tuple[Any, list[int]]:
    """The trace of cfg (every step recorded) with pieces of at most `pieces` steps (None:
    a whole block each) and blocks of `block` steps (None: the default), and the sizes of
    the pieces the observer was handed."""
    seen: list[int] = []

    def count(layer: int, direction: str, steps: Sequence[int], gates: FloatArray) -> None:
        seen.append(len(steps))

    size = recurrence.PROJECTION_BLOCK
    if block is not None:
        size = block * (cfg.batch or 1) * cfg.kind.n_gates * cfg.hidden_size
    old = recurrence.PROJECTION_BLOCK, recurrence.REPORT_STEPS, recurrence.REPORT_MACS
    recurrence.PROJECTION_BLOCK = size
    if pieces is None:
        recurrence.REPORT_STEPS = recurrence.REPORT_MACS = 1 << 62
    else:
        recurrence.REPORT_STEPS = pieces
    try:
        result = trace(cfg, steps="all", keep_values=True, observers=[count])
    finally:
        recurrence.PROJECTION_BLOCK, recurrence.REPORT_STEPS, recurrence.REPORT_MACS = old
    return result, seen


@pytest.mark.parametrize("options", SHAPES)
@pytest.mark.parametrize(("pieces", "block"), [(1, None), (4, None), (3, 8), (2, 5)])
def test_pieces_leave_every_result_bit_identical(
    options: dict[str, Any], pieces: int, block: int | None
) -> None:
    cfg = LSTMConfig(dtype="float32", **options)
    whole, whole_seen = _traced(cfg, None, block)
    cut, cut_seen = _traced(cfg, pieces, block)
    steps = progress.pass_steps(cfg)
    assert sum(whole_seen) == sum(cut_seen) == steps
    assert max(cut_seen) <= pieces and len(cut_seen) > len(whole_seen)  # cut, and counted
    for name, a in whole.arrays().items():
        assert a.dtype == np.float32
        assert np.array_equal(a, cut.arrays()[name], equal_nan=True), name
    assert whole.values is not None and cut.values is not None
    assert whole.values.keys() == cut.values.keys()
    assert all(np.array_equal(v, cut.values[k]) for k, v in whole.values.items())
    assert render_json(whole) == render_json(cut)  # every record, stat and gate health


def test_a_long_pass_reports_often(monkeypatch: pytest.MonkeyPatch) -> None:
    """T = 5000, H = 256 is two blocks of the input projection (4096 and 904 steps); the NumPy
    pass reports every 1024 steps (REPORT_MACS), and at H = 16 (one block) every REPORT_STEPS;
    the kernel, four times as quick, every 4096 (KERNEL_REPORT_MACS)."""
    if kernel.built() is not None:
        monkeypatch.setenv("LSTM_TRACE_KERNEL", "auto")
        cfg = LSTMConfig(input_size=8, hidden_size=256, seq_len=5000, dtype="float32")
        assert _traced(cfg, recurrence.REPORT_STEPS, None)[1] == [4096, 904]
    monkeypatch.setenv("LSTM_TRACE_KERNEL", "numpy")
    for seq_len, hidden, whole, pieces in ((5000, 256, 2, 5), (20000, 16, 1, 5)):
        cfg = LSTMConfig(input_size=8, hidden_size=hidden, seq_len=seq_len, dtype="float32")
        _, seen = _traced(cfg, recurrence.REPORT_STEPS, None)
        assert sum(seen) == seq_len and len(seen) == pieces, (hidden, seen)
        assert len(_traced(cfg, None, None)[1]) == whole


def test_json_pieces_are_the_document_byte_for_byte() -> None:
    for kw in ({"steps": "all"}, {"samples": 0}, {"steps": "0"}):
        result = trace(LSTMConfig(input_size=3, hidden_size=4, seq_len=5, batch=2), **kw)
        counted: list[int] = []
        text = "".join(json_pieces(result, counted.append))
        assert text == render_json(result)
        assert len(counted) == len(result.tensors)
    empty = replace(trace(LSTMConfig(input_size=3, hidden_size=4, seq_len=5)), tensors=[])
    assert "".join(json_pieces(empty)) == render_json(empty)
