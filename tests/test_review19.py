"""A review of the trace bookkeeping and the kernel's stats and gate health: an input that
is an ndarray subclass is read as its plain array again; the gate-health plans of a long pass
share one copy of the thresholds; and the compiled stats() and the loop's per-piece gate
health on the edges the review probed (bad arguments after good ones, strides of every sign,
samples of the wrong shape, backward passes and calls that start in the middle of a piece).

The kernel's crash cases run in a subprocess, so that a segmentation fault fails the test
instead of ending the run; the kernel's tests are skipped without the compiled kernel.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace import LSTMConfig, init_input, recorders, summary, trace
from lstm_trace.cells import kernel
from lstm_trace.health import HealthMonitor, thresholds

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix
def test_an_ndarray_subclass_input_is_traced_as_its_plain_array() -> None:
    """x as an np.matrix (T, I) was taken as it is, without asarray: its rows stay (1, I)
    matrices, and the pass failed inside with 'shapes (1,15) and (1,15) not aligned'."""
    cfg = LSTMConfig(input_size=3, hidden_size=4, seq_len=5)
    x = init_input(cfg)
    want = json.dumps(trace(cfg, x=x).to_dict())
    assert json.dumps(trace(cfg, x=np.asmatrix(x)).to_dict()) == want


def test_the_health_totals_of_a_shape_share_one_copy_of_the_thresholds() -> None:
    """Every block's plan (then kept in a cache of 256) held its own (G*H,) copies of the columns'
    thresholds: at H = 8192 in float64, 512 KB a plan, 128 MB kept after a pass of 256
    blocks. They are one read-only pair for the shape, as the steps' segments are."""
    cfg = LSTMConfig(input_size=3, hidden_size=50, seq_len=40, cell="gru", bidirectional=True)
    monitors = [HealthMonitor(cfg) for _ in range(2)]
    totals = [m.totals(0, d, np.dtype(np.float32)) for m in monitors for d in cfg.directions]
    below, above = thresholds(monitors[0].tanh, np.dtype(np.float32))
    for arrays, segment in totals:
        assert arrays[0] is totals[0][0][0] and arrays[1] is totals[0][0][1]
        np.testing.assert_array_equal(arrays[0], np.repeat(below, 50))
        np.testing.assert_array_equal(arrays[1], np.repeat(above, 50))
        assert not arrays[0].flags.writeable and not segment.flags.writeable
        assert segment is totals[0][1] and segment[2:6].tolist() == [0, 0, 1, 1]  # of 4 steps
    assert totals[0][0][2] is not totals[1][0][2]  # each direction's own running totals
    float64 = LSTMConfig(input_size=3, hidden_size=50, seq_len=40, cell="gru", dtype="float64")
    arrays, _ = HealthMonitor(float64).totals(0, "forward", np.dtype(np.float64))
    assert arrays[0].dtype == np.float64 and arrays[2].dtype == np.float64
    with pytest.raises(ValueError, match="float64 values, not float32"):
        HealthMonitor(float64).totals(0, "forward", np.dtype(np.float32))


