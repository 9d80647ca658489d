"""The compiled recurrence (lstm_trace._kernel) against the NumPy path, its reference.

Every instruction set this CPU runs is checked (LSTM_TRACE_KERNEL=baseline, avx2, avx512):
outputs within 1e-5 absolute in float32 and 1e-12 relative in float64 of the NumPy path, on
shapes with remainders (H not a multiple of a panel, odd B, H = 1), projection, both
directions, two layers, a GRU either way of the reset; traces with hooks give the same records
as without (the kernel's arithmetic at hooked steps too); its tanh within 1 ulp. Skipped where
the install has no compiled kernel (no C compiler at `pip install`): the NumPy path is then the
only one, and the rest of the suite runs on it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from lstm_trace import LSTMConfig, forward, init_input, init_weights, trace
from lstm_trace.cells import kernel
from lstm_trace.errors import ConfigError
from lstm_trace.health import HealthMonitor

from .test_fused_health import health_args

_kernel = pytest.importorskip("lstm_trace._kernel", reason="no compiled kernel in this install")
ISAS = _kernel.isas()

CASES: dict[str, dict[str, Any]] = {
    "walkthrough": dict(input_size=32, hidden_size=70, seq_len=40),
    "H=1, B=3": dict(input_size=2, hidden_size=1, seq_len=9, batch=3),
    "B=5, H=33": dict(input_size=7, hidden_size=33, seq_len=17, batch=5),
    "bi, 2 layers, B=6": dict(
        input_size=5, hidden_size=20, seq_len=12, batch=6, bidirectional=True, num_layers=2
    ),
    "projection, B=1": dict(input_size=4, hidden_size=40, seq_len=15, proj_size=7),
    "projection, bi, B=9": dict(
        input_size=4, hidden_size=40, seq_len=15, batch=9, proj_size=13, bidirectional=True
    ),
    "float64, bi": dict(
        input_size=6, hidden_size=35, seq_len=20, batch=2, dtype="float64", bidirectional=True
    ),
    "no bias": dict(input_size=6, hidden_size=24, seq_len=10, bias=False),
    "GRU": dict(cell="gru", input_size=8, hidden_size=45, seq_len=25, batch=4),
    "GRU, B=1, bi, 2 layers": dict(
        cell="gru", input_size=8, hidden_size=31, seq_len=25, bidirectional=True, num_layers=2
    ),
    "GRU reset_after=False": dict(
        cell="gru", input_size=8, hidden_size=19, seq_len=25, batch=3, reset_after=False
    ),
    "GRU float64": dict(
        cell="gru",
        input_size=8,
        hidden_size=19,
        seq_len=25,
        batch=2,
        dtype="float64",
        reset_after=False,
    ),
}


def _outputs(monkeypatch: pytest.MonkeyPatch, mode: str, cfg: LSTMConfig) -> list[np.ndarray]:
    monkeypatch.setenv("LSTM_TRACE_KERNEL", mode)
    out, states = forward(init_weights(cfg), init_input(cfg))
    return [out, *(states if isinstance(states, tuple) else (states,))]


def _close(got: list[np.ndarray], want: list[np.ndarray], dtype: str) -> None:
    for g, w in zip(got, want, strict=True):
        if dtype == "float64":
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15)
        else:
            np.testing.assert_allclose(g, w, rtol=0, atol=1e-5)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("name", list(CASES))
def test_every_instruction_set_matches_the_numpy_path(
    monkeypatch: pytest.MonkeyPatch, isa: str, name: str
) -> None:
    cfg = LSTMConfig(**CASES[name])
    want = _outputs(monkeypatch, "numpy", cfg)
    got = _outputs(monkeypatch, isa, cfg)
    assert _kernel.isa() == isa
    _close(got, want, cfg.dtype)
    assert not np.array_equal(got[0], np.zeros_like(got[0]))


def test_a_long_sequence_in_several_blocks_and_pieces(
    monkeypatch: pytest.MonkeyPatch, calls: list[str]
) -> None:
    """Blocks of the projection and pieces of a block each end a kernel call: the state must
    carry across (the pieces are small here, so there are many)."""
    monkeypatch.setattr("lstm_trace.cells.recurrence.REPORT_STEPS", 7)
    cfg = LSTMConfig(input_size=3, hidden_size=10, seq_len=100, batch=2, bidirectional=True)
    _close(_outputs(monkeypatch, "auto", cfg), _outputs(monkeypatch, "numpy", cfg), "float32")
    assert len(calls) > 2  # one call per piece and direction


@pytest.mark.parametrize("name", ["B=5, H=33", "projection, bi, B=9", "GRU reset_after=False"])
@pytest.mark.parametrize("steps", ["all", "0,3,4,-1"])
def test_hooked_steps_give_the_records_of_the_loop(
    monkeypatch: pytest.MonkeyPatch, calls: list[str], name: str, steps: str
) -> None:
    """A trace without hooks (the loop's blocks) and one with an observing hook (its steps
    through the stepwise path, with the kernel's arithmetic) hold the same bits."""
    monkeypatch.setenv("LSTM_TRACE_KERNEL", "auto")
    cfg = LSTMConfig(**CASES[name])
    w, x = init_weights(cfg), init_input(cfg)
    plain = trace(cfg, weights=w, x=x, steps=steps, keep_values=True)
    seen: list[str] = []
    hooked = trace(cfg, weights=w, x=x, steps=steps, keep_values=True,
                   hooks=[lambda event: seen.append(event.name)])  # fmt: skip
    assert seen and plain.values is not None and hooked.values is not None
    assert plain.values.keys() == hooked.values.keys()
    for key, value in plain.values.items():
        np.testing.assert_array_equal(value, hooked.values[key])
    np.testing.assert_array_equal(plain.output, hooked.output)
    assert [r.to_dict() for r in plain.tensors] == [r.to_dict() for r in hooked.tensors]
    assert calls  # the kernel ran (the plain trace's blocks at least)


def test_a_replacing_hook_flows_on_as_in_the_numpy_path(
    monkeypatch: pytest.MonkeyPatch, calls: list[str]
) -> None:
    cfg = LSTMConfig(input_size=4, hidden_size=12, seq_len=10, batch=2)
    w, x = init_weights(cfg), init_input(cfg)

    def halve(event: Any) -> Any:
        return event.value * 0.5 if event.name == "cell_state" else None

    runs = []
    for mode in ("numpy", "auto"):
        monkeypatch.setenv("LSTM_TRACE_KERNEL", mode)
        runs.append(forward(w, x, hooks=[halve], hook_steps=[4]))
        assert bool(calls) == (mode == "auto")  # steps 0-3 and 5-9 in the kernel
    plain = forward(w, x)
    np.testing.assert_allclose(runs[1][0], runs[0][0], atol=1e-5)
    assert np.abs(runs[1][0] - plain[0]).max() > 1e-3  # the replacement changed what followed


THREADED = {  # steps of THREAD_MACS (2^21) multiply-adds or more run on several threads
    "LSTM B=9, H=256": dict(input_size=5, hidden_size=256, seq_len=4, batch=9),
    "LSTM B=1, H=760, projection": dict(input_size=5, hidden_size=760, seq_len=3, proj_size=700),
    "GRU B=7, H=330, reset_after=False": dict(
        cell="gru", input_size=5, hidden_size=330, seq_len=4, batch=7, reset_after=False
    ),
    "GRU B=14, H=230, bi": dict(
        cell="gru", input_size=5, hidden_size=230, seq_len=4, batch=14, bidirectional=True
    ),
}


@pytest.mark.skipif(not _kernel.OPENMP, reason="the kernel was built without OpenMP")
@pytest.mark.parametrize("name", list(THREADED))
def test_threads_share_a_step_and_change_no_bit(
    monkeypatch: pytest.MonkeyPatch, calls: list[str], name: str
) -> None:
    """Each output column is one thread's, summed in the same order: 1, 2 and 3 threads give
    the same bits, within 1e-5 of the NumPy path."""
    cfg = LSTMConfig(**THREADED[name])
    rows = cfg.hidden_size * (3 if cfg.cell == "gru" else 4)
    assert (cfg.batch or 1) * cfg.h_out * rows >= _kernel.THREAD_MACS
    want = _outputs(monkeypatch, "numpy", cfg)
    runs = []
    try:
        for n in (1, 2, 3):
            _kernel.set_threads(n)
            runs.append(_outputs(monkeypatch, "auto", cfg))
    finally:
        _kernel.set_threads(0)
    assert len(calls) >= 3  # each of the three runs in the kernel
    for other in runs[1:]:
        for a, b in zip(runs[0], other, strict=True):
            np.testing.assert_array_equal(a, b)
    _close(runs[0], want, cfg.dtype)


HEALTH = {
    "saturated, segments": dict(input_size=3, hidden_size=20, seq_len=700, batch=2),
    "GRU bi 2 layers": dict(
        cell="gru",
        input_size=3,
        hidden_size=9,
        seq_len=300,
        batch=3,
        bidirectional=True,
        num_layers=2,
    ),
    "float64": dict(input_size=3, hidden_size=5, seq_len=90, dtype="float64"),
}


@pytest.mark.parametrize("name", list(HEALTH))
@pytest.mark.parametrize("scale", [1.0, 8.0, np.inf])
def test_gate_health_from_the_kernel_is_the_numpy_paths(
    monkeypatch: pytest.MonkeyPatch, name: str, scale: float
) -> None:
    """Extremes and saturated counts are exact: the kernel's one pass over each block gives the
    same report, key for key, as NumPy's on the same blocks (weights scaled up saturate the
    gates; inf makes NaN, which the kernel leaves to the NumPy path)."""
    cfg = LSTMConfig(**HEALTH[name])
    w = init_weights(cfg)
    for layer in w.layers:
        for d in layer:
            d.w_hh[...] *= scale if np.isfinite(scale) else 1.0
            if not np.isfinite(scale):
                d.w_ih[0, 0] = np.inf
    blocks: list[tuple[int, str, list[int], np.ndarray]] = []
    monkeypatch.setenv("LSTM_TRACE_KERNEL", "auto")
    forward(
        w, init_input(cfg), observer=lambda *a: blocks.append((*a[:2], list(a[2]), a[3].copy()))
    )
    reports = []
    for mode in ("numpy", "auto"):
        monkeypatch.setenv("LSTM_TRACE_KERNEL", mode)
        monitor = HealthMonitor(cfg)
        for layer_k, direction, steps, block in blocks:
            monitor(layer_k, direction, steps, block)
        reports.append(monitor.report())
    assert reports[0] == reports[1]
    counted = [g["saturated"] for g in reports[0]["gates"]]
    assert counted and (scale == 1.0 or any(counted))  # the scaled weights saturate


def _health_args(x: np.ndarray, below: np.ndarray, above: np.ndarray,
                 cuts: list[int]) -> list[np.ndarray]:  # fmt: skip
    """The kernel's health tuple for a block x (c, B, G*H) cut into segments at steps cuts:
    thresholds per column, fresh extremes and counts, each step's segment."""
    h = x.shape[-1] // len(below)
    piece = np.repeat(np.arange(len(cuts) - 1), np.diff(cuts))
    return health_args(np.repeat(below, h), np.repeat(above, h), piece)


def _per_gate(counts: np.ndarray, gates: int) -> np.ndarray:
    """(P, G*H) per-column counts -> (P, G) per gate."""
    return counts.reshape(len(counts), gates, -1).sum(axis=2)


def test_the_kernels_health_pass_counts_what_numpy_counts() -> None:
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((37, 1, 3 * 11)) * 3).astype(np.float32)
    x[5, 0, 7] = -np.inf
    below, above = np.float32([0.05, 0.05, -0.95]), np.float32([0.95, 0.95, 0.95])
    cuts = [0, 10, 37]
    args = _health_args(x, below, above, cuts)
    assert _kernel.health(x, tuple(args)) == 1  # the -inf
    lo, hi, n_low, n_high, n_bad, rows = args[2:8]
    np.testing.assert_array_equal(lo, x.min(axis=(0, 1)))
    np.testing.assert_array_equal(hi, x.max(axis=(0, 1)))
    assert n_bad.tolist() == [0] * 7 + [1] + [0] * 25 and rows.tolist() == [10, 27]
    gates = x.reshape(37, 3, 11)
    for p in range(2):
        part = gates[cuts[p] : cuts[p + 1]]
        np.testing.assert_array_equal(_per_gate(n_low, 3)[p],
                                      (part < below[None, :, None]).sum(axis=(0, 2)))  # fmt: skip
        np.testing.assert_array_equal(_per_gate(n_high, 3)[p],
                                      (part > above[None, :, None]).sum(axis=(0, 2)))  # fmt: skip
    x[3, 0, 3] = np.nan
    args = _health_args(x, below, above, cuts)
    assert _kernel.health(x, tuple(args)) == 2
    # the extremes skip the NaN (np.fmin, np.fmax), which is counted
    np.testing.assert_array_equal(args[2], np.fmin.reduce(x.reshape(37, -1), axis=0))
    assert args[6][3] == 1 and args[6].sum() == 2
    bad = _health_args(x, below, above, cuts)
    bad[8] = np.array([0] * 36 + [2], np.int64)  # a segment that is not there
    with pytest.raises(ValueError, match="do not agree"):
        _kernel.health(x, tuple(bad))


