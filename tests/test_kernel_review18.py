"""The compiled kernel after a second review of its gate health, packing and stats: the
arguments it found unchecked (packed weights with more panels than the pass has columns, a
health argument that is not a tuple, a thread count beyond a C long) are refused with a
ValueError or TypeError, never read or written out of bounds, never a SystemError;
unaligned arrays reach it through a copy; and the configurations tests/test_fused_health.py
and tests/test_kernel_stats.py leave out (a reverse-only direction, three layers, H = 1, a
projection both ways, H below 16 per thread; rows of 8192 values and beyond, every
instruction set) give the NumPy path's numbers, the same bits on 1 to 4 threads.

The crash cases run in a subprocess, so that a segmentation fault fails the test instead of
ending the run. Skipped without the compiled kernel.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace import LSTMConfig, forward, init_input
from lstm_trace.cells import kernel
from lstm_trace.summary import StatsRows, _numpy_rows, stats_rows

from .test_fused_health import _counted, _numpy_report, _scaled, health_args

_kernel = pytest.importorskip("lstm_trace._kernel", reason="no compiled kernel in this install")


ROOT = Path(__file__).resolve().parents[1]


def _in_subprocess(code: str) -> subprocess.CompletedProcess[str]:
    """code run by a fresh interpreter from the repository's root (so it imports this
    checkout's package); its exit status and output."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)  # fmt: skip


# Empty arrays (H = 0, so no value is stored) with 2^50 panels of weights: the scratch the
# kernel sizes from the panel count, 128 rows x 2^55 columns x 4 bytes, is 2^64 bytes, which
# wrapped to 0; the product then wrote 2^62 values into it.
OVERPADDED = """
import numpy as np
from lstm_trace import _kernel as k
f = np.float32
B, n, P = 128, 2, 2 ** 50
z, w = np.zeros((n, B, 0), f), np.zeros((P, 0, 32), f)
state, empty = np.zeros((B, 0), f), np.zeros(0, f)
calls = {
    "lstm": lambda: k.lstm(z, w, state, state, np.zeros((n, B, 0), f), np.zeros((n, B, 0), f),
                           empty, empty, None, False),
    "gru": lambda: k.gru(z, w, state, np.zeros((n, B, 0), f), np.zeros((n, B, 0), f), empty,
                         empty, empty, None, False),
    "project": lambda: k.project(np.zeros((1, 1, 0), f), w, np.zeros(3, f), np.zeros((1, 3), f)),
}
for name, call in calls.items():
    try:
        call()
    except ValueError as e:
        print(name, "refused:", e)
    else:
        print(name, "ran")
"""


def test_weights_with_more_panels_than_columns_are_refused_not_a_crash() -> None:
    done = _in_subprocess(OVERPADDED)
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr[-2000:])
    lines = done.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["lstm", "refused:"], ["gru", "refused:"], ["project", "refused:"]
    ], lines  # fmt: skip
    assert all("packed weights" in line for line in lines), lines


def _lstm_args(h: int, ho: int, panels_hh: int, panels_hr: int | None) -> list[object]:
    """lstm()'s ten arguments for 3 steps of 2 rows, W_hh^T and W_hr^T packed into the given
    panel counts (zero-padded past their columns)."""
    f, pw = np.float32, kernel.PANEL_BYTES // 4
    rng = np.random.default_rng(0)
    z = rng.standard_normal((3, 2, 4 * h)).astype(f)
    w_hh = np.zeros((panels_hh, ho, pw), f)  # zeros: only the shapes matter here
    w_hr = None if panels_hr is None else np.zeros((panels_hr, h, pw), f)
    return [z, w_hh, np.zeros((2, ho), f), np.zeros((2, h), f), np.zeros((3, 2, ho), f),
            np.zeros((3, 2, h), f), np.ones(4 * h, f), np.zeros(4 * h, f), w_hr, False]  # fmt: skip


@pytest.mark.parametrize(
    ("h", "ho", "panels_hh", "panels_hr"),
    [(8, 8, 2, None), (8, 8, 0, None), (8, 3, 1, 2), (40, 40, 6, None)],
)
def test_lstm_takes_exactly_the_panels_its_columns_fill(
    h: int, ho: int, panels_hh: int, panels_hr: int | None
) -> None:
    """4H columns of W_hh^T fill ceil(4H / 32) float32 panels, H_out of W_hr^T
    ceil(H_out / 32): one more (or fewer) is a caller's mistake, refused."""
    with pytest.raises(ValueError, match="packed weights"):
        _kernel.lstm(*_lstm_args(h, ho, panels_hh, panels_hr))