# stats() on arguments a caller could pass: each case refused (an exception's type name) or
# read (the NumPy path's numbers, written only where asked). Run by a UBSan build of the
# kernel in a subprocess, every finding fatal, so that undefined behaviour or a crash is an
# exit status; out and samples sit inside guard bands that must come back untouched.
STATS_EDGES = r"""
import json, sys
import numpy as np
from numpy.lib.stride_tricks import as_strided
sys.path.insert(0, sys.argv[1])
from lstm_trace.summary import _numpy_rows
import _kernel as k

f4, f8 = np.float32, np.float64
base = np.random.default_rng(2).standard_normal(4096)
good = base[:15].reshape(3, 5).astype(f4)
empty = np.zeros((0, 3))
readonly = np.zeros((3, 4))
readonly.flags.writeable = False
MAX = 2 ** 63 - 1

def guarded(shape):  # a C-order array with 8 sentinels on each side
    buf = np.full(int(np.prod(shape)) + 16, 7.0)
    return buf, buf[8:-8].reshape(shape)

def case(x, n, start=0, step=1, k=None, out=None, samples=None):
    obuf, o = guarded((4, n))
    sbuf, s = guarded((n, k)) if k is not None else (None, samples)
    args = (x, o if out is None else out, start, step) + (() if s is None else (s,))
    try:
        k_marked = k_stats(*args)
    except (ValueError, TypeError, BufferError, MemoryError) as e:
        return type(e).__name__
    parts = x if isinstance(x, tuple) else (x,)
    want_o = np.full((4, n), 7.0)
    want_s = None if k is None else np.full((n, k), 7.0)
    for q, part in enumerate(parts):
        if not len(part):
            continue
        flat = np.array(part, order="C").reshape(len(part), -1)  # as reshape flattens
        cols = start + q + np.arange(len(flat)) * step
        ref = _numpy_rows(flat)
        want_o[:, cols] = [ref.min, ref.max, ref.mean, ref.std]
        if k is not None:
            shown = np.full((len(flat), k), np.nan)
            shown[:, : min(k, flat.shape[1])] = flat[:, :k]
            want_s[cols] = shown
    ok = np.array_equal(obuf[8:-8].reshape(4, n), want_o)
    ok = ok and (obuf[:8] == 7).all() and (obuf[-8:] == 7).all()
    if k is not None:
        ok = ok and np.array_equal(sbuf[8:-8].reshape(n, k), want_s, equal_nan=True)
        ok = ok and (sbuf[:8] == 7).all() and (sbuf[-8:] == 7).all()
    return "read" if ok and k_marked == 0 else "WRONG"

k_stats = k.stats
grid = base[:64].reshape(8, 8)
cube = base[:64].reshape(4, 4, 4)
cases = {
    "bad dtype after good": lambda: case((good, good, np.zeros((2, 3), np.int32)), 9),
    "1-d after good": lambda: case((good, np.zeros(3, f4)), 6, 0, 2),
    "no buffer after good": lambda: case((good, "text"), 6, 0, 2),
    "None after good": lambda: case((good, None), 6, 0, 2),
    "0-d": lambda: case(np.array(1.0), 4),
    "1-d": lambda: case(np.zeros(3), 4),
    "9-d": lambda: case(np.zeros((2,) + (1,) * 8), 4),
    "zero-size row": lambda: case(np.zeros((3, 0)), 4),
    "zero-size middle dim": lambda: case(np.zeros((3, 0, 4)), 4),
    "int64": lambda: case(np.zeros((3, 3), np.int64), 3),
    "float16": lambda: case(np.zeros((3, 3), np.float16), 3),
    "big-endian": lambda: case(np.zeros((3, 3), ">f8"), 3),
    "unaligned": lambda: case(np.zeros(97, np.uint8)[1:].view(f8).reshape(3, 4), 3),
    "row stride not a whole number": lambda: case(as_strided(base, (3, 2), (12, 8)), 3),
    "broadcast past memory": lambda: case(as_strided(base, (2, 2 ** 58), (0, 0)), 2),
    "samples of other rows": lambda: case(good, 3, samples=np.zeros((2, 4))),
    "samples float32": lambda: case(good, 3, samples=np.zeros((3, 4), f4)),
    "samples 1-d": lambda: case(good, 3, samples=np.zeros(3)),
    "samples F order": lambda: case(good, 3, samples=np.zeros((4, 3)).T),
    "samples read-only": lambda: case(good, 3, samples=readonly),
    "out read-only": lambda: case(good, 3, out=readonly[:, :3].copy().T.copy().T),
    "start -1": lambda: case(good, 5, -1),
    "start past": lambda: case(good, 5, 3),
    "step 0": lambda: case(good, 5, 0, 0),
    "step -1": lambda: case(good, 5, 2, -1),
    "step huge": lambda: case(good, 5, 0, 2 ** 62),
    "start max": lambda: case(good, 5, MAX),
    "start max after no rows": lambda: case((empty, good), 5, MAX),
    "start max - 1 after no rows": lambda: case((empty, empty, good), 5, MAX - 1, 2 ** 62),
    # read
    "the last column": lambda: case(good, 5, 2),
    "one row, step huge": lambda: case(good[:1], 5, 4, 2 ** 62, k=3),
    "no rows, start past": lambda: case(empty, 1, 2 ** 62),
    "no arrays": lambda: case((), 3),
    "rows backward": lambda: case(grid[::-1], 8, k=3),
    "columns backward": lambda: case(grid[:, ::-1], 8, k=3),
    "3-d, every stride negative": lambda: case(cube[::-1, ::-2, ::-1], 4, k=5),
    "8-d, last dim strided": lambda: case(base[:512].reshape((2,) * 9)[0][..., ::2], 2, k=4),
    "rows broadcast": lambda: case(as_strided(base, (5, 8), (0, 8)), 5, k=2),
    "columns broadcast": lambda: case(as_strided(base, (5, 8), (8, 0)), 5, k=2),
    "one row, stride past memory": lambda: case(as_strided(base, (1, 8), (2 ** 62, 8)), 2, k=2),
    "samples of no columns": lambda: case(good, 3, k=0),
    "samples wider than rows": lambda: case(good, 3, k=9),
    "mixed tuple": lambda: case(
        (good, cube[:, 1:, ::2], grid[:3].astype(f4)[:, ::-1]), 12, 0, 3, k=4
    ),
}
print(json.dumps({name: run() for name, run in cases.items()}))
"""

