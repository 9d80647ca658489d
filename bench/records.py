"""Full traces printed, as fresh processes: the whole process's time (start-up, forward,
records and their text) over the records it writes, in microseconds a record."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from timing import Row, process_seconds, verdict

from lstm_trace import HOOK_POINTS

STEPS, HIDDEN = 20_000, 256
# (the options after the sizes, the target in us a record or None)
RUNS: list[tuple[list[str], float | None]] = [
    (["--steps", "all", "--format", "jsonl"], 5.0),
    (["--steps", "all", "--json"], None),
]
HEADER = ["command", "records", "seconds", "us / record", "target", "verdict"]


def printed_row(
    root: Path,
    options: list[str],
    target: float | None,
    repeats: int,
    steps: int = STEPS,
    hidden: int = HIDDEN,
    clock: str = "wall",
) -> Row:
    """One command's row: `lstm-trace -T STEPS -H HIDDEN OPTIONS` to /dev/null, the median
    of `repeats` fresh processes. A record is one hook point at one step: T x 10 of them."""
    args = ["-T", str(steps), "-H", str(hidden), *options]
    cmd = [sys.executable, "-m", "lstm_trace", *args]
    seconds = process_seconds(cmd, root, repeats, clock, stdout=subprocess.DEVNULL)
    records = steps * len(HOOK_POINTS)
    per_record = seconds / records * 1e6
    met = target is None or per_record <= target
    return [
        f"lstm-trace {' '.join(args)}",
        f"{records:,}",
        f"{seconds:.2f}",
        f"{per_record:.1f}",
        "" if target is None else f"<= {target:g}",
        "" if target is None else verdict([] if met else ["us / record"]),
    ]


def printed(root: Path, repeats: int, clock: str = "wall") -> list[Row]:
    """Every run's row, timed by `clock` ("wall" or "cpu")."""
    return [printed_row(root, options, target, repeats, clock=clock) for options, target in RUNS]
