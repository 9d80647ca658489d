"""Cold starts: the median seconds of fresh processes, from the interpreter's start to exit
(wall-clock, or CPU seconds with clock "cpu")."""

from __future__ import annotations

import compileall
import sys
from pathlib import Path

from timing import Row, process_seconds, verdict

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


def cold_start(root: Path, repeats: int, clock: str = "wall") -> list[Row]:
    """lstm-trace's cold starts against their targets, then the bare interpreter for scale
    (and torchinfo's summary of the same LSTM, when it is installed)."""
    # pip compiles an installed package's bytecode; a checkout run with
    # PYTHONDONTWRITEBYTECODE set would otherwise time the compiler (25 ms) at every start.
    compileall.compile_dir(root / "lstm_trace", quiet=1)
    rows = []
    for args, target in RUNS:
        cmd = [sys.executable, "-m", "lstm_trace", *args]
        took = process_seconds(cmd, root, repeats, clock, capture_output=True)
        rows.append(
            [
                f"lstm-trace {' '.join(args)}",
                f"{took:.3f}",
                f"<= {target:g}",
                verdict([] if took <= target else ["seconds"]),
            ]
        )
    bare = process_seconds(
        [sys.executable, "-c", "pass"], root, repeats, clock, capture_output=True
    )
    rows.append(["python -c pass (the interpreter alone, for scale)", f"{bare:.3f}", "", ""])
    try:
        import torchinfo  # noqa: F401
    except ImportError:
        return rows
    theirs = process_seconds(
        [sys.executable, "-c", TORCHINFO], root, repeats, clock, capture_output=True
    )
    rows.append(["torchinfo.summary(nn.LSTM(32, 70)) with import torch", f"{theirs:.3f}", "", ""])
    return rows
