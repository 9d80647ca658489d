"""Peak memory of fresh processes (/usr/bin/time -v) against the guard's own estimate, the
one --max-memory is checked against before anything is allocated."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from timing import Row

from lstm_trace import LSTMConfig
from lstm_trace.trace import prepare, trace_bytes

HEADER = ["run", "measured", "estimate", "estimate / measured"]


def peak_rss(root: Path, args: list[str]) -> int:
    """Peak resident memory of a fresh `lstm-trace ARGS` in bytes."""
    done = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, "-m", "lstm_trace", *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
    )
    kb = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    assert kb, done.stderr
    return int(kb.group(1)) * 1024


def memory(root: Path) -> list[Row]:
    """The default steps as JSON and every step as JSONL, at T = 10,000 and 100,000."""
    rows = []
    for t in (10_000, 100_000):
        runs = (
            ("default steps, JSON", ["--json"], False),
            ("every step, JSONL", ["--format", "jsonl", "--steps", "all"], True),
        )
        for label, extra, streamed in runs:
            h = 256
            if streamed and t == 100_000:
                h = 70  # a million JSONL lines at H=256 take minutes; the records stay flat
            cfg = LSTMConfig(seq_len=t, hidden_size=h)
            selection = prepare(cfg, "all" if streamed else None, 4, keep_records=not streamed)
            estimate = cfg.estimate_bytes(trace_bytes(cfg, selection, 4, keep_records=not streamed))
            measured = peak_rss(root, ["-T", str(t), "-H", str(h), *extra])
            rows.append(
                [
                    f"T={t} H={h} {label}",
                    f"{measured / 2**20:.0f}",
                    f"{estimate / 2**20:.0f}",
                    f"{estimate / measured:.2f}",
                ]
            )
    return rows
