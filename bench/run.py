"""lstm-trace benchmarks, one run, one set of Markdown tables: forward and traces against
torch.nn.LSTM and nn.GRU, the arithmetic limit, the compiled kernel against the NumPy path,
records a second, cold starts and memory.

It measures the checkout it sits in (torch optional: without it its columns are empty):

    python bench/run.py                  # everything, a few minutes
    python bench/run.py --quick          # fewer repeats
    python bench/run.py --skip-memory    # without the peak-memory table
    python bench/run.py --threads 1 --cpu   # a shared machine: one thread, CPU seconds

Float32 throughout. NumPy's BLAS runs on all its threads (--threads N: on N) and torch on as
many. Ratios, not absolute times, are what the targets mean. Each run of a shape is timed in
bursts that take turns with the others in one process; a burst counts by its fastest call and
a ratio is the median of each round's paired ratio, so a slow spell of the machine cancels out.
On a busy machine the wall clock still swings (a run against itself: 0.77 to 1.30 with both
threads); --threads 1 --cpu times CPU seconds of one thread (1.00 to 1.01).

Targets: forward / torch <= 0.6 for the LSTM at T=1000 B=1 I=32 H=70, <= 0.9 at T=50 B=8
I=1024 H=1024, <= 1.15 at T=100 B=32 I=256 H=512 and for the stacked bidirectional shape; the
GRU's <= 1.15 at T=200 B=16 I=256 H=256 and <= 0.6 at T=1000 B=1 I=32 H=70; default trace
<= 1.2 x forward, full trace <= 3 x forward; JSONL <= 5 us a record; cold start <= 0.2 s,
--help and --version <= 0.1 s. Never run as part of the tests.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# The checkout this script sits in, never another copy of lstm_trace that happens to be
# installed: a script's own folder, not the working directory, starts sys.path.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cold  # noqa: E402
import machine  # noqa: E402
import memory  # noqa: E402
import records  # noqa: E402
import speed  # noqa: E402
from limits import sgemm_peak  # noqa: E402
from timing import table  # noqa: E402


def speed_tables(rounds: int, peak_repeats: int, clock: str) -> None:
    """Every shape's runs, shown as three tables, and the sgemm peak: measured before them and
    after, the better of the two taken, so that a busy spell at one end does not lower it."""
    threads = machine.blas_threads()
    before = sgemm_peak(repeats=peak_repeats, clock=clock)
    results = speed.measure_all(rounds, threads, clock)
    peak, n = max(before, sgemm_peak(repeats=peak_repeats, clock=clock))
    seconds = "CPU" if clock == "cpu" else "wall-clock"
    table(
        f"Against torch (float32, {seconds} ms: the median over {rounds} rounds of each burst's "
        "fastest call; ratios: the median of each round's, lower is better; targets: "
        f"forward / torch as listed, trace / fwd <= {speed.TRACE_TARGET:g}, full trace / fwd "
        f"<= {speed.FULL_TARGET:g}; with health read: the default trace and its Trace.health, "
        "which is built when first read, shown and not judged)",
        speed.TORCH_HEADER,
        [speed.torch_row(m, peak) for m in results],
    )
    table(
        f"The arithmetic limit: the pass's matrix-product FLOPs at the sgemm peak, "
        f"{peak / 1e9:.0f} GFLOP/s (float32 {n} x {n} products, NumPy on "
        f"{machine.threads(threads)}, best of {peak_repeats} per size, before and after the runs)",
        speed.LIMIT_HEADER,
        [speed.limit_row(m, peak) for m in results],
    )
    table(
        f"The kernel against the NumPy path (forward, {seconds} ms as above; "
        "LSTM_TRACE_KERNEL=auto against =numpy)",
        speed.KERNEL_HEADER,
        [speed.kernel_row(m) for m in results],
    )


def positive(text: str) -> int:
    """--threads: a whole number >= 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number >= 1")
    return int(text)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=" ".join((__doc__ or "").split("\n\n")[0].split()))
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--skip-memory", action="store_true", help="no peak-memory table")
    parser.add_argument(
        "--threads",
        type=positive,
        help="BLAS and torch threads, here and in fresh processes (default: NumPy's, all cores)",
    )
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="time in CPU seconds, not wall-clock (a shared machine; with --threads 1)",
    )
    return parser.parse_args()


def main() -> None:
    args = arguments()
    if args.threads is not None:
        try:
            machine.set_blas_threads(args.threads)
        except RuntimeError as error:
            sys.exit(f"run.py: --threads {args.threads}: {error}")
    repeats = 3 if args.quick else 7
    forced = [v for v in machine.OPENBLAS_VARIABLES if v in os.environ]
    if forced:
        print(
            f"run.py: {' and '.join(forced)} set: OpenBLAS runs another core's kernels; "
            f"for this CPU's own, run with env {' '.join('-u ' + v for v in forced)}",
            file=sys.stderr,
        )
    table("Machine", ["", ""], machine.describe())
    clock = "cpu" if args.cpu else "wall"
    # six rounds: a burst the machine slowed as a whole (a neighbour's spell, 0.1 s long)
    # moved a median of four by up to 0.3 at the 1 ms shapes
    speed_tables(3 if args.quick else 6, 3 if args.quick else 5, clock)
    seconds = "CPU s" if args.cpu else "s"
    table(
        f"Full traces printed (median {seconds} of fresh processes, output to /dev/null)",
        records.HEADER,
        records.printed(ROOT, 3 if args.quick else 5, clock),
    )
    table(
        f"Cold start (median {seconds} of fresh processes)",
        cold.HEADER,
        cold.cold_start(ROOT, repeats, clock),
    )
    if not args.skip_memory:
        table(
            "Peak memory (MB): measured with /usr/bin/time -v, and the guard's estimate",
            memory.HEADER,
            memory.memory(ROOT),
        )


if __name__ == "__main__":
    main()
