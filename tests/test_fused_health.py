"""Gate health counted inside the compiled kernel's loop (kernel.Counter, csrc/body.h's
health_step), straight into the monitor's running totals, against the NumPy path's counts of
the same blocks: exact, so equal key for key, whatever the thread count, direction, cell,
layer or dtype; a hooked step is counted by the kernel's block pass once it has run, a NaN or
an Inf counted and located. Skipped without the compiled kernel."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pytest

from lstm_trace import LSTMConfig, forward, init_input, init_weights, trace
from lstm_trace.cells import kernel
from lstm_trace.health import HealthMonitor

_kernel = pytest.importorskip("lstm_trace._kernel", reason="no compiled kernel in this install")

CASES: dict[str, dict[str, Any]] = {
    "LSTM B=2 segments": dict(input_size=3, hidden_size=20, seq_len=700, batch=2),
    "LSTM B=1 projection": dict(input_size=3, hidden_size=33, seq_len=140, proj_size=5),
    "GRU bi 2 layers": dict(
        cell="gru",
        input_size=3,
        hidden_size=9,
        seq_len=300,
        batch=3,
        bidirectional=True,
        num_layers=2,
    ),
    "GRU reset_after=False": dict(
        cell="gru", input_size=4, hidden_size=17, seq_len=60, batch=5, reset_after=False
    ),
    "float64 bi": dict(
        input_size=3, hidden_size=5, seq_len=90, dtype="float64", bidirectional=True
    ),
    # a step of 2^21 multiply-adds or more: the columns are shared among threads, and a gate
    # split between two of them adds its counts from both
    "LSTM threaded B=9 H=256": dict(input_size=5, hidden_size=256, seq_len=12, batch=9),
    "GRU threaded B=14 H=230": dict(cell="gru", input_size=5, hidden_size=230, seq_len=9, batch=14),
}


class _Seen(HealthMonitor):
    """A monitor that keeps what the runners handed it: every block (copied) and the NaN and
    Inf the kernel counted in it (None: it did not count it)."""

    def __init__(self, config: LSTMConfig) -> None:
        super().__init__(config)
        self.blocks: list[tuple[int, str, list[int], np.ndarray]] = []
        self.bad: list[int | None] = []
        self._inside = False  # a block the monitor counts itself comes back through counted()

    def counted(self, layer: int, direction: str, steps: Any, block: np.ndarray,
                bad: int | None) -> None:  # fmt: skip
        if not self._inside:  # the runner's call, once a block
            self.blocks.append((layer, direction, list(steps), block.copy()))
            self.bad.append(bad)
        outer, self._inside = self._inside, True
        try:
            super().counted(layer, direction, steps, block, bad)
        finally:
            self._inside = outer


def _scaled(cfg: LSTMConfig, scale: float) -> Any:
    """The config's weights with W_ih and W_hh scaled (8: saturated gates)."""
    w = init_weights(cfg)
    for layer in w.layers:
        for d in layer:
            d.w_ih[...] *= scale
            d.w_hh[...] *= scale
    return w


def _counted(monkeypatch: pytest.MonkeyPatch, cfg: LSTMConfig, w: Any, threads: int) -> _Seen:
    """A _Seen monitor of forward(w, the seeded input) on `threads` threads, with the kernel
    where it is built ("auto")."""
    seen = _Seen(cfg)
    monkeypatch.setenv("LSTM_TRACE_KERNEL", "auto")
    _kernel.set_threads(threads)
    try:
        forward(w, init_input(cfg), health=seen)
    finally:
        _kernel.set_threads(0)
    return seen


