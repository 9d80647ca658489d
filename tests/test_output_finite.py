"""Gate health does not read the output when every gate was finite and there is no projection
(health.HealthMonitor._output_finite): the output is then finite, which these cases check on
passes pushed to the edge (saturated gates, huge finite states and inputs, long sequences,
both cells, stacked and bidirectional), on the NumPy path and the kernel's. With a projection
the output is still read: a NaN only W_hr makes is found (tests/test_health.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from lstm_trace import LSTMConfig, init_input, init_weights, trace
from lstm_trace.health import HealthMonitor

EDGES: dict[str, dict[str, Any]] = {
    "LSTM saturated, long": dict(input_size=3, hidden_size=6, seq_len=400, batch=2),
    "LSTM bi 2 layers": dict(
        input_size=3, hidden_size=5, seq_len=50, bidirectional=True, num_layers=2
    ),
    "GRU saturated": dict(cell="gru", input_size=3, hidden_size=6, seq_len=300, batch=3),
    "GRU bi 2 layers float64": dict(
        cell="gru",
        input_size=2,
        hidden_size=4,
        seq_len=40,
        bidirectional=True,
        num_layers=2,
        dtype="float64",
    ),
}


@pytest.mark.parametrize("mode", ["numpy", "auto"])
@pytest.mark.parametrize("name", list(EDGES))
def test_finite_gates_make_a_finite_output(
    monkeypatch: pytest.MonkeyPatch, name: str, mode: str
) -> None:
    monkeypatch.setenv("LSTM_TRACE_KERNEL", mode)
    cfg = LSTMConfig(**EDGES[name])
    w = init_weights(cfg)
    for layer in w.layers:
        for d in layer:
            d.w_ih[...] *= 40.0  # gates pinned at 0 and 1 (and the candidate at -1, 1)
            d.w_hh[...] *= 40.0
            d.b_ih[...] += 3.0
    big = np.finfo(cfg.dtype).max / 4  # C_0: finite, as large as a state can be
    x = init_input(cfg) * 1e30  # huge pre-activations that still sum without overflow
    states = cfg.num_layers * cfg.num_directions
    shape = (states, cfg.hidden_size) if cfg.batch is None else (states, cfg.batch,
                                                                 cfg.hidden_size)  # fmt: skip
    h0 = np.full(shape, 1e30, dtype=cfg.dtype)
    kept = {}
    real = HealthMonitor.note_output

    def note_output(self: HealthMonitor, output: np.ndarray) -> None:
        kept["finite gates"] = self._output_finite()
        kept["output finite"] = bool(np.isfinite(output).all())
        real(self, output)

    monkeypatch.setattr(HealthMonitor, "note_output", note_output)
    c0 = None if cfg.cell == "gru" else np.full(shape, big, dtype=cfg.dtype)
    health = trace(cfg, w, x, h0=h0, c0=c0).health
    assert kept["finite gates"], "the case is meant to keep every gate finite"
    assert kept["output finite"]  # what _output_finite relied on
    assert health["first_nonfinite"] is None
    assert sum(g["saturated"] for g in health["gates"]) > 0  # it was at the edge


def test_a_projection_output_is_still_read() -> None:
    cfg = LSTMConfig(input_size=3, hidden_size=4, proj_size=2, seq_len=5)
    w = init_weights(cfg)
    w.layers[0][0].w_hr[0, 0] = np.inf
    monitor = HealthMonitor(cfg)
    assert not monitor._output_finite()  # nothing seen yet, and a projection
    health = trace(cfg, w).health
    assert health["first_nonfinite"] is not None
    assert health["first_nonfinite"]["gate"] == "hidden_state"