def test_the_exact_panel_counts_still_run() -> None:
    _kernel.lstm(*_lstm_args(8, 8, 1, None))
    _kernel.lstm(*_lstm_args(8, 3, 1, 1))
    _kernel.lstm(*_lstm_args(40, 40, 5, None))
    f = np.float32
    z = np.zeros((3, 2, 12), f)  # a GRU of H = 4 with and without reset_after
    h0, outs, resets = np.zeros((2, 4), f), np.zeros((3, 2, 4), f), np.zeros((3, 2, 4), f)
    g, b = np.ones(12, f), np.zeros(4, f)
    _kernel.gru(z, kernel.pack(np.zeros((4, 12), f)), h0, outs, resets, g, g, b, None, False)
    _kernel.gru(z, kernel.pack(np.zeros((4, 8), f)), h0, outs, resets, g, g, b,
                kernel.pack(np.zeros((4, 4), f)), False)  # fmt: skip
    with pytest.raises(ValueError, match="packed weights"):  # W_hn^T with two panels
        _kernel.gru(z, kernel.pack(np.zeros((4, 8), f)), h0, outs, resets, g, g, b,
                    np.zeros((2, 4, 32), f), False)  # fmt: skip
    x, out = np.ones((2, 3, 5), f), np.empty((6, 40), f)
    _kernel.project(x, kernel.pack(np.ones((5, 40), f)), np.zeros(40, f), out)
    assert (out == 5).all()
    with pytest.raises(ValueError, match="packed weights"):  # a third, empty panel
        _kernel.project(x, np.zeros((3, 5, 32), f), np.zeros(40, f), out)


@pytest.mark.parametrize("health", [[], 3, "seven", np.zeros(7)])
def test_a_health_argument_that_is_not_a_tuple_is_a_type_error(health: object) -> None:
    """lstm() and gru()'s health is (below, above, lo, hi, n_low, n_high, n_bad, rows, piece)
    or None:
    anything else was parsed as an argument tuple, a SystemError."""
    args = _lstm_args(8, 8, 1, None)
    with pytest.raises(TypeError, match="health: expected a tuple"):
        _kernel.lstm(*args, health)
    f = np.float32
    z, h0 = np.zeros((3, 2, 12), f), np.zeros((2, 4), f)
    states, gains = np.zeros((3, 2, 4), f), np.ones(12, f)
    gru = (z, kernel.pack(np.zeros((4, 12), f)), h0, states, states.copy(), gains, gains,
           np.zeros(4, f), None, False)  # fmt: skip
    with pytest.raises(TypeError, match="health: expected a tuple"):
        _kernel.gru(*gru, health)


@pytest.mark.parametrize("count", [-1, 1025, 2**64, -(2**70)])
def test_set_threads_refuses_counts_out_of_range_as_value_errors(count: int) -> None:
    """0 to 1024: an int too large for a C long was an OverflowError, not the ValueError that
    names the range."""
    with pytest.raises(ValueError, match="0 \\(OpenMP's choice\\) to 1024"):
        _kernel.set_threads(count)
    with pytest.raises(TypeError):
        _kernel.set_threads("2")


def _unaligned(a: np.ndarray) -> np.ndarray:
    """A copy of a whose data starts one byte past an aligned address (np.frombuffer of a
    file's bytes at an odd offset gives such arrays): its buffer's format is '=f', not 'f'."""
    out = np.zeros(a.nbytes + 1, np.uint8)[1:].view(a.dtype).reshape(a.shape)
    out[...] = a
    assert not out.flags.aligned
    return out


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_unaligned_weights_and_input_are_copied_for_the_kernel(
    monkeypatch: pytest.MonkeyPatch, cell: str
) -> None:
    """The kernel refuses an unaligned buffer, so the pass (and its records' stats) used to
    fail with 'pack: arrays do not agree' or 'x: expected a 3-d float32 array'; they are
    read through an aligned copy, the same bits as from the aligned arrays."""
    monkeypatch.setenv("LSTM_TRACE_KERNEL", "auto")
    kernel.built()  # loaded: the kernel runs every pass of MIN_STEPS or more
    calls: list[str] = []
    for name in ("pack", "project", "stats"):
        real = getattr(_kernel, name)
        monkeypatch.setattr(_kernel, name, lambda *a, _r=real, _n=name: calls.append(_n) or _r(*a))
    cfg = LSTMConfig(cell=cell, input_size=6, hidden_size=5, seq_len=12, batch=3)  # type: ignore[arg-type]
    w, x = _scaled(cfg, 1.0), init_input(cfg)
    want = forward(w, x)
    moved = {n: _unaligned(getattr(w.layers[0][0], n)) for n in ("w_ih", "w_hh", "b_ih", "b_hh")}
    w = dataclasses.replace(w, layers=((dataclasses.replace(w.layers[0][0], **moved),),))
    got = forward(w, _unaligned(x))
    assert {"pack", "project"} <= set(calls)  # the kernel's pass, not NumPy's
    np.testing.assert_array_equal(got[0], want[0])
    values = _unaligned(np.random.default_rng(1).standard_normal((4, 33)).astype(np.float32))
    calls.clear()
    assert stats_rows(values).mean.tolist() == _numpy_rows(values).mean.tolist()
    assert calls == ["stats"]


