"""What a progress bar costs the pass: the trace with and without a bar's observer, and with
and without the pass's pieces of a block (cells/recurrence.py), in one run.

    python bench/progress.py            # seven rounds, a few minutes
    python bench/progress.py --quick    # three rounds

Four variants of the default trace (`trace(cfg, w, x)`: default steps, gate health), float32:

    whole      every block handed to the observers whole (REPORT_STEPS and REPORT_MACS set
               beyond any block): how the pass ran before it had pieces; the baseline
    pieces     the pass as it is, in pieces of a block (no bar)
    whole+bar  whole blocks, with a bar's observer
    pieces+bar the pass as it runs under a bar

"+bar" is the worst case: cli/progress.py's Tally and Bar with no delay, so the bar is drawn
(into memory, by a Rich console that acts as a terminal) at 10 Hz from the first piece to the
last; an ordinary run shows one only after a second. The bar draws on the pass's own thread,
in the Tally's calls, so the time those take (the last column: starting Rich's display,
each redraw, clearing it) is all a bar adds to the pass, beside its count (the last line).
The variants take turns in each round (a pause, one untimed call, then the timed one), so a
slow spell of the machine falls on all alike. CPU seconds of the process (time.process_time)
and wall seconds; one BLAS thread (--threads), the steadiest measure on a shared machine.

Printed: a Markdown table per shape of each variant's median CPU and wall milliseconds and
its CPU time over the baseline's (the median over rounds of each round's paired ratio) and
the milliseconds spent drawing the bar;
then what one piece costs, the steadier figure: T = 20000, H = 8 in pieces of one step
against whole blocks, (difference) / pieces, with and without a bar's Tally (not drawn).
Never run as part of the tests.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's lstm_trace, not an installed copy

#: (T, B, I, H): the bench's usual shapes, and long sequences, where pieces matter
SHAPES = [
    (1000, 1, 32, 70),
    (100, 32, 256, 512),
    (50, 8, 1024, 1024),
    (5000, 1, 32, 256),
    (100000, 1, 32, 64),
    (20000, 16, 32, 64),
]
VARIANTS = ("whole", "pieces", "whole+bar", "pieces+bar")


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="three rounds instead of seven")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 7)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    return parser.parse_args()


def _variant(name: str, cfg: Any, w: Any, x: Any) -> Callable[[], float]:
    """One call of the default trace as the variant runs it; returns the seconds spent
    drawing the bar (all of its work but the Tally's count: it draws on the pass's thread)."""
    from rich.console import Console

    from lstm_trace import trace
    from lstm_trace.cells import recurrence
    from lstm_trace.cli import progress

    def run() -> float:
        old = recurrence.REPORT_STEPS, recurrence.REPORT_MACS
        if name.startswith("whole"):
            recurrence.REPORT_STEPS = recurrence.REPORT_MACS = 1 << 62
        bar = None
        observers: list[Any] = []
        drawing = [0.0]
        if name.endswith("+bar"):
            screen = Console(file=io.StringIO(), force_terminal=True, width=100)
            bar = progress.Bar("steps", "tracing", console=screen)
            show = bar.show

            def timed(done: int, total: int) -> None:
                start = time.perf_counter()
                show(done, total)
                drawing[0] += time.perf_counter() - start

            observers.append(progress.Tally(progress.pass_steps(cfg), timed, delay=0.0).observe)
        try:
            trace(cfg, w, x, observers=observers)
        finally:
            recurrence.REPORT_STEPS, recurrence.REPORT_MACS = old
            if bar is not None:
                start = time.perf_counter()
                bar.close()
                drawing[0] += time.perf_counter() - start
        return drawing[0]

    return run


def _shape(
    shape: tuple[int, int, int, int], rounds: int
) -> dict[str, tuple[float, float, float, float]]:
    """{variant: (median CPU ms, median wall ms, median paired CPU ratio to 'whole', median
    ms drawing the bar)}."""
    from lstm_trace import LSTMConfig, init_input, init_weights

    t, b, i, h = shape
    cfg = LSTMConfig(input_size=i, hidden_size=h, seq_len=t, batch=b, dtype="float32")
    w, x = init_weights(cfg), init_input(cfg)
    runs = {name: _variant(name, cfg, w, x) for name in VARIANTS}
    cpu: dict[str, list[float]] = {name: [] for name in VARIANTS}
    wall: dict[str, list[float]] = {name: [] for name in VARIANTS}
    drawn: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for r in range(rounds):
        order = VARIANTS[r % 4 :] + VARIANTS[: r % 4]  # nobody always goes first
        for name in order:
            time.sleep(0.2)
            runs[name]()
            c0, w0 = time.process_time(), time.perf_counter()
            drawn[name].append(runs[name]())
            cpu[name].append(time.process_time() - c0)
            wall[name].append(time.perf_counter() - w0)
    base = cpu["whole"]
    return {
        name: (
            1000 * statistics.median(cpu[name]),
            1000 * statistics.median(wall[name]),
            statistics.median(a / b for a, b in zip(cpu[name], base, strict=True)),
            1000 * statistics.median(drawn[name]),
        )
        for name in VARIANTS
    }


def _piece_cost(rounds: int) -> tuple[float, float]:
    """Microseconds a piece adds to the pass, and a Tally's observer per call."""
    from lstm_trace import LSTMConfig, init_input, init_weights, trace
    from lstm_trace.cells import recurrence
    from lstm_trace.cli import progress

    cfg = LSTMConfig(input_size=8, hidden_size=8, seq_len=20000, dtype="float32")
    w, x = init_weights(cfg), init_input(cfg)

    def cpu(steps: int, tally: bool) -> float:
        old = recurrence.REPORT_STEPS
        recurrence.REPORT_STEPS = steps
        seen = [progress.Tally(cfg.seq_len, lambda d, t: None).observe] if tally else []
        start = time.process_time()
        try:
            trace(cfg, w, x, observers=seen)
        finally:
            recurrence.REPORT_STEPS = old
        return time.process_time() - start

    keys = [(1 << 62, False), (1, False), (1, True)]  # whole blocks; pieces of a step
    times: dict[tuple[int, bool], list[float]] = {key: [] for key in keys}
    for _ in range(rounds):
        for key, got in times.items():
            got.append(cpu(*key))
    whole, one, tallied = (statistics.median(t) for t in times.values())
    return 1e6 * (one - whole) / cfg.seq_len, 1e6 * (tallied - one) / cfg.seq_len


def main() -> None:
    args = _options()
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # before NumPy loads its BLAS
    rounds = args.rounds or (3 if args.quick else 7)
    from lstm_trace.cells import recurrence

    print(
        f"{rounds} rounds, {args.threads} BLAS thread(s); pieces of at most "
        f"{recurrence.REPORT_STEPS} steps and 2^{recurrence.REPORT_MACS.bit_length() - 1} "
        "multiply-adds\n"
    )
    print("| shape | variant | CPU ms | wall ms | CPU / whole | drawing the bar, ms |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for shape in SHAPES:
        t, b, i, h = shape
        for name, (c, w, ratio, bar) in _shape(shape, rounds).items():
            drawn = f"{bar:.2f}" if name.endswith("+bar") else ""
            print(
                f"| T={t} B={b} I={i} H={h} | {name} | {c:.1f} | {w:.1f} | {ratio:.3f} | {drawn} |"
            )
        sys.stdout.flush()
    piece, tally = _piece_cost(rounds)
    print(f"\na piece costs the pass {piece:.1f} us of CPU; a bar's Tally {tally:.1f} us a call")


if __name__ == "__main__":
    main()
