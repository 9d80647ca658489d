"""Timing and printing shared by bench/run.py's parts: medians of repeated calls, bursts that
take turns, the kernel switch around a call, and Markdown tables."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

Row = list[str]
Runs = dict[str, tuple[Callable[[], Any], int]]  # name: (function, calls per burst)

# lstm-trace reads this at every forward() and trace() call: "numpy" forces the NumPy path
# (the reference), "auto" uses the compiled kernel where it pays.
KERNEL_VARIABLE = "LSTM_TRACE_KERNEL"


def children_cpu() -> float:
    """CPU seconds (user and system) of every finished child process of this one so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def median_time(
    fn: Callable[[], Any], repeats: int, warmup: int = 1, clock: Callable[[], float] | None = None
) -> float:
    """Median seconds of `repeats` calls of fn, after `warmup` untimed ones, by `clock`
    (default time.perf_counter; children_cpu for fresh processes in CPU seconds)."""
    now = clock or time.perf_counter
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = now()
        fn()
        times.append(now() - start)
    return statistics.median(times)


def process_seconds(
    cmd: list[str], root: Path, repeats: int, clock: str = "wall", **options: Any
) -> float:
    """Median seconds of `repeats` fresh runs of cmd in root (after one untimed), from the
    start to the exit: wall-clock, or with clock "cpu" the CPU seconds the process took."""
    run = partial(subprocess.run, cmd, check=True, cwd=root, **options)
    return median_time(run, repeats, clock=children_cpu if clock == "cpu" else None)


MAX_CALLS = 200  # of a burst, however short its calls
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


@dataclass(frozen=True)
class Turns:
    """The fastest call of each burst, {name: [seconds, one a round]}."""

    bests: dict[str, list[float]]

    def seconds(self, name: str) -> float:
        """A run's time: the median over rounds of its bursts' fastest calls."""
        return statistics.median(self.bests[name])

    def ratio(self, num: str, den: str) -> float:
        """num's time over den's: the median over rounds of each round's paired ratio. A
        round's bursts are seconds apart, so a slow spell longer than that cancels out."""
        pairs = zip(self.bests[num], self.bests[den], strict=True)
        return statistics.median(a / b for a, b in pairs)


def take_turns(runs: Runs, rounds: int, clock: str = "wall", burst: float = 0.1) -> Turns:
    """Each run, {name: (function, calls per burst)}, timed in bursts that take turns for a
    few rounds: a slow spell of a shared machine then falls on all of them alike, and their
    ratios come from one process. Each burst starts after a pause, so that the threads the
    previous burst left spinning (OpenBLAS's, torch's) are asleep and do not slow it, and with
    an untimed call, so it is timed warm, back to back, as a framework is used in a loop
    (torch's thread pool is then awake: the fair comparison). A burst makes at least its
    calls and lasts at least `burst` seconds (a short call is made more often), and counts by
    its fastest call, the one that another process slowed least. clock: "wall"
    (time.perf_counter) or "cpu" (time.process_time, this process's CPU seconds: steady on a
    shared machine with one thread, but it counts every thread's spinning too)."""
    now = CLOCKS[clock]
    bests: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, (fn, calls) in runs.items():
            time.sleep(0.2)
            start = time.perf_counter()
            fn()
            first = time.perf_counter() - start
            calls = max(calls, min(MAX_CALLS, int(burst / max(first, 1e-6))))
            times = []
            for _ in range(calls):
                start = now()
                fn()
                times.append(now() - start)
            bests[name].append(min(times))
    return Turns(bests)


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