READ = {
    "the last column", "one row, step huge", "no rows, start past", "no arrays",
    "rows backward", "columns backward", "3-d, every stride negative",
    "8-d, last dim strided", "rows broadcast", "columns broadcast",
    "one row, stride past memory", "samples of no columns", "samples wider than rows",
    "mixed tuple",
}  # fmt: skip
TYPE_ERRORS = {"no buffer after good", "None after good"}


def test_stats_refuses_bad_arguments_and_reads_every_layout_without_undefined_behaviour(
    ubsan_kernel: Path,
) -> None:
    """A tuple whose first array has no rows was not checked against out, so a start near
    2^63 passed it and start + q then overflowed (undefined in C). Every other case below
    was already right; they pin it: a bad item after good ones, arrays stats does not read,
    samples of the wrong shape and start/step at their edges are a ValueError (TypeError for
    an object with no buffer, MemoryError for a copy no machine holds), never a crash; rows
    of any strides (negative, zero, 8 dims, a stride past memory for one row) give NumPy's
    numbers and samples, with nothing written around them."""
    done = subprocess.run([sys.executable, "-c", STATS_EDGES, str(ROOT)], capture_output=True,
                          text=True, cwd=ubsan_kernel, timeout=120)  # fmt: skip
    assert done.returncode == 0 and "runtime error" not in done.stderr, done.stderr[-800:]
    got = json.loads(done.stdout)
    want = {
        name: "read" if name in READ else "TypeError" if name in TYPE_ERRORS else "ValueError"
        for name in got
    }
    want["broadcast past memory"] = "MemoryError"
    assert got == want


