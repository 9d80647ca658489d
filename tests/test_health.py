"""Gate health over every step: saturation, stuck units, and the first NaN or Inf."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from lstm_trace import HookEvent, LSTMConfig, forward, init_input, init_weights, trace
from lstm_trace.cli import main
from lstm_trace.health import HealthMonitor
from lstm_trace.weights import LSTMWeights


def gates_of(result: Any, layer: int = 0, direction: str = "forward") -> dict[str, dict[str, Any]]:
    return {
        g["gate"]: g
        for g in result.health["gates"]
        if g["layer"] == layer and g["direction"] == direction
    }


def test_saturation_share_counts_every_step_against_an_independent_count() -> None:
    cfg = LSTMConfig(input_size=4, hidden_size=6, seq_len=40, batch=3, dtype="float64")
    w, x = init_weights(cfg), init_input(cfg) * 4.0  # large inputs saturate some gates
    seen: dict[str, list[np.ndarray]] = {"forget_gate": [], "candidate": []}

    def hook(e: HookEvent) -> None:
        if e.name in seen:
            seen[e.name].append(e.value.copy())

    forward(w, x, hooks=[hook])
    result = trace(cfg, w, x)  # default steps: only 0 and 39 are traced...
    gates = gates_of(result)
    f = np.stack(seen["forget_gate"])
    g = np.stack(seen["candidate"])
    # ...but health covers all 40 steps
    assert gates["forget_gate"]["values"] == f.size == 40 * 3 * 6
    assert gates["forget_gate"]["saturated"] == int(((f < 0.05) | (f > 0.95)).sum())
    assert gates["candidate"]["saturated"] == int((np.abs(g) > 0.95).sum())
    assert gates["candidate"]["saturated"] > 0
    assert gates["forget_gate"]["saturated_share"] == pytest.approx(
        gates["forget_gate"]["saturated"] / f.size, abs=1e-6
    )


def test_stuck_units_are_found() -> None:
    cfg = LSTMConfig(input_size=3, hidden_size=5, seq_len=6, dtype="float64")
    w = init_weights(cfg)
    d = w.layers[0][0]
    rows = d.gate_rows("o")
    # output-gate unit 2 ignores its inputs: its activation is sigmoid(bias) at every step
    d.w_ih[rows.start + 2] = 0.0
    d.w_hh[rows.start + 2] = 0.0
    gates = gates_of(trace(cfg, w))
    assert gates["output_gate"]["stuck_units"] == [2] and gates["output_gate"]["stuck_count"] == 1
    assert gates["forget_gate"]["stuck_count"] == 0
    one = gates_of(trace(LSTMConfig(seq_len=1)))  # a single value cannot show movement
    assert one["forget_gate"]["stuck_count"] is None


def test_first_nan_points_at_the_step_it_enters() -> None:
    cfg = LSTMConfig(input_size=4, hidden_size=3, seq_len=6, bidirectional=True, num_layers=2)
    x = init_input(cfg)
    x[4, 1] = np.nan
    result = trace(cfg, x=x)
    assert result.health["first_nonfinite"] == {  # it entered through x, before any gate
        "step": 4,
        "layer": 0,
        "direction": "forward",
        "gate": "x",
    }
    forward_gates = gates_of(result)
    assert all(g["nonfinite"] == 2 * 3 for g in forward_gates.values())  # steps 4 and 5
    clean = trace(LSTMConfig(seq_len=6))
    assert clean.health["first_nonfinite"] is None


def test_first_nonfinite_in_one_gate_names_that_gate() -> None:
    cfg = LSTMConfig(input_size=2, hidden_size=3, seq_len=5)
    w = init_weights(cfg)
    d = w.layers[0][0]
    d.b_ih[d.gate_rows("o").start] = np.inf  # only o's pre-activation is infinite: sigmoid -> 1
    d.b_hh[d.gate_rows("o").start] = -np.inf  # inf - inf = NaN in the output gate only
    result = trace(cfg, w)
    assert result.health["first_nonfinite"] == {
        "step": 0,
        "layer": 0,
        "direction": "forward",
        "gate": "output_gate",
    }


def test_backward_direction_reports_in_visiting_order() -> None:
    monitor = HealthMonitor(LSTMConfig(hidden_size=1, input_size=1, seq_len=4))
    block = np.full((4, 1, 4), 0.5)
    block[1, 0, 1] = np.nan  # time step 1
    block[3, 0, 0] = np.nan  # time step 3, visited first going backward
    monitor(0, "backward", range(3, -1, -1), block)
    assert monitor.first_nonfinite == {
        "step": 3,
        "layer": 0,
        "direction": "backward",
        "gate": "input_gate",
    }


def test_health_in_table_and_json(capsys: Any, tmp_path: Any) -> None:
    x = np.random.default_rng(1).standard_normal((5, 32)).astype(np.float32)
    x[2, 0] = np.nan
    np.save(tmp_path / "x.npy", x)
    assert main(["--x", str(tmp_path / "x.npy")]) == 0
    out = capsys.readouterr().out
    assert "Gate health, every step" in out
    assert "First NaN or Inf: step 2, layer 0, forward, x." in " ".join(out.split())
    assert main(["--json"]) == 0
    import json

    health = json.loads(capsys.readouterr().out)["health"]
    assert health["first_nonfinite"] is None and len(health["gates"]) == 4


def test_health_does_not_change_the_numbers() -> None:
    cfg = LSTMConfig(bidirectional=True, num_layers=2, batch=2, seq_len=9)
    w, x = init_weights(cfg), init_input(cfg)
    plain = forward(w, x)
    watched = forward(w, x, observer=HealthMonitor(cfg))
    assert np.array_equal(plain[0], watched[0]) and np.array_equal(plain[1][1], watched[1][1])


def test_an_inf_that_never_reaches_a_gate_is_still_found() -> None:
    """An Inf saturates sigmoid and tanh to finite values, yet C_t = inf: say where it came in."""
    cfg = LSTMConfig(input_size=4, hidden_size=3, seq_len=5, bidirectional=True)
    c0 = np.zeros((2, 3), dtype=np.float32)
    c0[1, 0] = np.inf
    result = trace(cfg, c0=c0)
    assert all(g["nonfinite"] == 0 for g in result.health["gates"])  # the gates stay finite
    assert np.isinf(result.c_n).any()
    assert result.health["first_nonfinite"] == {
        "step": 4,  # the backward direction starts at t = T-1
        "layer": 0,
        "direction": "backward",
        "gate": "c_prev",
    }


def test_all_nan_units_are_not_called_stuck() -> None:
    x = np.full((4, 2), np.nan, dtype=np.float32)
    gates = gates_of(trace(LSTMConfig(input_size=2, hidden_size=3, seq_len=4), x=x))
    assert all(g["stuck_count"] == 0 and g["nonfinite"] == 12 for g in gates.values())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_monitor_counts_match_the_definition_on_crafted_blocks(dtype: Any) -> None:
    """Values on and just past the thresholds, NaN, +-Inf, and a gate whose values stay
    inside them but for one just past (the monitor scans a gate only when its extremes cross
    a threshold): counts equal the docstring's definition."""
    rng = np.random.default_rng(1)
    h = 5
    monitor = HealthMonitor(LSTMConfig(input_size=2, hidden_size=h, seq_len=6, batch=2))
    edge = [0.05, 0.95, -0.95, np.nextafter(dtype(0.05), 0), np.nextafter(dtype(0.95), 1)]
    blocks = []
    for first in (0, 3):
        block = rng.uniform(-1, 1, size=(3, 2, 4 * h)).astype(dtype)
        block[..., h : 2 * h] = rng.uniform(0.2, 0.8, size=(3, 2, h))  # forget gate: inside...
        block[0, 1, h + first] = edge[3 if first else 4]  # ...but one value just past each end
        block[0, 0, : len(edge)] = edge
        block[1, 1, 2 * h : 2 * h + len(edge)] = edge
        block[2, 0, 3 * h], block[2, 1, 3 * h + 1], block[1, 0, 2 * h + 4] = np.inf, -np.inf, np.nan
        monitor(0, "forward", range(first, first + 3), block)
        blocks.append(block)
    values = np.concatenate(blocks).reshape(-1, 4, h)
    low, high = dtype(0.05), dtype(0.95)
    report = {g["gate"]: g for g in monitor.report()["gates"]}
    for name, g in (("input_gate", 0), ("forget_gate", 1), ("output_gate", 3)):
        v = values[:, g]
        assert report[name]["saturated"] == int(((v < low) | (v > high)).sum()), name
    assert report["forget_gate"]["saturated"] == 2
    assert report["candidate"]["saturated"] == int((np.abs(values[:, 2]) > high).sum())
    assert report["candidate"]["nonfinite"] == 2 and report["output_gate"]["nonfinite"] == 4


