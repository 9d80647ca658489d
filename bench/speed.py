"""Forward and traces against torch, the arithmetic limit, and the compiled kernel against the
NumPy path: every number of a shape comes from one take_turns, so its ratios are of runs that
alternated in one process.

Per shape the runs are: torch's forward; lstm-trace's forward as it runs by default
(LSTM_TRACE_KERNEL=auto: the compiled kernel where it pays); its forward on the NumPy path
(LSTM_TRACE_KERNEL=numpy, the reference); the default trace and the full trace
(steps="all"), both by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from limits import GATES, limit_seconds, pass_flops
from shapes import GRU_SHAPES, SHAPES, Shape, shape_name
from timing import Row, Runs, take_turns, verdict, with_kernel
from torch_ref import make_config, torch_forward

from lstm_trace import forward, init_input, init_weights, trace

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
    """One shape's medians in seconds (torch's absent without torch)."""

    cell: str
    shape: Shape
    median: dict[str, float]

    def limit(self, peak: float) -> float:
        """The pass's matrix products at `peak` FLOP/s, in seconds."""
        return limit_seconds(self.shape, GATES[self.cell], peak)


def measure(cell: str, shape: Shape, rounds: int, threads: int) -> Measured:
    """Time one shape's runs, taking turns for `rounds` rounds."""
    cfg = make_config(shape, None if cell == "lstm" else cell)
    w, x = init_weights(cfg), init_input(cfg)
    runs: Runs = {
        "forward": (with_kernel("auto", partial(forward, w, x)), 5),
        "numpy": (with_kernel("numpy", partial(forward, w, x)), 5),
        "default": (with_kernel("auto", partial(trace, cfg, w, x)), 5),
        "full": (with_kernel("auto", partial(trace, cfg, w, x, steps="all")), 2),
    }
    reference = torch_forward(cfg, threads)
    if reference is not None:
        runs["torch"] = (reference, 5)
    return Measured(cell, shape, take_turns(runs, rounds))


def measure_all(rounds: int, threads: int) -> list[Measured]:
    """Every LSTM shape, then every GRU shape."""
    cells = [("lstm", s) for s in SHAPES] + [("gru", s) for s in GRU_SHAPES]
    return [measure(cell, shape, rounds, threads) for cell, shape in cells]


def _ms(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds * 1e3:.2f}"


def _ratio(num: float | None, den: float | None) -> str:
    return "" if num is None or den is None else f"{num / den:.2f}"


def torch_row(m: Measured, peak: float) -> Row:
    """cell, shape, torch ms, forward ms, forward / torch, the NumPy path / torch, default
    and full trace / forward, limit / torch, the target of forward / torch and the verdict."""
    fwd, torch = m.median["forward"], m.median.get("torch")
    target = TARGETS.get((m.cell, m.shape))
    missed = []
    if torch is None:
        missed.append("fwd (no torch)")
    elif target is not None and fwd / torch > target:
        missed.append("fwd")
    if m.median["default"] / fwd > TRACE_TARGET:
        missed.append("trace")
    if m.median["full"] / fwd > FULL_TARGET:
        missed.append("full trace")
    return [
        m.cell.upper(),
        shape_name(m.shape),
        _ms(torch),
        _ms(fwd),
        _ratio(fwd, torch),
        _ratio(m.median["numpy"], torch),
        _ratio(m.median["default"], fwd),
        _ratio(m.median["full"], fwd),
        _ratio(m.limit(peak), torch),
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
    "full trace / fwd",
    "limit / torch",
    "target fwd / torch",
    "verdict",
]


def limit_row(m: Measured, peak: float) -> Row:
    """cell, shape, GFLOP, limit ms, torch ms, limit / torch, forward ms, limit / forward."""
    torch, fwd = m.median.get("torch"), m.median["forward"]
    return [
        m.cell.upper(),
        shape_name(m.shape),
        f"{pass_flops(m.shape, GATES[m.cell]) / 1e9:.3f}",
        _ms(m.limit(peak)),
        _ms(torch),
        _ratio(m.limit(peak), torch),
        _ms(fwd),
        _ratio(m.limit(peak), fwd),
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


def kernel_row(m: Measured) -> Row:
    """cell, shape, forward ms by default (the kernel where on), on the NumPy path, ratio."""
    fwd, numpy = m.median["forward"], m.median["numpy"]
    return [m.cell.upper(), shape_name(m.shape), _ms(fwd), _ms(numpy), _ratio(fwd, numpy)]


KERNEL_HEADER = ["cell", "shape", "default ms", "NumPy path ms", "default / NumPy"]
