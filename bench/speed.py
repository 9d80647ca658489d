"""Forward and traces against torch, the arithmetic limit, and the compiled kernel against the
NumPy path: every number of a shape comes from one take_turns, so its ratios are of runs that
alternated in one process.

Per shape the runs are: torch's forward; lstm-trace's forward as it runs by default
(LSTM_TRACE_KERNEL=auto: the compiled kernel where it pays); its forward on the NumPy path
(LSTM_TRACE_KERNEL=numpy, the reference); the default trace, the same with its health report
read (Trace.health is built when first read, as the records' objects are), and the full
trace (steps="all"), all by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
from limits import GATES, limit_seconds, pass_flops
from shapes import GRU_SHAPES, SHAPES, Shape, shape_name
from timing import Row, Runs, Turns, take_turns, verdict, with_kernel
from torch_ref import make_config, torch_forward

from lstm_trace import forward, init_input, init_weights, trace
from lstm_trace.cells import kernel

TRACE_TARGET = 1.2  # default trace / forward
FULL_TARGET = 3.0  # full trace / forward

# forward / torch, per cell and shape
TARGETS: dict[tuple[str, Shape], float] = {
    ("lstm", SHAPES[0]): 0.6,
    ("lstm", SHAPES[1]): 1.15,
    ("lstm", SHAPES[2]): 0.9,
    ("lstm", SHAPES[3]): 1.15,
    ("gru", GRU_SHAPES[0]): 1.15,
    ("gru", GRU_SHAPES[1]): 0.6,
}


@dataclass(frozen=True)
class Measured:
    """One shape's runs as they took turns (torch's absent without torch)."""

    cell: str
    shape: Shape
    turns: Turns

    def ms(self, name: str) -> str:
        """A run's milliseconds, "" for a run that did not run."""
        return f"{self.turns.seconds(name) * 1e3:.2f}" if name in self.turns.bests else ""

    def ratio(self, num: str, den: str) -> float | None:
        """num's time over den's, None when either did not run."""
        if num not in self.turns.bests or den not in self.turns.bests:
            return None
        return self.turns.ratio(num, den)

    def limit(self, peak: float) -> float:
        """The pass's matrix products at `peak` FLOP/s, in seconds."""
        return limit_seconds(self.shape, GATES[self.cell], peak)


def measure(cell: str, shape: Shape, rounds: int, threads: int, clock: str) -> Measured:
    """Time one shape's runs, taking turns for `rounds` rounds, torch on `threads` threads."""
    cfg = make_config(shape, None if cell == "lstm" else cell)
    w, x = init_weights(cfg), init_input(cfg)
    runs: Runs = {
        "forward": (with_kernel("auto", partial(forward, w, x)), 5),
        "numpy": (with_kernel("numpy", partial(forward, w, x)), 5),
        "default": (with_kernel("auto", partial(trace, cfg, w, x)), 5),
        "reported": (with_kernel("auto", lambda: trace(cfg, w, x).health), 5),
        "full": (with_kernel("auto", partial(trace, cfg, w, x, steps="all")), 2),
    }
    reference = torch_forward(cfg, threads)
    if reference is not None:
        runs["torch"] = (reference, 5)
    return Measured(cell, shape, take_turns(runs, rounds, clock))


def measure_all(rounds: int, threads: int, clock: str) -> list[Measured]:
    """Every LSTM shape, then every GRU shape."""
    cells = [("lstm", s) for s in SHAPES] + [("gru", s) for s in GRU_SHAPES]
    return [measure(cell, shape, rounds, threads, clock) for cell, shape in cells]


def _text(ratio: float | None) -> str:
    return "" if ratio is None else f"{ratio:.2f}"


def _limit(m: Measured, peak: float, den: str) -> str:
    """The limit over a run's time, "" when it did not run."""
    return "" if den not in m.turns.bests else f"{m.limit(peak) / m.turns.seconds(den):.2f}"


def torch_row(m: Measured, peak: float) -> Row:
    """cell, shape, torch ms, forward ms, forward / torch, the NumPy path / torch, the default
    trace (and it with its health read) and the full trace / forward, limit / torch, the
    target of forward / torch and the verdict."""
    fwd_torch, trace, full = (
        m.ratio("forward", "torch"),
        m.ratio("default", "forward"),
        m.ratio("full", "forward"),
    )
    target = TARGETS.get((m.cell, m.shape))
    missed = []
    if fwd_torch is None:
        missed.append("fwd (no torch)")
    elif target is not None and fwd_torch > target:
        missed.append("fwd")
    if trace is not None and trace > TRACE_TARGET:
        missed.append("trace")
    if full is not None and full > FULL_TARGET:
        missed.append("full trace")
    return [
        m.cell.upper(),
        shape_name(m.shape),
        m.ms("torch"),
        m.ms("forward"),
        _text(fwd_torch),
        _text(m.ratio("numpy", "torch")),
        _text(trace),
        _text(m.ratio("reported", "forward")),
        _text(full),
        _limit(m, peak, "torch"),
        "" if target is None else f"<= {target:g}",
        verdict(missed),
    ]


TORCH_HEADER = [
    "cell",
    "shape",
    "torch ms",
    "forward ms",
    "fwd / torch",
    "NumPy path / torch",
    "trace / fwd",
    "with health read / fwd",
    "full trace / fwd",
    "limit / torch",
    "target fwd / torch",
    "verdict",
]


def limit_row(m: Measured, peak: float) -> Row:
    """cell, shape, GFLOP, limit ms, torch ms, limit / torch, forward ms, limit / forward."""
    return [
        m.cell.upper(),
        shape_name(m.shape),
        f"{pass_flops(m.shape, GATES[m.cell]) / 1e9:.3f}",
        f"{m.limit(peak) * 1e3:.2f}",
        m.ms("torch"),
        _limit(m, peak, "torch"),
        m.ms("forward"),
        _limit(m, peak, "forward"),
    ]


LIMIT_HEADER = [
    "cell",
    "shape",
    "GFLOP",
    "limit ms",
    "torch ms",
    "limit / torch",
    "forward ms",
    "limit / fwd",
]


def auto_path(cell: str, shape: Shape) -> str:
    """What LSTM_TRACE_KERNEL=auto runs for a shape: "kernel, avx512" (its instruction set)
    or "NumPy" (no kernel built, or a pass too short to load it for)."""
    cfg = make_config(shape, None if cell == "lstm" else cell)
    chosen = with_kernel("auto", lambda: kernel.active(np.dtype(cfg.dtype), cfg.seq_len))()
    return "NumPy" if chosen is None else f"kernel, {chosen.isas()[-1]}"


def kernel_row(m: Measured) -> Row:
    """cell, shape, what auto runs, forward ms by default and on the NumPy path, their ratio."""
    return [
        m.cell.upper(),
        shape_name(m.shape),
        auto_path(m.cell, m.shape),
        m.ms("forward"),
        m.ms("numpy"),
        _text(m.ratio("forward", "numpy")),
    ]


KERNEL_HEADER = ["cell", "shape", "auto runs", "auto ms", "NumPy path ms", "auto / NumPy"]