MORE_CASES: dict[str, dict[str, Any]] = {
    "LSTM reverse-only": dict(input_size=3, hidden_size=20, seq_len=300, batch=2,
                              direction="reverse"),
    "GRU reverse-only": dict(cell="gru", input_size=3, hidden_size=7, seq_len=140, batch=5,
                             direction="reverse"),
    "LSTM 3 layers": dict(input_size=3, hidden_size=10, seq_len=60, batch=3, num_layers=3),
    "GRU 3 layers bi": dict(cell="gru", input_size=3, hidden_size=10, seq_len=60, batch=4,
                            num_layers=3, bidirectional=True),
    "LSTM H=1 B=5 bi": dict(input_size=3, hidden_size=1, seq_len=400, batch=5,
                            bidirectional=True),
    "GRU H=1 reset_after=False": dict(cell="gru", input_size=3, hidden_size=1, seq_len=300,
                                      batch=4, reset_after=False),
    "LSTM projection bi": dict(input_size=3, hidden_size=12, seq_len=200, batch=4, proj_size=3,
                               bidirectional=True),
    "float64 projection bi 2 layers": dict(input_size=3, hidden_size=12, seq_len=100, batch=2,
                                           proj_size=5, bidirectional=True, num_layers=2,
                                           dtype="float64"),
    "LSTM projection reverse-only": dict(input_size=3, hidden_size=9, seq_len=200, proj_size=4,
                                         direction="reverse"),
    # 2^21 multiply-adds a step or more: shared among threads, some with no units of their own
    "LSTM threaded H=8 projection": dict(input_size=3, hidden_size=8, seq_len=10, batch=8200,
                                         proj_size=2),
    "GRU threaded H=17 bi": dict(cell="gru", input_size=3, hidden_size=17, seq_len=10,
                                 batch=2000, bidirectional=True),
}  # fmt: skip


@pytest.mark.parametrize("threads", [1, 4])
@pytest.mark.parametrize("name", list(MORE_CASES))
def test_more_configurations_count_in_the_loop_what_numpy_counts(
    monkeypatch: pytest.MonkeyPatch, calls: list[str], name: str, threads: int
) -> None:
    cfg = LSTMConfig(**MORE_CASES[name])
    seen = _counted(monkeypatch, cfg, _scaled(cfg, 8.0), threads)
    assert calls and seen.bad and all(b == 0 for b in seen.bad)
    report = seen.report()
    assert report == _numpy_report(cfg, seen, monkeypatch)
    assert any(g["saturated"] for g in report["gates"])  # counts that could disagree


