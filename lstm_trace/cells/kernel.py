"""The optional compiled recurrence (lstm_trace._kernel, built from csrc/ by `pip install .`
when a C compiler is there): which one runs, the weights laid out for it, and the plan of a
piece of steps.

The NumPy loops (lstm_loop.py, gru_loop.py) are the reference: the kernel runs the same
equations on the same pre-scaled values, the input projection of a block and a whole run of
unhooked steps in one call each, and writes the same arrays (the activations in the block,
h_t into the output, C_t or r * (...) into its block), so observers, gate health and every
record see what they see on the NumPy path. It differs from it only by rounding: its products
accumulate in another order (with FMA), and its tanh (csrc/tanh.h) is its own: in float32
within 3 ulps of the correctly rounded tanh (95 % exact); in float64 within 3.3e-15 relative
of NumPy's. Results agree within 1e-5 absolute in float32
(as two BLAS libraries do) and 1e-12 relative in float64 (tests/test_compiled.py). A hooked
step with the kernel uses its product and tanh (product(), tanh(), activate() below), so a
trace with hooks and one without hold the same bits, as on the NumPy path.

Where it is used: every LSTM (projection included) and GRU pass of float32 or float64, except
peephole LSTMs (o_t reads C_t within the step: the NumPy path's stepwise arithmetic). "auto"
leaves a pass of fewer than MIN_STEPS steps to NumPy, and a small pass until the module is
loaded (LOAD_STEPS, LOAD_MACS).

LSTM_TRACE_KERNEL chooses, read at every pass: "auto" (or unset) the kernel where it is
built, "numpy" the reference, "avx512", "avx2" or "baseline" the kernel with that
instruction set (an error when this CPU or build has no such thing).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any

import numpy as np

from ..errors import ConfigError
from .base import Fire, FloatArray, HealthWatch
from .recurrence import Project

#: LSTM_TRACE_KERNEL's values
MODES = ("auto", "numpy", "avx512", "avx2", "baseline")
#: the kernel's weights come in panels of this many bytes (csrc/body.h's PW)
PANEL_BYTES = 128
#: "auto" runs a pass of fewer steps on NumPy: packing the weights for the kernel reads and
#: writes them once, about what NumPy's products of a few steps cost when W is large (T = 5,
#: B = 32, H = 512: 3.3 ms with the kernel, 3.2 on NumPy; T = 10: 4.6 against 5.4)
MIN_STEPS = 8
#: "auto" loads the kernel (once loaded, it serves every pass of MIN_STEPS or more) for a pass
#: of at least LOAD_STEPS steps or LOAD_MACS multiply-adds: its import takes about 0.4 ms,
#: which a small step (4.2 us on the NumPy path, 1.0 us in the kernel, at H = 70, B = 1)
#: repays after about 125 steps, and larger steps sooner (2^25 multiply-adds saved 0.25 ms at
#: T = 10, B = 8, H = 256); so the walkthrough (T = 3) starts as quickly as without it
LOAD_STEPS = 128
LOAD_MACS = 1 << 26

_loaded: list[ModuleType | None] = []  # [] until the first pass asks


def built() -> ModuleType | None:
    """The compiled module, or None when this install has none (imported once, lazily)."""
    if not _loaded:
        try:  # a C extension, optional: absent where the install found no compiler
            _loaded.append(importlib.import_module("lstm_trace._kernel"))
        except ImportError:
            _loaded.append(None)
    return _loaded[0]


def loaded() -> ModuleType | None:
    """The compiled module when it is already loaded (never loading it) and
    LSTM_TRACE_KERNEL does not ask for the NumPy path: for work whose results are the NumPy
    path's to the last bit (the records' stats), so it may serve whenever it is there."""
    if not _loaded:
        return None
    mode = os.environ.get("LSTM_TRACE_KERNEL")
    return None if mode and mode.strip().lower() == "numpy" else _loaded[0]


def active(dtype: np.dtype[Any], steps: int, macs: int = 0) -> ModuleType | None:
    """The kernel a pass of `steps` steps and `macs` multiply-adds uses for arrays of dtype,
    or None for the NumPy path."""
    mode = os.environ.get("LSTM_TRACE_KERNEL", "").strip().lower() or "auto"
    if mode not in MODES:
        raise ConfigError(
            f"LSTM_TRACE_KERNEL must be one of {', '.join(MODES)}, got {mode!r}",
            option="LSTM_TRACE_KERNEL",
        )
    if mode == "numpy" or dtype not in (np.float32, np.float64):
        return None
    small = not _loaded and steps < LOAD_STEPS and macs < LOAD_MACS  # not worth loading for
    if mode == "auto" and (steps < MIN_STEPS or small):
        return None
    k = built()
    if k is None:
        if mode != "auto":
            raise ConfigError(
                f"LSTM_TRACE_KERNEL={mode}: this install has no compiled kernel "
                "(built by `pip install .` where a C compiler is found)",
                option="LSTM_TRACE_KERNEL",
            )
        return None
    isa = k.isas()[-1] if mode == "auto" else mode
    if isa not in k.isas():
        raise ConfigError(
            f"LSTM_TRACE_KERNEL={mode}: this CPU runs only {', '.join(k.isas())}",
            option="LSTM_TRACE_KERNEL",
        )
    k.set_isa(isa)
    return k


def macs(w: Any, steps: int, batch: int) -> int:
    """A pass's multiply-adds: every weight matrix of a direction (DirectionWeights) once per
    step and row."""
    weights = w.w_ih.size + w.w_hh.size + (0 if w.w_hr is None else w.w_hr.size)
    return int(steps * batch * weights)


def pack(w_t: FloatArray, scale: FloatArray | None = None) -> FloatArray:
    """W^T (K, N), times scale (N,) per column when given -> (P, K, PW): column panels of
    PW = PANEL_BYTES / itemsize, zero-padded to P * PW columns, each panel contiguous (the
    kernel streams one panel per k loop). The kernel's own pack fills them in one pass,
    reading w_t in place whatever its strides (W^T is a transposed view of W), so the result
    is the one copy made (the memory estimate allows one copy of a direction's weights)."""
    k = built()
    assert k is not None, "pack() lays out weights for the compiled kernel"
    pw = PANEL_BYTES // w_t.dtype.itemsize
    out = np.empty((-(-w_t.shape[1] // pw), w_t.shape[0], pw), dtype=w_t.dtype)
    k.pack(aligned(w_t), None if scale is None else state(scale), out)
    return out


def projector(k: ModuleType, w_ih: FloatArray, gain: FloatArray, bias: FloatArray) -> Project:
    """A block's input projection through the kernel: x (c, B, I_k) -> x (gain W_ih)^T + bias
    into out (c*B, G*H); w_ih (G*H, I_k) unscaled, bias (G*H,) already scaled. x is read in
    place (a view of batch-first input, or of the layer below's output, is not copied)."""
    packed = pack(w_ih.T, gain)
    bias = np.ascontiguousarray(bias)

    def project(x: FloatArray, out: FloatArray) -> FloatArray:
        k.project(state(x), packed, bias, out)
        return out

    return project


def product(k: ModuleType, h: FloatArray, packed: FloatArray, n: int) -> FloatArray:
    """h (B, K) W^T (B, n) as the kernel's loop computes it, for a hooked step (a new array;
    packed from pack(W^T))."""
    out = np.empty((h.shape[0], packed.shape[0] * packed.shape[2]), dtype=h.dtype)
    k.product(state(h), packed, out)
    return out[:, :n]


def tanh(k: ModuleType, x: FloatArray) -> FloatArray:
    """The kernel's tanh of x, a new array (a hooked step's, the same bits as the loop's)."""
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    k.tanh(x, out)
    return out


def activate(k: ModuleType, z: FloatArray, gain: FloatArray, offset: FloatArray) -> FloatArray:
    """tanh(z) * gain + offset, a new array, each operation rounded as the kernel rounds it."""
    out = tanh(k, z)
    out *= gain
    out += offset
    return out


def segments(
    ts: range, fire: Fire | None, active: frozenset[int] | None, backward: bool
) -> list[tuple[int, int, bool]]:
    """A piece's steps (ts, time order) cut where hooks fire, in visiting order: (start, stop,
    hooked) offsets into the piece; a hooked segment is one step, the others run in one call."""
    if fire is None:
        hooked: list[int] = []
    elif active is None:
        hooked = list(range(len(ts)))
    else:
        hooked = sorted(t - ts.start for t in active if t in ts)
    out: list[tuple[int, int, bool]] = []
    start = 0
    for k in hooked:
        if k > start:
            out.append((start, k, False))
        out.append((k, k + 1, True))
        start = k + 1
    if start < len(ts):
        out.append((start, len(ts), False))
    return out[::-1] if backward else out


class Counter:
    """Gate health of one block of steps `ts` (time order), counted by the kernel as it runs
    them (lstm() and gru()'s health argument) straight into the monitor's running totals (the
    watch's), a segment of steps at a time; a hooked step, which runs outside the kernel, is
    counted by its block pass once it has run (count()). bad: the NaN and Inf counted."""

    def __init__(self, watch: HealthWatch, block: FloatArray, ts: range) -> None:
        self._totals, segment = watch.totals(block.dtype)
        self._segment = segment[ts.start : ts.stop]  # each row's segment of time
        self.bad = 0

    @staticmethod
    def of(k: ModuleType | None, watch: HealthWatch | None, block: FloatArray,
           ts: range) -> Counter | None:  # fmt: skip
        """A Counter for a block (c, B, G*H) when the kernel runs it and health is watched."""
        return None if k is None or watch is None else Counter(watch, block, ts)

    @staticmethod
    def result(counter: Counter | None) -> int | None:
        """The NaN and Inf a block's counter counted; None without one (nothing counted)."""
        return None if counter is None else counter.bad

    def args(self, a: int, b: int) -> tuple[np.ndarray[Any, Any], ...]:
        """The kernel's health argument for rows a..b of the block."""
        return (*self._totals, self._segment[a:b])

    def count(self, k: ModuleType, block: FloatArray, a: int, b: int) -> None:
        """Rows a..b of the block (their steps have run) through the kernel's block pass."""
        self.bad += k.health(block[a:b], self.args(a, b))


def state(a: FloatArray) -> FloatArray:
    """An array as the kernel reads it (a state (B, n), a block of input (c, B, I)): its last
    axis contiguous, any other strides, aligned (a copy only if not)."""
    return a if a.strides[-1] == a.itemsize and a.flags.aligned else np.array(a, order="C")


def aligned(a: FloatArray) -> FloatArray:
    """a, or an aligned copy of it (any strides kept): the kernel refuses an unaligned
    buffer (format '=f', as np.frombuffer at an odd offset gives), and reads its values whole."""
    return a if a.flags.aligned else np.array(a, order="K")