@pytest.mark.parametrize("bidirectional", [False, True])
def test_a_nan_only_the_projection_makes_is_found(bidirectional: bool) -> None:
    """h_t = W_hr (o_t * tanh(C_t)) comes after every gate: a NaN in W_hr at the last step
    reaches no gate, so the output is where health finds it."""
    cfg = LSTMConfig(
        input_size=3, hidden_size=4, proj_size=2, seq_len=1, bidirectional=bidirectional
    )
    w = init_weights(cfg)
    d = 1 if bidirectional else 0
    bad = w.layers[0][d].w_hr.copy()
    bad[1, 2] = np.nan
    layer = list(w.layers[0])
    layer[d] = replace(layer[d], w_hr=bad)
    result = trace(cfg, LSTMWeights(cfg, (tuple(layer),)))
    assert all(g["nonfinite"] == 0 for g in result.health["gates"])  # no gate saw it
    assert result.health["first_nonfinite"] == {
        "step": 0,
        "layer": 0,
        "direction": "backward" if bidirectional else "forward",
        "gate": "hidden_state",
    }


def test_health_and_heatmap_see_what_a_hook_made_of_a_gate() -> None:
    """Forcing f = 1 with a hook: the records say 1.0, and so must gate health (every value
    saturated) and the heatmap, which read the gates as they flowed on."""
    cfg = LSTMConfig(input_size=3, hidden_size=4, seq_len=5)

    def remember_everything(event: HookEvent) -> Any:
        return np.ones_like(event.value) if event.name == "forget_gate" else None

    result = trace(cfg, hooks=[remember_everything], steps="all", maps=True)
    forget = next(g for g in result.health["gates"] if g["gate"] == "forget_gate")
    assert forget["saturated_share"] == 1.0 and forget["values"] == 20
    assert np.all(result.heatmap("forget_gate").matrix == 1.0)
    assert {r.sample[0] for r in result.tensors if r.name == "forget_gate"} == {1.0}


