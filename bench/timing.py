"""Timing and printing shared by bench/run.py's parts: medians of repeated calls, bursts that
take turns, the kernel switch around a call, and Markdown tables."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

Row = list[str]
Runs = dict[str, tuple[Callable[[], Any], int]]  # name: (function, calls per burst)

# lstm-trace reads this at every forward() and trace() call: "numpy" forces the NumPy path
# (the reference), "auto" uses the compiled kernel where it pays.
KERNEL_VARIABLE = "LSTM_TRACE_KERNEL"


def median_time(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    """Median seconds of `repeats` calls of fn, after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def take_turns(runs: Runs, rounds: int) -> dict[str, float]:
    """Median seconds of each run, timed in bursts that take turns for a few rounds: a slow
    spell of a shared machine then falls on all of them alike, and their ratios come from one
    process. Each burst starts after a pause, so that the threads the previous burst left
    spinning (OpenBLAS's, torch's) are asleep and do not slow it, and with an untimed call, so
    it is timed warm, back to back, as a framework is used in a loop (torch's thread pool is
    then awake: the fair comparison)."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, (fn, calls) in runs.items():
            time.sleep(0.2)
            fn()
            for _ in range(calls):
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def with_kernel(setting: str, fn: Callable[[], Any]) -> Callable[[], Any]:
    """fn run with LSTM_TRACE_KERNEL set to `setting` ("numpy" or "auto") for the call, put
    back as it was after: the runs of one burst can then take different paths."""

    def run() -> Any:
        before = os.environ.get(KERNEL_VARIABLE)
        os.environ[KERNEL_VARIABLE] = setting
        try:
            return fn()
        finally:
            if before is None:
                del os.environ[KERNEL_VARIABLE]
            else:
                os.environ[KERNEL_VARIABLE] = before

    return run


def table(title: str, header: Row, rows: list[Row]) -> None:
    """Print a Markdown table under a title, its columns padded to their widest cell."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}\n", flush=True)
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
    print(end="", flush=True)


def verdict(missed: list[str]) -> str:
    """Say "ok" when every target was met, else "missed: " and the names of those not met."""
    return "ok" if not missed else "missed: " + ", ".join(missed)