def test_the_numpy_paths_stats_of_a_row_do_not_depend_on_the_arrays_layout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Layer 0's x of a batch is a view of the input, (steps, B * I) rows with the steps the
    inner stride when I = 1: NumPy's float64 copy kept that layout, so its sums ran down the
    rows in sequence, not pairwise along each row as the kernel's and a hooked trace's (one
    row at a time) do. A float64 trace on the NumPy path then differed from a hooked trace
    in the last bit of x's mean and std (of a pass with more than GROUP_NUMBERS numbers a
    block, or here with GROUP_NUMBERS 0)."""
    rng = np.random.default_rng(1)
    values = rng.standard_normal((6, 40)) * 10 ** rng.uniform(-6, 6, (6, 40))
    for layout in (np.asfortranarray(values), values.T.copy().T, values[::-1][::-1]):
        got, want = summary._numpy_rows(layout), summary._numpy_rows(values)
        for name in ("min", "max", "mean", "std"):
            assert getattr(got, name).tobytes() == getattr(want, name).tobytes(), name
    monkeypatch.setattr(recorders, "GROUP_NUMBERS", 0)  # a point at a time, as a long pass
    monkeypatch.setattr(kernel, "loaded", lambda: None)  # NumPy's stats
    cfg = LSTMConfig(input_size=1, hidden_size=3, seq_len=6, batch=12, dtype="float64")
    x = rng.standard_normal((12, 6, 1)) * 10 ** rng.uniform(-6, 6, (12, 6, 1))
    block = trace(cfg, x=x, steps="all").to_dict()
    hooked = trace(cfg, x=x, steps="all", hooks=[lambda e: None]).to_dict()
    assert block["tensors"] == hooked["tensors"]


def _loop_health(k: Any, cell: str, z: np.ndarray, backward: bool, piece: np.ndarray,
                 parts: int, below: np.ndarray, above: np.ndarray) -> list[np.ndarray]:  # fmt: skip
    """lstm() or gru() run over z (n, B, G*H) in place (its activations after), counting gate
    health in the loop: [lo, hi, n_low, n_high, n_bad, rows]."""
    n, batch, width = z.shape
    dt, hs = z.dtype, width // (4 if cell == "lstm" else 3)
    rng = np.random.default_rng(width)
    w = kernel.pack((rng.standard_normal((hs, width)) * 0.3).astype(dt))
    h0, outs = rng.standard_normal((batch, hs)).astype(dt), np.zeros((n, batch, hs), dt)
    from .test_fused_health import health_args  # skips without the kernel: imported here

    health = health_args(below, above, piece, parts)
    found = health[2:8]
    gain = np.repeat(np.array([0.5, 0.5, 1.0, 0.5][: width // hs], dt), hs)
    if cell == "lstm":
        k.lstm(z, w, h0, h0.copy(), outs, np.zeros_like(outs), gain, 1 - gain, None, backward,
               tuple(health))  # fmt: skip
    else:
        k.gru(z, w, h0, outs, np.zeros_like(outs), gain, 1 - gain, np.zeros(hs, dt), None,
              backward, tuple(health))  # fmt: skip
    return found


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("backward", [False, True])
def test_a_few_rows_health_is_counted_a_piece_at_a_time_in_either_direction(
    cell: str, backward: bool
) -> None:
    """B < 4: the loop counts each piece of steps when its last visited step has run
    (health_piece), in time order going forward and backward, whatever the pieces (a call
    may start or end inside one; the pieces need not even be sorted): the counts and
    extremes are the NumPy path's of the activations the loop wrote, and the block pass's
    (health()); a NaN is counted, and its column's extremes skip it."""
    k = pytest.importorskip("lstm_trace._kernel", reason="no compiled kernel in this install")
    from .test_fused_health import health_args  # skips without the kernel: imported here

    rng = np.random.default_rng(4 + backward)
    for trial in range(12):
        dt = np.float32 if trial % 2 else np.float64
        g = 4 if cell == "lstm" else 3
        batch, hs, n, parts = trial % 3 + 1, int(rng.integers(1, 40)), int(rng.integers(1, 24)), 4
        piece = np.sort(rng.integers(0, parts, n)) if trial % 4 else rng.integers(0, parts, n)
        z = (rng.standard_normal((n, batch, g * hs)) * 3).astype(dt)
        if trial % 5 == 0:
            z[n // 2, 0, hs // 2] = np.nan  # a pre-activation: the gate's value is NaN
        below = rng.uniform(0.0, 0.5, g * hs).astype(dt)
        above = (below + 0.3).astype(dt)
        found = _loop_health(k, cell, z, backward, piece.astype(np.int64), parts, below, above)
        want_low, want_high = np.zeros((parts, g * hs), np.int64), np.zeros((parts, g * hs), int)
        for t in range(n):
            want_low[piece[t]] += (z[t] < below).sum(axis=0)
            want_high[piece[t]] += (z[t] > above).sum(axis=0)
        flat = z.reshape(-1, g * hs)
        wants = (np.fmin.reduce(flat, axis=0, initial=np.inf),  # an all-NaN column: unset
                 np.fmax.reduce(flat, axis=0, initial=-np.inf), want_low,
                 want_high, (~np.isfinite(flat)).sum(axis=0),
                 np.bincount(piece, minlength=parts) * batch)  # fmt: skip
        for got, want in zip(found, wants, strict=True):
            np.testing.assert_array_equal(got, want, err_msg=f"trial {trial}")
        assert trial % 5 or found[4].any()  # the NaN was counted
        block = health_args(below, above, piece, parts)
        k.health(z, tuple(block))
        for got, want in zip(block[2:8], found, strict=True):
            np.testing.assert_array_equal(got, want, err_msg=f"trial {trial}")