def test_a_nan_a_hook_injects_is_found_at_its_step() -> None:
    cfg = LSTMConfig(input_size=3, hidden_size=4, seq_len=4)

    def poison(event: HookEvent) -> Any:
        if event.name == "input_gate" and event.step == 0:
            return np.full_like(event.value, np.nan)
        return None

    result = trace(cfg, hooks=[poison])
    assert result.health["first_nonfinite"] == {
        "step": 0,
        "layer": 0,
        "direction": "forward",
        "gate": "input_gate",
    }


def test_a_units_spread_is_taken_in_float64_whatever_the_pass() -> None:
    """-4e-7 and 6.0000002e-7 (float32) lie 1.00000002e-6 apart, beyond the tolerance; their
    float32 difference rounds to 1e-6 exactly, which is within it."""
    from lstm_trace.health_report import STUCK_TOLERANCE, _stuck

    low, high = np.float32(-4e-7), np.float32(6.0000002e-7)
    assert float(high) - float(low) > STUCK_TOLERANCE >= float(np.float32(high - low))
    cfg = LSTMConfig(input_size=2, hidden_size=1, seq_len=2)
    monitor = HealthMonitor(cfg)
    place = monitor._place(0, "forward")
    place.extremes[0], place.extremes[1] = low, high
    assert _stuck(place, 2) == [[], [], [], []]
    place.extremes[1] = np.float32(5.9e-7)  # 0.99e-6 apart: stuck, every gate
    assert _stuck(place, 2) == [[0], [0], [0], [0]]