def test_a_large_blocks_health_is_shared_by_columns_among_threads() -> None:
    """A block of 2^23 values or more is scanned a run of columns per thread: the same
    numbers."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2100, 1, 4 * 1024)).astype(np.float32)
    below, above = np.float32([0.05, 0.05, -0.95, 0.05]), np.float32([0.95] * 4)
    cuts = [0, 700, 2100]
    results = []
    try:
        for n in (1, 2):
            _kernel.set_threads(n)
            args = _health_args(x, below, above, cuts)
            _kernel.health(x, tuple(args))
            results.append(args[2:8])
    finally:
        _kernel.set_threads(0)
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(results[1][0], x.min(axis=(0, 1)))
    want = (x[700:].reshape(1400, 4, 1024) < below[None, :, None]).sum(axis=(0, 2))
    np.testing.assert_array_equal(_per_gate(results[1][2], 4)[1], want)


def test_tanh_is_within_three_ulps() -> None:
    """The kernel's float32 tanh against NumPy's float64 tanh rounded: at most 3 ulps apart on
    a million values over every magnitude and 4 million in [-12, 12], 95 % exact and 99.9 %
    within 1; exact at 0, -0 kept, +-1 at +-inf, NaN for NaN."""
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2**32, size=1_000_000, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    edges = np.float32([0.0, -0.0, 2e-45, 1e-30, 2.4e-4, 0.5, 9.0, 10.0, 88.0])
    x = np.concatenate(
        [x[np.isfinite(x)], np.linspace(-12, 12, 4_000_001, dtype=np.float32), edges]
    )
    for isa in ISAS:
        _kernel.set_isa(isa)
        got = np.empty_like(x)
        _kernel.tanh(x, got)
        want = np.tanh(x.astype(np.float64)).astype(np.float32)
        ulps = np.abs(got.view(np.int32).astype(np.int64) - want.view(np.int32).astype(np.int64))
        assert ulps.max() <= 3, (isa, x[ulps.argmax()])
        assert np.mean(ulps == 0) > 0.94 and np.mean(ulps <= 1) > 0.999  # 0.949, 0.999
    special = np.float32([np.inf, -np.inf, np.nan, -0.0])
    out = np.empty_like(special)
    _kernel.tanh(special, out)
    assert out[0] == 1 and out[1] == -1 and np.isnan(out[2]) and np.signbit(out[3])
    _kernel.set_isa(ISAS[-1])


def test_tanh_in_float64_is_within_a_few_ulps() -> None:
    rng = np.random.default_rng(11)
    parts = [rng.standard_normal(500_000) * 4, rng.standard_normal(100_000) * 0.07]
    parts += [10.0 ** rng.uniform(-300, 1.5, 100_000), np.linspace(-25, 25, 100_001)]
    x = np.concatenate(parts)
    x = np.concatenate([x, -x, [0.0, 1 / 16, np.nextafter(1 / 16, 0), 19.0, 20.0, 700.0]])
    for isa in ISAS:
        _kernel.set_isa(isa)
        got = np.empty_like(x)
        _kernel.tanh(x, got)
        want = np.tanh(x)
        np.testing.assert_allclose(got, want, rtol=4e-15, atol=0)  # 3.3e-15 measured
    _kernel.set_isa(ISAS[-1])


def test_the_product_equals_blas() -> None:
    rng = np.random.default_rng(3)
    for b, k_, n in [(1, 70, 280), (5, 33, 99), (8, 64, 1000), (3, 1, 3)]:
        h = rng.standard_normal((b, k_)).astype(np.float32)
        w_t = rng.standard_normal((k_, n)).astype(np.float32)
        got = kernel.product(_kernel, h, kernel.pack(w_t), n)
        np.testing.assert_allclose(got, h @ w_t, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("batch", [1, 3, 9, 16])
def test_the_projection_reads_a_strided_block_in_place(batch: int) -> None:
    """A block of batch-first input, (c, B, I) with steps I apart and rows T*I apart, projects
    to the same bits as its contiguous copy, and within BLAS's rounding of x W^T + b."""
    rng = np.random.default_rng(batch)
    x_bt = rng.standard_normal((batch, 40, 37)).astype(np.float32)  # (B, T, I)
    w = rng.standard_normal((4 * 11, 37)).astype(np.float32)
    gain, bias = np.ones(44, np.float32), rng.standard_normal(44).astype(np.float32)
    project = kernel.projector(_kernel, w, gain, bias)
    block = x_bt.transpose(1, 0, 2)[5:29]  # (24, B, I), not contiguous when B > 1
    got = project(block, np.empty((24 * batch, 44), np.float32))
    same = project(np.ascontiguousarray(block), np.empty((24 * batch, 44), np.float32))
    np.testing.assert_array_equal(got, same)
    want = block.reshape(-1, 37) @ w.T + bias
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_numpy_forces_the_reference_and_a_bad_value_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LSTM_TRACE_KERNEL", "numpy")
    assert kernel.active(np.dtype(np.float32), 100) is None
    monkeypatch.setenv("LSTM_TRACE_KERNEL", "auto")
    assert kernel.active(np.dtype(np.float32), 100) is _kernel
    monkeypatch.setenv("LSTM_TRACE_KERNEL", "sse9")
    with pytest.raises(ConfigError, match="LSTM_TRACE_KERNEL must be one of"):
        kernel.active(np.dtype(np.float32), 100)
    env = {"LSTM_TRACE_KERNEL": "sse9", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "lstm_trace", "-i", "3", "-H", "2"],
                          capture_output=True, text=True, env=env)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "LSTM_TRACE_KERNEL" in done.stderr