def _threaded_lstm(h: int, ho: int, threads: int, backward: bool) -> list[np.ndarray]:
    """One lstm() call of 3 steps, enough rows for 2^21 multiply-adds a step (shared among
    `threads`), its health counted: every array it writes."""
    f, rng = np.float32, np.random.default_rng(h)
    per_row = ho * 32 * -(-4 * h // 32) + (0 if ho == h else h * 32 * -(-ho // 32))
    b = -(-_kernel.THREAD_MACS // per_row)  # the kernel's own count of a step's work
    z = rng.standard_normal((3, b, 4 * h)).astype(f)
    w_hr = None if ho == h else kernel.pack(rng.standard_normal((h, ho)).astype(f))
    w = 4 * h
    health = health_args(np.full(w, 0.05, f), np.full(w, 0.95, f), [0, 1, 1])
    outs, cells = np.zeros((3, b, ho), f), np.zeros((3, b, h), f)
    _kernel.set_threads(threads)
    try:
        _kernel.lstm(z, kernel.pack(rng.standard_normal((ho, w)).astype(f)),
                     rng.standard_normal((b, ho)).astype(f), rng.standard_normal((b, h)).astype(f),
                     outs, cells, np.full(w, 0.5, f), np.full(w, 0.1, f), w_hr, backward,
                     tuple(health))  # fmt: skip
    finally:
        _kernel.set_threads(0)
    pieces = [z[:1], z[1:]]  # the counts against the activations the call left in z
    np.testing.assert_array_equal(health[2], z.min(axis=(0, 1)))
    np.testing.assert_array_equal(health[3], z.max(axis=(0, 1)))
    np.testing.assert_array_equal(health[4], [(p < 0.05).sum(axis=(0, 1)) for p in pieces])
    np.testing.assert_array_equal(health[5], [(p > 0.95).sum(axis=(0, 1)) for p in pieces])
    np.testing.assert_array_equal(health[7], [b, 2 * b])  # each segment's rows
    return [z, outs, cells, *health[2:8]]


@pytest.mark.parametrize("backward", [False, True])
@pytest.mark.parametrize(("h", "ho"), [(3, 3), (17, 17), (3, 2), (8, 2)])
def test_threads_without_units_of_their_own_reach_every_barrier_and_the_same_bits(
    h: int, ho: int, backward: bool
) -> None:
    """H = 3 or 17 float32 units are one or two vectors: of 2 to 4 threads, some have no
    units for the elementwise steps and gate health, yet every one waits at each barrier
    (else the call hangs) and the results are the one thread's, bit for bit."""
    one = _threaded_lstm(h, ho, 1, backward)
    for threads in (2, 3, 4):
        for a, b in zip(one, _threaded_lstm(h, ho, threads, backward), strict=True):
            np.testing.assert_array_equal(a, b)


def _same_rows(got: StatsRows, want: StatsRows) -> None:
    for name in ("min", "max", "mean", "std", "nan", "inf"):
        a, b = getattr(got, name), getattr(want, name)
        np.testing.assert_array_equal(a, b, err_msg=name)
        assert (np.signbit(a) == np.signbit(b)).all(), name


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stats_of_long_rows_are_numpys_on_every_instruction_set(dtype: type) -> None:
    """Rows of 8191 to 20000 values (NumPy's buffer is 8192: a cast summed in its blocks would
    differ), a row stride, NaN, Inf, -0 beside a zero extreme, float64 sums that overflow."""
    kernel.built()
    rng = np.random.default_rng(18)
    isa = _kernel.isa()
    try:
        for name in _kernel.isas():
            _kernel.set_isa(name)
            for width in (8191, 8192, 8193, 16392, 20000):
                x = (rng.standard_normal((5, width)) * 10.0 ** rng.uniform(-3, 3, (5, width))
                     + rng.uniform(-3, 3, (5, 1))).astype(dtype)  # fmt: skip
                _same_rows(stats_rows(x), _numpy_rows(x))
                _same_rows(stats_rows(x[::-2]), _numpy_rows(x[::-2]))
                x[0, 7] = np.nan
                x[1, 9] = -np.inf
                x[2] = np.abs(x[2])
                x[2, width // 2] = -0.0
                _same_rows(stats_rows(x), _numpy_rows(x))
                _same_rows(stats_rows(x[2:]), _numpy_rows(x[2:]))  # finite: the other branch
            if dtype is np.float64:
                huge = rng.uniform(0.5, 1.0, (3, 9000)) * 1e307
                with np.errstate(over="ignore", invalid="ignore"):
                    _same_rows(stats_rows(huge), _numpy_rows(huge))
    finally:
        _kernel.set_isa(isa)


@pytest.mark.parametrize("compiled", [False, True])
def test_a_rows_stats_do_not_depend_on_the_rows_beside_it(
    monkeypatch: pytest.MonkeyPatch, compiled: bool
) -> None:
    """A NaN in one row sent every row of the call down NumPy's other branch, whose min and
    max (in the values' dtype, float32 lanes) could give a row's zero extreme the other sign
    than the same row alone (float64 lanes): the records of a point changed with a NaN in
    another point grouped into its call (recorders._point_stats), or in another step."""
    if compiled:
        kernel.built()
    else:
        monkeypatch.setattr(kernel, "loaded", lambda: None)
    rng = np.random.default_rng(0)
    for m in (68, 70, 128, 300):
        row = np.abs(rng.standard_normal((1, m))).astype(np.float32)
        row[0, [7, 34, 42, 43]] = 0.0
        row[0, [7, 34, 43]] = -0.0  # the min is a zero, of either sign
        bad = rng.standard_normal((1, m)).astype(np.float32)
        bad[0, 0] = np.nan
        alone, beside = stats_rows(row), stats_rows(np.concatenate([bad, row]))[1:]
        _same_rows(beside, alone)
