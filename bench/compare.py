"""Before and after: the LSTM's speed at one revision against another, in one run.

    python bench/compare.py OLD_REV [NEW_REV]    # NEW_REV: the working tree when left out
    python bench/compare.py ac2e108 --quick      # fewer rounds
    python bench/compare.py ac2e108 --shapes 0,2 # a subset of bench/shapes.py's SHAPES

Each revision's lstm_trace is extracted with `git archive` into a temporary folder (the
working tree is used where it is), and timed by its own long-lived worker process
(bench/compare_worker.py, with that folder first on sys.path), driven over a pipe. For each
shape, in rounds, each measure (forward, default trace: `trace(cfg, w, x)` with its default
steps and gate health; full trace: `steps="all"`) is timed in a burst by the old worker and
then by the new one, each burst after a pause and one untimed call, as bench/run.py's
take_turns does: both workers are warm and a slow spell of the machine falls on both alike.
Same shapes, float32, and the default seed on both sides, so both run the same numbers.

Printed: a Markdown table, per shape and measure, of the old and new medians of every call
(ms), new / old, the range of the rounds' ratios, and the verdict against the 5 % budget
(`ok` up to 1.05, `slower` above it). new / old is the median over rounds of each round's
paired ratio (of its two bursts' fastest calls), not the quotient of the two medians: a
round's two bursts are seconds apart, so the machine's weather cancels out of it.
--threads N gives each worker N BLAS threads (default: NumPy's own, all cores); --cpu times
CPU seconds of the worker (time.process_time) instead of the wall clock.

Noise floor, measured by a revision against itself (`python bench/compare.py ac2e108
ac2e108 ...`) on a 2-core machine shared with other jobs (load average 2 to 4), as the
spread of new / old over the twelve rows (and of a single round's ratio):

    (defaults: wall clock, both cores)   0.74 to 1.26   (a round's 0.27 to 2.80)
    --threads 1                          0.91 to 1.60
    --threads 1 --cpu                    0.97 to 1.04   (a round's 0.74 to 1.15)
    --threads 1 --cpu --rounds 12        0.98 to 1.03   (a round's 0.75 to 1.63)

So on a shared machine use `--threads 1 --cpu`: another process then takes the worker's
wall-clock time but not its CPU seconds, and one BLAS thread has no partner to wait for.
Even so a row within about 4 % of 1 is noise; repeat a row that says `slower` (with
--shapes and more --rounds) before believing it. Never run as part of the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

from shapes import SHAPES, Shape, shape_name

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).resolve().parent / "compare_worker.py"
MEASURES = {"forward": 5, "default": 5, "full": 2}  # measure: timed calls per burst
BUDGET = 1.05  # new / old may be up to 5 % slower
PAUSE = 0.2  # seconds before each burst: the other worker's BLAS threads fall asleep
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# --tiny (hidden): a smoke test of the protocol for the tests, not a measurement
TINY: list[Shape] = [(3, 2, 4, 5, 1, False)]


class CompareError(Exception):
    """A bad revision (exit 2) or a worker that failed (exit 1): one line for stderr."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@contextmanager
def checkout(rev: str | None) -> Iterator[tuple[str, Path]]:
    """(label, folder holding lstm_trace/) of a revision, or of the working tree for None.
    A revision's files are `git archive`d into a temporary folder, removed afterwards."""
    if rev is None:
        yield "working tree", ROOT
        return
    git = ["git", "-C", str(ROOT)]
    found = subprocess.run(
        [*git, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
        capture_output=True,
        text=True,
    )
    if found.returncode != 0:
        raise CompareError(
            f"revision {rev!r}: not a commit of {ROOT}; give a commit or a branch", 2
        )
    commit = found.stdout.strip()
    folder = Path(tempfile.mkdtemp(prefix=f"lstm-trace-{commit[:7]}-"))
    try:
        archive = subprocess.run(
            [*git, "archive", "--format=tar", commit, "lstm_trace"], capture_output=True
        )
        if archive.returncode != 0:
            raise CompareError(f"revision {rev!r} has no lstm_trace/ to compare")
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
        yield f"{rev} ({commit[:7]})", folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class Worker:
    """One checkout's worker process: `run` asks it for one burst and returns its times."""

    def __init__(self, label: str, folder: Path, threads: int | None, clock: str) -> None:
        self.label = label
        self.clock = clock
        env = dict(os.environ)
        if threads is not None:  # read by OpenBLAS (or MKL) when NumPy loads it
            env.update(dict.fromkeys(THREAD_VARIABLES, str(threads)))
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER), str(folder)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=folder,
            env=env,
        )
        try:
            self.where = self._read()["ready"]
        except CompareError:
            self.process.kill()
            self.process.wait()
            raise

    def _read(self) -> dict[str, Any]:
        out: IO[str] | None = self.process.stdout
        line = out.readline() if out else ""
        if not line:
            raise CompareError(f"{self.label}: the worker stopped (exit {self.process.wait()})")
        message: dict[str, Any] = json.loads(line)
        if "error" in message:
            raise CompareError(f"{self.label}: {message['error']}")
        return message

    def run(self, shape: Shape, measure: str, calls: int) -> list[float]:
        request = {"shape": list(shape), "measure": measure, "calls": calls, "clock": self.clock}
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        times: list[float] = self._read()["times"]
        return times

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=30)