def test_without_the_extension_auto_is_numpy_and_an_isa_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kernel, "_loaded", [None])
    monkeypatch.setenv("LSTM_TRACE_KERNEL", "auto")
    assert kernel.active(np.dtype(np.float32), 100) is None
    monkeypatch.setenv("LSTM_TRACE_KERNEL", "avx2")
    with pytest.raises(ConfigError, match="no compiled kernel"):
        kernel.active(np.dtype(np.float32), 100)


def test_auto_leaves_a_short_pass_to_numpy_until_the_kernel_is_loaded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LSTM_TRACE_KERNEL", "auto")
    monkeypatch.setattr(kernel, "_loaded", [])
    f32, small, large = np.dtype(np.float32), kernel.LOAD_MACS - 1, kernel.LOAD_MACS
    assert kernel.active(f32, kernel.LOAD_STEPS - 1, small) is None
    assert kernel._loaded == []  # not even imported: the walkthrough's start-up is unchanged
    assert kernel.active(f32, kernel.MIN_STEPS - 1, large) is None  # packing would not pay
    assert kernel._loaded == []
    assert kernel.active(f32, kernel.MIN_STEPS, large) is _kernel  # a large pass loads it
    monkeypatch.setattr(kernel, "_loaded", [])
    assert kernel.active(f32, kernel.LOAD_STEPS, 0) is _kernel  # and so does a long one
    assert kernel.active(f32, kernel.MIN_STEPS, 0) is _kernel  # loaded: it serves the rest
    assert kernel.active(f32, kernel.MIN_STEPS - 1, large) is None  # but the shortest
    monkeypatch.setenv("LSTM_TRACE_KERNEL", "avx2" if "avx2" in ISAS else "baseline")
    monkeypatch.setattr(kernel, "_loaded", [])
    assert kernel.active(f32, 3) is _kernel  # asked for by name: always