def _numpy_report(cfg: LSTMConfig, seen: _Seen, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The report of a monitor on the NumPy path fed the same blocks."""
    monkeypatch.setenv("LSTM_TRACE_KERNEL", "numpy")
    monitor = HealthMonitor(cfg)
    for layer, direction, steps, block in seen.blocks:
        monitor(layer, direction, steps, block)
    return monitor.report()


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("scale", [1.0, 8.0])
@pytest.mark.parametrize("name", list(CASES))
def test_the_loops_counts_are_the_numpy_paths(
    monkeypatch: pytest.MonkeyPatch, calls: list[str], name: str, scale: float, threads: int
) -> None:
    cfg = LSTMConfig(**CASES[name])
    seen = _counted(monkeypatch, cfg, _scaled(cfg, scale), threads)
    assert calls and seen.bad and all(b == 0 for b in seen.bad)  # every block, in the loop
    report = seen.report()
    assert report == _numpy_report(cfg, seen, monkeypatch)
    saturated = [g["saturated"] for g in report["gates"]]
    assert scale == 1.0 or any(saturated)  # the scaled weights saturate some gates
    assert sum(g["values"] for g in report["gates"]) > 0


def test_a_trace_counts_in_the_loop_and_reports_what_numpy_reports(
    monkeypatch: pytest.MonkeyPatch, calls: list[str]
) -> None:
    """trace() hands its monitor to forward(), so the kernel counts its gate health: the
    report equals the NumPy path's count of the very blocks this pass made."""
    cfg = LSTMConfig(**CASES["LSTM B=2 segments"])
    w = _scaled(cfg, 8.0)
    monkeypatch.setenv("LSTM_TRACE_KERNEL", "auto")
    seen = _Seen(cfg)
    module = importlib.import_module("lstm_trace.trace")  # the package's `trace` is the function
    monkeypatch.setattr(module, "HealthMonitor", lambda config: seen)
    got = trace(cfg, w, init_input(cfg)).health
    assert calls and seen.bad and all(b == 0 for b in seen.bad)
    assert got == _numpy_report(cfg, seen, monkeypatch)


def test_a_hooked_step_is_counted_by_the_kernels_block_pass_once_it_has_run(
    monkeypatch: pytest.MonkeyPatch, calls: list[str]
) -> None:
    """Step 7 runs outside the kernel (its hook may replace values); its row of the block is
    counted once it is final, so the block's counts are the NumPy path's of what the hook
    made: here an Inf in the forget gate, which no activation can hold (counted, located)."""
    cfg = LSTMConfig(input_size=3, hidden_size=12, seq_len=50, batch=2)
    monkeypatch.setenv("LSTM_TRACE_KERNEL", "auto")
    seen = _Seen(cfg)
    forward(init_weights(cfg), init_input(cfg), hooks=[lambda e: None], hook_steps=[7],
            health=seen)  # fmt: skip
    assert calls and seen.bad == [0]  # counted by the kernel, nothing bad
    assert seen.report() == _numpy_report(cfg, seen, monkeypatch)

    def infinite(event: Any) -> Any:
        return np.full_like(event.value, np.inf) if event.name == "forget_gate" else None

    seen = _Seen(cfg)
    monkeypatch.setenv("LSTM_TRACE_KERNEL", "auto")
    forward(init_weights(cfg), init_input(cfg), hooks=[infinite], hook_steps=[7], health=seen)
    assert seen.bad == [2 * 12]  # the forget gate's 12 units of both rows
    report = seen.report()
    assert report == _numpy_report(cfg, seen, monkeypatch)
    assert report["first_nonfinite"] == {"step": 7, "layer": 0, "direction": "forward",
                                         "gate": "forget_gate"}  # fmt: skip
    assert [g["nonfinite"] for g in report["gates"]] == [24, 0, 0, 0]  # forget first


def test_a_block_the_kernel_did_not_run_is_counted_once_by_the_monitor(
    monkeypatch: pytest.MonkeyPatch, calls: list[str]
) -> None:
    """A peephole LSTM runs on the NumPy loop: the runner hands its blocks over uncounted and
    the monitor counts each once (with the kernel's block pass where it is loaded), the
    NumPy path's report."""
    cfg = LSTMConfig(input_size=3, hidden_size=6, seq_len=30, batch=2, peepholes=True)
    monkeypatch.setenv("LSTM_TRACE_KERNEL", "auto")
    seen = _Seen(cfg)
    forward(_scaled(cfg, 8.0), init_input(cfg), health=seen)
    assert seen.bad == [None]  # one block, not counted in a loop
    report = seen.report()
    assert report == _numpy_report(cfg, seen, monkeypatch)
    assert [g["values"] for g in report["gates"]] == [30 * 2 * 6] * 4  # T*B*H a gate, once


def test_a_block_holding_a_nan_is_counted_in_the_loop_and_located(
    monkeypatch: pytest.MonkeyPatch, calls: list[str]
) -> None:
    cfg = LSTMConfig(input_size=3, hidden_size=12, seq_len=50, batch=2)
    w = init_weights(cfg)
    w.layers[0][0].w_ih[0, 0] = np.nan  # input gate unit 0 NaN from step 0 on, then all
    seen = _Seen(cfg)
    monkeypatch.setenv("LSTM_TRACE_KERNEL", "auto")
    forward(w, init_input(cfg), health=seen)
    assert calls and seen.bad and seen.bad[0]
    report = seen.report()
    assert report == _numpy_report(cfg, seen, monkeypatch)
    assert report["first_nonfinite"] == {"step": 0, "layer": 0, "direction": "forward",
                                         "gate": "input_gate"}  # fmt: skip
    assert sum(g["nonfinite"] for g in report["gates"]) == seen.bad[0]


def health_args(below: np.ndarray, above: np.ndarray, piece: Any,
                segments: int | None = None) -> list[np.ndarray]:  # fmt: skip
    """The kernel's health argument by hand: below, above (W,) each column's thresholds (in
    the values' dtype), fresh extremes and counts of `segments` segments (the last one piece
    names, by default), piece (steps,) each step's segment."""
    piece = np.asarray(piece, np.int64)
    s, w, dt = int(piece.max()) + 1 if segments is None else segments, len(below), below.dtype
    return [below, above, np.full(w, np.inf, dt), np.full(w, -np.inf, dt),
            np.zeros((s, w), np.int64), np.zeros((s, w), np.int64), np.zeros(w, np.int64),
            np.zeros(s, np.int64), piece]  # fmt: skip


def _health(width: int, segments: int, piece: list[int]) -> list[np.ndarray]:
    """A float32 health argument of width columns, i f g o (tanh g), by hand."""
    below = np.repeat(np.float32([0.05, 0.05, -0.95, 0.05]), width // 4)
    return health_args(below, np.full(width, 0.95, np.float32), piece, segments)


def test_health_arrays_by_hand_and_bad_ones_refused() -> None:
    good = _health(16, 2, [0, 0, 1, 1, 1])
    z = np.zeros((5, 1, 16), np.float32)
    packed = kernel.pack(np.zeros((4, 16), np.float32))
    h0, c0 = np.zeros((1, 4), np.float32), np.zeros((1, 4), np.float32)
    outs, cells = np.zeros((5, 1, 4), np.float32), np.zeros((5, 1, 4), np.float32)
    gain, offset = np.ones(16, np.float32), np.zeros(16, np.float32)
    args = (z, packed, h0, c0, outs, cells, gain, offset, None, False)
    # by hand: z = 0, so every activation is tanh(0) = 0; twice, into the same totals
    assert _kernel.lstm(*args, tuple(good)) == 0
    z[...] = 0
    assert _kernel.lstm(*args, tuple(good)) == 0
    below_of_gate = [1, 1, 0, 1]  # 0 < 0.05; not < -0.95
    np.testing.assert_array_equal(good[4], [np.repeat(below_of_gate, 4) * n for n in (4, 6)])
    np.testing.assert_array_equal(good[5], np.zeros((2, 16)))  # steps 0-1, then 2-4
    np.testing.assert_array_equal(good[7], [4, 6])  # each segment's rows, both calls
    assert not good[2].any() and not good[3].any() and not good[6].any()  # extremes 0
    assert _kernel.lstm(*args[:-1], True, None) == 0  # without health: nothing counted
    for q, bad in enumerate([np.float32([0.05] * 15), np.float64([0.95] * 16),
                             np.full(15, np.inf, np.float32), np.zeros(32, np.float32)[::2],
                             np.zeros((2, 15), np.int64), np.zeros((2, 16), np.int32),
                             np.zeros(16, np.int32), np.zeros(3, np.int64),
                             np.array([0, 0, 1, 1, 2], np.int64)]):  # fmt: skip
        wrong = list(good)
        wrong[q] = bad
        with pytest.raises((ValueError, BufferError)):
            _kernel.lstm(*args, tuple(wrong))
    with pytest.raises(TypeError):
        _kernel.lstm(*args, tuple(good[:8]))
    frozen = list(good)
    frozen[6] = good[6].copy()
    frozen[6].flags.writeable = False  # every count is written
    with pytest.raises((ValueError, BufferError)):
        _kernel.lstm(*args, tuple(frozen))


def test_the_block_pass_counts_nan_and_inf_apart_and_keeps_the_extremes_of_the_rest() -> None:
    """health(): a NaN is on neither side of a threshold, an Inf on its own; both are counted
    per column and returned; the extremes ignore NaN (as np.fmin, np.fmax), not Inf."""
    x = np.full((3, 2, 8), 0.5, np.float32)
    x[0, 0, 1], x[1, 1, 1], x[2, 0, 3], x[2, 1, 5] = np.nan, 0.01, np.inf, -np.inf
    arrays = _health(8, 2, [0, 1, 1])
    assert _kernel.health(x, tuple(arrays)) == 3
    lo, hi, n_low, n_high, n_bad, rows = arrays[2:8]
    flat = x.reshape(-1, 8)
    np.testing.assert_array_equal(lo, np.fmin.reduce(flat, axis=0))
    np.testing.assert_array_equal(hi, np.fmax.reduce(flat, axis=0))
    np.testing.assert_array_equal(n_bad, (~np.isfinite(flat)).sum(axis=0))
    np.testing.assert_array_equal(rows, [2, 4])
    for s, part in enumerate((x[:1], x[1:])):
        values = part.reshape(-1, 8)
        np.testing.assert_array_equal(n_low[s], (values < arrays[0]).sum(axis=0))
        np.testing.assert_array_equal(n_high[s], (values > arrays[1]).sum(axis=0))
