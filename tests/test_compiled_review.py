"""The compiled kernel (csrc/) on the edges a review found: undefined behaviour that only a
sanitizer shows, arrays the argument checks must refuse, and the hooked steps' contracts.

The sanitizer test runs csrc/kernel.c built with -fsanitize=undefined (conftest.py's
ubsan_kernel, about 2 s) in a subprocess, so that undefined behaviour is an exit status rather
than a silent wrong bit; it is skipped where no gcc or no libubsan is installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace.cells import kernel

TANH_EDGES = """
import numpy as np, _kernel as k
for isa in k.isas():
    k.set_isa(isa)
    for dt in (np.float32, np.float64):
        with np.errstate(over="ignore"):
            x = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-310, 3.0, 1e300], dt)
        out = np.empty_like(x)
        k.tanh(x, out)
        assert np.isnan(out[:2]).all() and list(out[2:4]) == [1, -1], (isa, out)
print("ok")
"""


def _run(directory: Path, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=directory)  # fmt: skip


def test_tanh_of_nan_and_inf_has_no_undefined_behaviour(ubsan_kernel: Path) -> None:
    """NaN reached the exponent's shift as a huge integer: a signed left shift out of range
    (undefined in C, so a compiler may do anything with it)."""
    done = _run(ubsan_kernel, TANH_EDGES)
    assert done.returncode == 0 and "runtime error" not in done.stderr, done.stderr[-600:]
    assert done.stdout.strip() == "ok"


def _lstm_reference(z: Any, w_hh_t: Any, h: Any, c: Any, w_hr_t: Any) -> tuple[Any, Any]:
    """The kernel's lstm() in NumPy for one direction, forward: z (n, B, 4H) pre-scaled, the
    sigmoid columns halved. Returns (outs (n, B, H_out), cells (n, B, H))."""
    hs = c.shape[1]
    gain = np.repeat(np.float32([0.5, 0.5, 1.0, 0.5]), hs)
    outs, cells = [], []
    for zt in z:
        a = np.tanh(zt + h @ w_hh_t) * gain + (1 - gain)
        i, f, g, o = (a[:, k * hs : (k + 1) * hs] for k in range(4))
        c = f * c + i * g
        h = (o * np.tanh(c)) @ w_hr_t
        outs.append(h)
        cells.append(c)
    return np.stack(outs), np.stack(cells)


@pytest.mark.parametrize("batch", [1, 2, 9])
def test_a_projection_wider_than_the_gates_does_not_overwrite_its_input(batch: int) -> None:
    """lstm() accepts W_hr^T with more panels than W_hh^T (H_out > 4H: not a PyTorch shape,
    but the arguments allow it): the projection's product must not write over o tanh(C_t),
    which it is still reading (it did: its output went into the scratch of the gates' product,
    which then ran into the next part of the scratch)."""
    k = pytest.importorskip("lstm_trace._kernel", reason="no compiled kernel in this install")
    rng = np.random.default_rng(5)
    steps, hs, h_out = 3, 2, 70
    z = rng.standard_normal((steps, batch, 4 * hs)).astype(np.float32)
    w_hh_t = rng.standard_normal((h_out, 4 * hs)).astype(np.float32) * 0.1
    w_hr_t = rng.standard_normal((hs, h_out)).astype(np.float32)
    h0 = rng.standard_normal((batch, h_out)).astype(np.float32)
    c0 = rng.standard_normal((batch, hs)).astype(np.float32)
    gain = np.repeat(np.float32([0.5, 0.5, 1.0, 0.5]), hs)
    want_h, want_c = _lstm_reference(z, w_hh_t, h0, c0, w_hr_t)
    for isa in k.isas():
        k.set_isa(isa)
        outs = np.zeros((steps, batch, h_out), np.float32)
        cells = np.zeros((steps, batch, hs), np.float32)
        k.lstm(z.copy(), kernel.pack(w_hh_t), h0, c0, outs, cells, gain, 1 - gain,
               kernel.pack(w_hr_t), False)  # fmt: skip
        np.testing.assert_allclose(cells, want_c, atol=1e-5, err_msg=isa)
        np.testing.assert_allclose(outs, want_h, atol=1e-5, err_msg=isa)
    k.set_isa(k.isas()[-1])


def test_packing_the_weights_holds_one_copy_of_them() -> None:
    """The memory estimate (config.estimate_bytes) allows one copy of a direction's weights;
    packing W_ih for the kernel made three at once (the scaled copy, a padded one, the
    panels): 568 MB peak for I = H = 2048, T = 100, bidirectional, against 525 estimated."""
    import tracemalloc

    k = pytest.importorskip("lstm_trace._kernel", reason="no compiled kernel in this install")
    rng = np.random.default_rng(2)
    w = rng.standard_normal((4 * 300, 500)).astype(np.float32)  # (G*H, I): 2.4 MB
    gain = np.repeat(np.float32([0.5, 0.5, 1.0, 0.5]), 300)
    bias = np.zeros(4 * 300, np.float32)
    tracemalloc.start()
    try:
        project = kernel.projector(k, w, gain, bias)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    packed_bytes = 500 * -(-(4 * 300) // 32) * 32 * 4
    assert peak < packed_bytes * 1.1, (peak, packed_bytes)
    x = rng.standard_normal((3, 500)).astype(np.float32)
    got = project(x[:, None, :], np.empty((3, 4 * 300), np.float32))
    np.testing.assert_allclose(got, x @ (w * gain[:, None]).T, rtol=1e-5, atol=1e-4)
    panels = kernel.pack(w.T, gain)  # gain * W^T in panels of 32 columns, zero-padded
    flat = panels.transpose(1, 0, 2).reshape(500, -1)
    np.testing.assert_array_equal(flat[:, : 4 * 300], (w * gain[:, None]).T)
    assert not flat[:, 4 * 300 :].any()


AFTER_FORK = """
import os, numpy as np, lstm_trace._kernel as k
from lstm_trace import LSTMConfig, forward, init_input, init_weights
os.environ["LSTM_TRACE_KERNEL"] = "auto"
k.set_threads(2)
cfg = LSTMConfig(input_size=5, hidden_size=256, seq_len=64, batch=9)  # 2^21+ a step: threads
w, x = init_weights(cfg), init_input(cfg)
want = forward(w, x)[0]
pid = os.fork()
if pid == 0:
    os._exit(0 if np.array_equal(forward(w, x)[0], want) else 3)
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


def test_a_forked_child_runs_the_threaded_kernel() -> None:
    """A child forked after the kernel ran on threads (multiprocessing's default on Linux)
    hung in its first threaded step: OpenMP's threads are not copied by fork, and the child
    waited at a barrier for them. It now runs on one thread (the same bits, any count)."""
    k = pytest.importorskip("lstm_trace._kernel", reason="no compiled kernel in this install")
    if not k.OPENMP or not hasattr(os, "fork"):
        pytest.skip("no threads to lose in a fork")
    try:
        done = subprocess.run([sys.executable, "-c", AFTER_FORK], capture_output=True,
                              text=True, timeout=60)  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("the forked child hung in the kernel")
    assert done.returncode == 0, done.stderr[-600:]
    assert done.stdout.strip() == "0"  # the child's exit status: the parent's bits
