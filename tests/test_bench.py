"""bench/compare.py: its command line and the protocol of its workers, on tiny sizes (no
timing is asserted: the numbers of a smoke run mean nothing)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMPARE = ROOT / "bench" / "compare.py"


def compare(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(COMPARE), *args], capture_output=True, text=True, cwd=ROOT
    )


def needs_git() -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    inside = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
        capture_output=True,
    )
    if inside.returncode != 0:
        pytest.skip("not a git checkout with a commit")


def test_help_names_the_revisions_and_options() -> None:
    done = compare("--help")
    assert done.returncode == 0, done.stderr
    for word in ("OLD_REV", "NEW_REV", "--quick", "--rounds", "--shapes", "--threads"):
        assert word in done.stdout
    assert "--tiny" not in done.stdout  # the smoke test's option stays hidden


def test_tiny_run_compares_head_with_the_working_tree() -> None:
    needs_git()
    done = compare("HEAD", "--tiny")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("old: HEAD (")
    assert "new: working tree" in lines[0] and "wall-clock" in lines[0]
    rows = [line for line in lines if line.startswith("| T=3 B=2 I=4 H=5 ")]
    assert [row.split("|")[2].strip() for row in rows] == ["forward", "default", "full"]
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert float(cells[2]) > 0 and float(cells[3]) > 0
        assert float(cells[4]) > 0
        low, high = (float(r) for r in cells[5].split(" to "))
        assert low == high == pytest.approx(float(cells[4]), abs=0.006)  # one round
        assert cells[6] in ("ok", "slower")
    # each side ran its own copy: the revision's from a temporary archive, the new from here
    assert f"working tree: lstm_trace from {ROOT / 'lstm_trace'}" in done.stderr
    assert "HEAD (" in done.stderr and "lstm-trace-" in done.stderr


def test_a_revision_that_is_not_a_commit_is_one_line_and_exit_2() -> None:
    needs_git()
    done = compare("no-such-revision", "--tiny")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"compare.py: revision 'no-such-revision': not a commit of {ROOT}; "
        "give a commit or a branch"
    ]


def test_shapes_out_of_range_is_a_usage_error() -> None:
    done = compare("HEAD", "--shapes", "0,9")
    assert done.returncode == 2
    assert "'0,9': expected indices 0 to 3" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("option", ["--rounds", "--threads"])
def test_rounds_and_threads_must_be_at_least_one(option: str) -> None:
    done = compare("HEAD", option, "0")
    assert done.returncode == 2
    assert f"argument {option}: '0': expected a whole number >= 1" in done.stderr


def test_worker_answers_a_burst_and_names_a_bad_request() -> None:
    worker = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "compare_worker.py"), str(ROOT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    requests = [
        {"shape": [3, 2, 4, 5, 1, False], "measure": "full", "calls": 2},
        {"shape": [3, 2, 4, 5, 2, True], "measure": "forward", "calls": 1, "clock": "cpu"},
        {"shape": [3, 2, 4, 5, 1, False], "measure": "sideways", "calls": 1},
    ]
    out, _ = worker.communicate("".join(json.dumps(r) + "\n" for r in requests), timeout=60)
    assert worker.returncode == 0
    ready, full, stacked, bad = (json.loads(line) for line in out.splitlines())
    assert ready == {"ready": str(ROOT / "lstm_trace")}
    assert len(full["times"]) == 2 and all(t > 0 for t in full["times"])
    assert len(stacked["times"]) == 1 and stacked["times"][0] >= 0
    assert bad == {
        "error": "ValueError: measure 'sideways': expected one of forward, default, full"
    }


def test_cpu_clock_is_said_in_the_heading() -> None:
    needs_git()
    done = compare("HEAD", "--tiny", "--cpu", "--threads", "1")
    assert done.returncode == 0, done.stderr
    assert "1 BLAS threads, CPU seconds" in done.stdout.splitlines()[0]
    assert done.stdout.count("| T=3 B=2 I=4 H=5 ") == 3
