"""The compiled kernel's entry points on the arguments a second review found unchecked:
packed weights with more panels than the pass has columns, and a health argument that is not
a tuple. Each must be refused with a ValueError or TypeError, never read or written out of
bounds (a crash), never a SystemError.

The crash cases run in a subprocess, so that a segmentation fault fails the test instead of
ending the run. Skipped without the compiled kernel.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lstm_trace.cells import kernel

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
    """lstm() and gru()'s health is (below, above, lo, hi, n_low, n_high, piece) or None:
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
    from lstm_trace import LSTMConfig, forward, init_input, init_weights
    from lstm_trace.summary import _numpy_rows, stats_rows

    monkeypatch.setenv("LSTM_TRACE_KERNEL", "auto")
    kernel.built()  # loaded: the kernel runs every pass of MIN_STEPS or more
    calls: list[str] = []
    for name in ("pack", "project", "stats"):
        real = getattr(_kernel, name)
        monkeypatch.setattr(_kernel, name, lambda *a, _r=real, _n=name: calls.append(_n) or _r(*a))
    cfg = LSTMConfig(cell=cell, input_size=6, hidden_size=5, seq_len=12, batch=3)  # type: ignore[arg-type]
    w, x = init_weights(cfg), init_input(cfg)
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