Bursts = list[list[float]]  # the seconds of each call, one list per burst


def compare_shape(
    workers: Sequence[Worker], shape: Shape, rounds: int, pause: float = PAUSE
) -> dict[str, list[Bursts]]:
    """{measure: [old bursts, new bursts]} of one shape. The sides take turns, and which goes
    first alternates by round (old, new, then new, old), so neither is always the one that
    runs just after the other."""
    times: dict[str, list[Bursts]] = {m: [[] for _ in workers] for m in MEASURES}
    for r in range(rounds):
        for measure, calls in MEASURES.items():
            order = range(len(workers)) if r % 2 == 0 else reversed(range(len(workers)))
            for side in order:
                time.sleep(pause)
                times[measure][side].append(workers[side].run(shape, measure, calls))
    return times


def paired_ratios(old: Bursts, new: Bursts) -> list[float]:
    """new / old of each round's two bursts, taken at most seconds apart, so that a slow spell
    that spans a round cancels out of its ratio. A burst counts by its fastest call: the code
    is deterministic, so a slower call is the machine's doing (another process, a page
    fault), and the fastest is the one least touched by it."""
    return [min(n) / min(o) for o, n in zip(old, new, strict=True)]


def rows_of(shape: Shape, times: dict[str, list[Bursts]]) -> list[list[str]]:
    """One row per measure: medians of every call (ms), the median of the rounds' paired
    ratios, their range, and the verdict on that median."""
    rows = []
    for measure, (old, new) in times.items():
        old_ms = statistics.median(t for burst in old for t in burst) * 1e3
        new_ms = statistics.median(t for burst in new for t in burst) * 1e3
        ratios = paired_ratios(old, new)
        ratio = statistics.median(ratios)
        verdict = "ok" if ratio <= BUDGET else "slower"
        spread = f"{min(ratios):.2f} to {max(ratios):.2f}"
        numbers = [f"{old_ms:.4g}", f"{new_ms:.4g}", f"{ratio:.3f}", spread]
        rows.append([shape_name(shape), measure, *numbers, verdict])
    return rows


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows
    ]
    return "\n".join(lines)


def parse_shapes(text: str) -> list[int]:
    """--shapes 0,2 -> [0, 2], each an index into SHAPES."""
    try:
        picked = [int(part) for part in text.split(",")]
    except ValueError:
        picked = []
    if not picked or any(not 0 <= p < len(SHAPES) for p in picked):
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected indices 0 to {len(SHAPES) - 1}, comma-separated, e.g. 0,2"
        )
    return picked


def positive(text: str) -> int:
    """--rounds / --threads: a whole number >= 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number >= 1")
    return int(text)


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("old", metavar="OLD_REV", help="the revision before, e.g. ac2e108")
    parser.add_argument("new", metavar="NEW_REV", nargs="?", help="default: the working tree")
    parser.add_argument("--quick", action="store_true", help="2 rounds instead of 6")
    parser.add_argument("--rounds", type=positive, help="this many rounds (more: less noise)")
    parser.add_argument(
        "--shapes", type=parse_shapes, help=f"indices into SHAPES, 0 to {len(SHAPES) - 1}: 0,2"
    )
    parser.add_argument(
        "--threads", type=positive, help="BLAS threads of each worker (default: NumPy's, all cores)"
    )
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="time CPU seconds, not wall-clock ones (a shared machine; with --threads 1)",
    )
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> str:
    pause = PAUSE
    if args.tiny:  # the protocol's smoke test: nothing to let settle
        shapes, rounds, pause = TINY, 1, 0.0
    else:
        shapes = [SHAPES[i] for i in args.shapes or range(len(SHAPES))]
        rounds = args.rounds or (2 if args.quick else 6)
    with ExitStack() as stack:
        sides = [stack.enter_context(checkout(rev)) for rev in (args.old, args.new)]
        workers = []
        for label, folder in sides:
            workers.append(Worker(label, folder, args.threads, "cpu" if args.cpu else "wall"))
            stack.callback(workers[-1].close)
            print(f"{label}: lstm_trace from {workers[-1].where}", file=sys.stderr)
        rows = []
        for shape in shapes:
            print(f"timing {shape_name(shape)} ...", file=sys.stderr)
            rows += rows_of(shape, compare_shape(workers, shape, rounds, pause))
    head = f"old: {sides[0][0]}, new: {sides[1][0]}; {rounds} rounds, float32, "
    threads = f"{args.threads} BLAS threads" if args.threads else f"{os.cpu_count()} cores"
    clock = "CPU seconds" if args.cpu else "wall-clock"
    head += f"{platform.machine()}, {threads}, {clock}, Python {platform.python_version()}"
    header = ["shape", "measure", "old ms", "new ms", "new / old", "rounds' range"]
    header.append(f"within {BUDGET - 1:.0%}")
    return head + "\n\n" + table(header, rows)


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    try:
        print(run(args))
    except CompareError as error:
        print(f"compare.py: {error}", file=sys.stderr)
        return error.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
