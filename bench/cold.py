"""Cold starts: the median seconds of fresh processes, from the interpreter's start to exit."""

from __future__ import annotations

import compileall
import subprocess
import sys
from functools import partial
from pathlib import Path

from timing import Row, median_time, verdict

# (the arguments after lstm-trace, the target in seconds)
RUNS: list[tuple[list[str], float]] = [
    (["--input", "32", "--hidden", "70"], 0.2),
    (["--help"], 0.1),
    (["--version"], 0.1),
]
HEADER = ["command", "seconds", "target", "verdict"]
TORCHINFO = (
    "import torch, torchinfo; "
    "torchinfo.summary(torch.nn.LSTM(32, 70), input_size=(1, 3, 32), verbose=1)"
)


def seconds(root: Path, cmd: list[str], repeats: int) -> float:
    """Median wall-clock seconds of `repeats` fresh runs of cmd (after one untimed)."""
    run = partial(subprocess.run, cmd, capture_output=True, check=True, cwd=root)
    return median_time(run, repeats)


def cold_start(root: Path, repeats: int) -> list[Row]:
    """lstm-trace's cold starts against their targets, then the bare interpreter for scale
    (and torchinfo's summary of the same LSTM, when it is installed)."""
    # pip compiles an installed package's bytecode; a checkout run with
    # PYTHONDONTWRITEBYTECODE set would otherwise time the compiler (25 ms) at every start.
    compileall.compile_dir(root / "lstm_trace", quiet=1)
    rows = []
    for args, target in RUNS:
        took = seconds(root, [sys.executable, "-m", "lstm_trace", *args], repeats)
        rows.append(
            [
                f"lstm-trace {' '.join(args)}",
                f"{took:.3f}",
                f"<= {target:g}",
                verdict([] if took <= target else ["seconds"]),
            ]
        )
    bare = seconds(root, [sys.executable, "-c", "pass"], repeats)
    rows.append(["python -c pass (the interpreter alone, for scale)", f"{bare:.3f}", "", ""])
    try:
        import torchinfo  # noqa: F401
    except ImportError:
        return rows
    theirs = seconds(root, [sys.executable, "-c", TORCHINFO], repeats)
    rows.append(["torchinfo.summary(nn.LSTM(32, 70)) with import torch", f"{theirs:.3f}", "", ""])
    return rows
