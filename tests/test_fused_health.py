"""Gate health counted inside the compiled kernel's loop (kernel.Counter, csrc/body.h's
health_step) against the NumPy path's counts of the same blocks: exact, so equal key for key,
whatever the thread count, direction, cell, layer or dtype; a block with a hooked step, or one
holding a NaN, is counted by the monitor itself. Skipped without the compiled kernel."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pytest

from lstm_trace import LSTMConfig, forward, init_input, init_weights, trace
from lstm_trace.cells import kernel
from lstm_trace.cells.base import FusedHealth
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
    """A monitor that keeps what the runners handed it: every block (copied) and whether the
    kernel counted it."""

    def __init__(self, config: LSTMConfig) -> None:
        super().__init__(config)
        self.blocks: list[tuple[int, str, list[int], np.ndarray]] = []
        self.fused: list[FusedHealth | None] = []

    def counted(self, layer: int, direction: str, steps: Any, block: np.ndarray,
                fused: FusedHealth | None) -> None:  # fmt: skip
        self.blocks.append((layer, direction, list(steps), block.copy()))
        self.fused.append(fused)
        super().counted(layer, direction, steps, block, fused)


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
    assert calls and all(f is not None for f in seen.fused)  # every block counted in the loop
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
    assert calls and seen.fused and all(f is not None for f in seen.fused)
    assert got == _numpy_report(cfg, seen, monkeypatch)


def test_a_block_with_a_hooked_step_or_a_nan_is_counted_by_the_monitor(
    monkeypatch: pytest.MonkeyPatch, calls: list[str]
) -> None:
    cfg = LSTMConfig(input_size=3, hidden_size=12, seq_len=50, batch=2)
    monkeypatch.setenv("LSTM_TRACE_KERNEL", "auto")
    seen = _Seen(cfg)
    forward(init_weights(cfg), init_input(cfg), hooks=[lambda e: None], hook_steps=[7],
            health=seen)  # fmt: skip
    assert calls and seen.fused == [None]  # step 7 ran outside the kernel: the monitor counts
    assert seen.report() == _numpy_report(cfg, seen, monkeypatch)

    w = init_weights(cfg)
    w.layers[0][0].w_ih[0, 0] = np.nan
    seen = _Seen(cfg)
    monkeypatch.setenv("LSTM_TRACE_KERNEL", "auto")
    forward(w, init_input(cfg), health=seen)
    assert seen.fused[0] is not None and np.isnan(seen.fused[0].lowest).any()
    report = seen.report()
    assert report == _numpy_report(cfg, seen, monkeypatch)
    assert report["first_nonfinite"] is not None  # located, which only the NumPy count does


def test_health_arrays_by_hand_and_bad_ones_refused() -> None:
    below = np.repeat(np.float32([0.05, 0.05, -0.95, 0.05]), 4)  # i, f, g (tanh), o
    good = [below, np.full(16, 0.95, np.float32), np.full(16, np.inf, np.float32),
            np.full(16, -np.inf, np.float32), np.zeros((2, 16), np.int32),
            np.zeros((2, 16), np.int32), np.array([0, 0, 1, 1, 1], np.int64)]  # fmt: skip
    z = np.zeros((5, 1, 16), np.float32)
    packed = kernel.pack(np.zeros((4, 16), np.float32))
    h0, c0 = np.zeros((1, 4), np.float32), np.zeros((1, 4), np.float32)
    outs, cells = np.zeros((5, 1, 4), np.float32), np.zeros((5, 1, 4), np.float32)
    gain, offset = np.ones(16, np.float32), np.zeros(16, np.float32)
    args = (z, packed, h0, c0, outs, cells, gain, offset, None, False)
    _kernel.lstm(*args, tuple(good))  # by hand: z = 0, so every activation is tanh(0) = 0
    below_of_gate = [1, 1, 0, 1]  # 0 < 0.05; not < -0.95
    np.testing.assert_array_equal(good[4], [np.repeat(below_of_gate, 4) * n for n in (2, 3)])
    np.testing.assert_array_equal(good[5], np.zeros((2, 16)))  # steps 0-1, then 2-4
    assert not good[2].any() and not good[3].any()  # extremes 0
    for q, bad in enumerate([np.float32([0.05] * 15), np.float64([0.95] * 16),
                             np.full(15, np.inf, np.float32), np.zeros(32, np.float32)[::2],
                             np.zeros((2, 15), np.int32), np.zeros((2, 16), np.int64),
                             np.array([0, 0, 1, 1, 2], np.int64)]):  # fmt: skip
        wrong = list(good)
        wrong[q] = bad
        with pytest.raises((ValueError, BufferError)):
            _kernel.lstm(*args, tuple(wrong))
    with pytest.raises(TypeError):
        _kernel.lstm(*args, tuple(good[:6]))