def test_a_large_pass_from_a_fresh_process_runs_in_the_kernel() -> None:
    """T = 100 < LOAD_STEPS, but 100 x 32 x 2048 x 768 multiply-adds: the first pass of a
    process (the command line's) loads the kernel for it."""
    code = (
        "from lstm_trace import LSTMConfig, forward, init_input, init_weights\n"
        "from lstm_trace.cells import kernel\n"
        "cfg = LSTMConfig(input_size=256, hidden_size=512, seq_len=100, batch=32)\n"
        "forward(init_weights(cfg), init_input(cfg))\n"
        "print(kernel._loaded[0] is not None)\n"
    )
    env = {**os.environ, "LSTM_TRACE_KERNEL": "auto"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.stdout.strip() == "True", done.stderr


def test_version_names_the_kernel_and_its_instruction_set() -> None:
    done = subprocess.run([sys.executable, "-m", "lstm_trace", "--version"],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0
    assert f"kernel: compiled, {ISAS[-1]} on this CPU" in done.stdout
    probe = "import sys, lstm_trace.kernel_status as k; k.describe(); print('numpy' in sys.modules)"
    quiet = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert quiet.stdout.strip() == "False"  # the kernel's module needs no NumPy


def test_segments_cut_a_piece_at_its_hooked_steps() -> None:
    ts = range(10, 20)
    assert kernel.segments(ts, None, None, False) == [(0, 10, False)]
    fire = lambda *a: (a[2], False)  # noqa: E731
    assert kernel.segments(ts, fire, frozenset({10, 13, 14, 25}), False) == [
        (0, 1, True), (1, 3, False), (3, 4, True), (4, 5, True), (5, 10, False)
    ]  # fmt: skip
    assert kernel.segments(ts, fire, frozenset({19}), True) == [(9, 10, True), (0, 9, False)]
    assert len(kernel.segments(ts, fire, None, False)) == 10


def test_bad_arrays_are_refused_not_read_out_of_bounds() -> None:
    assert kernel.PANEL_BYTES == _kernel.PANEL_BYTES  # pack() lays out what the loops read
    z = np.zeros((2, 1, 8), np.float32)
    w = kernel.pack(np.zeros((2, 8), np.float32))
    h, c = np.zeros((1, 2), np.float32), np.zeros((1, 2), np.float32)
    outs, cells = np.zeros((2, 1, 2), np.float32), np.zeros((2, 1, 2), np.float32)
    g = np.ones(8, np.float32)
    _kernel.lstm(z, w, h, c, outs, cells, g, g, None, False)
    with pytest.raises(ValueError, match="shapes do not agree"):
        _kernel.lstm(z, w, h, c, outs[:1], cells, g, g, None, False)
    with pytest.raises(ValueError, match="float32"):
        _kernel.lstm(z, w, h.astype(np.float64), c, outs, cells, g, g, None, False)
