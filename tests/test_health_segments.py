"""Gate saturation split into its low and high side, and over time in up to 10 segments."""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from itertools import pairwise
from typing import Any

import numpy as np
import pytest

from lstm_trace import HookEvent, LSTMConfig, forward, init_input, init_weights, trace
from lstm_trace.health import HealthMonitor
from lstm_trace.health_segments import SegmentCounts, segment_edges, segment_of
from lstm_trace.weights import LSTMWeights

# --- the segments themselves ------------------------------------------------------------------


def test_edges_of_a_sequence_not_divisible_by_ten() -> None:
    assert segment_edges(25).tolist() == [0, 2, 5, 7, 10, 12, 15, 17, 20, 22, 25]
    assert segment_edges(20).tolist() == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20]


def test_fewer_than_ten_steps_are_one_step_each() -> None:
    assert segment_edges(7).tolist() == list(range(8))
    assert segment_edges(1).tolist() == [0, 1]
    with pytest.raises(ValueError, match="T = 0"):
        segment_edges(0)


@pytest.mark.parametrize("steps", [*range(1, 60), 99, 101, 1009, 20_000])
def test_edges_cover_the_sequence_in_near_equal_segments(steps: int) -> None:
    edges = segment_edges(steps)
    sizes = np.diff(edges)
    assert edges[0] == 0 and edges[-1] == steps
    assert len(sizes) == min(10, steps)
    assert sizes.min() >= 1 and sizes.max() - sizes.min() <= 1


def test_a_block_is_cut_at_the_segment_edges() -> None:
    counts = SegmentCounts(25, 4, 3)  # edges 0 2 5 7 10 12 15 17 20 22 25
    assert counts.pieces(0, 25)[:3] == [(0, 0, 2), (1, 2, 5), (2, 5, 7)]
    assert segment_of(25)[[0, 1, 2, 4, 5, 6, 7, 24]].tolist() == [0, 0, 1, 1, 2, 2, 3, 9]
    assert counts.pieces(6, 5) == [(2, 0, 1), (3, 1, 4), (4, 4, 5)]  # steps 6..10
    assert counts.pieces(24, 1) == [(9, 0, 1)]
    with pytest.raises(ValueError, match="outside the sequence"):
        counts.pieces(23, 3)


# --- a hand-worked case -----------------------------------------------------------------------


def driven(cfg: LSTMConfig, gains: dict[str, float]) -> LSTMWeights:
    """Weights where gate g reads only x_t, with gain gains[g] (0 for the others): W_hh = 0,
    so every gate is a function of its own step's input. Biases are non-zero and differ
    between b_ih and b_hh, small enough that x decides the side."""
    w = init_weights(cfg)
    for layer in w.layers:
        for d in layer:
            d.w_hh[:] = 0.0
            d.w_ih[:] = 0.0
            d.b_ih[:] = 0.3
            d.b_hh[:] = -0.1
            for gate, gain in gains.items():
                d.w_ih[d.gate_rows(gate)] = gain
    return w


def signs(steps: int, switch: int) -> np.ndarray:
    """x_t = -10 before step `switch`, +10 from it on: (T, 1)."""
    return np.where(np.arange(steps) < switch, -10.0, 10.0)[:, None]


def gates_of(doc: dict[str, Any], layer: int = 0, direction: str = "forward") -> dict[str, Any]:
    return {
        g["gate"]: g for g in doc["gates"] if g["layer"] == layer and g["direction"] == direction
    }


def lows_highs(gate: dict[str, Any]) -> list[tuple[int, int, float, float]]:
    return [
        (s["start"], s["stop"], s["saturated_low"], s["saturated_high"]) for s in gate["segments"]
    ]


def test_forget_gate_low_for_the_first_half_and_high_for_the_second() -> None:
    cfg = LSTMConfig(input_size=1, hidden_size=2, seq_len=20, dtype="float64")
    # f_t = sigmoid(+-10 + 0.2): 5.5e-5, then 0.99995; the candidate tanh(+-30.2) -1 then +1
    result = trace(cfg, driven(cfg, {"f": 1.0, "c": 3.0}), signs(20, 10))
    gates = gates_of(result.health)
    f = gates["forget_gate"]
    assert (f["saturated_low"], f["saturated_high"], f["saturated_share"]) == (0.5, 0.5, 1.0)
    assert (f["saturated_low_count"], f["saturated_high_count"], f["saturated"]) == (20, 20, 40)
    assert lows_highs(f) == [
        *((t, t + 2, 1.0, 0.0) for t in range(0, 10, 2)),
        *((t, t + 2, 0.0, 1.0) for t in range(10, 20, 2)),
    ]
    assert lows_highs(gates["candidate"]) == lows_highs(f)  # tanh: below -0.95, above 0.95
    i = gates["input_gate"]  # sigmoid(0.2) = 0.55 at every step: on neither side
    assert (i["saturated_low_count"], i["saturated_high_count"]) == (0, 0)
    assert all(s["saturated_low"] == s["saturated_high"] == 0.0 for s in i["segments"])


def test_a_switch_inside_a_segment_of_a_sequence_not_divisible_by_ten() -> None:
    cfg = LSTMConfig(input_size=1, hidden_size=3, seq_len=25, dtype="float64")
    f = gates_of(trace(cfg, driven(cfg, {"f": 1.0}), signs(25, 6)).health)["forget_gate"]
    # segments [0,2) [2,5) [5,7) ...: step 5 low, step 6 high
    assert lows_highs(f)[:4] == [
        (0, 2, 1.0, 0.0),
        (2, 5, 1.0, 0.0),
        (5, 7, 0.5, 0.5),
        (7, 10, 0.0, 1.0),
    ]
    assert [s["stop"] - s["start"] for s in f["segments"]] == [2, 3, 2, 3, 2, 3, 2, 3, 2, 3]
    assert (f["saturated_low"], f["saturated_high"]) == (0.24, 0.76)  # 6 and 19 steps of 25


def test_fewer_than_ten_steps_give_one_segment_per_step() -> None:
    cfg = LSTMConfig(input_size=1, hidden_size=2, seq_len=7, batch=2, dtype="float64")
    x = np.stack([signs(7, 3), signs(7, 5)])  # batch row 1 switches later
    f = gates_of(trace(cfg, driven(cfg, {"f": 1.0}), x).health)["forget_gate"]
    assert lows_highs(f) == [
        (0, 1, 1.0, 0.0),
        (1, 2, 1.0, 0.0),
        (2, 3, 1.0, 0.0),
        (3, 4, 0.5, 0.5),
        (4, 5, 0.5, 0.5),
        (5, 6, 0.0, 1.0),
        (6, 7, 0.0, 1.0),
    ]


@pytest.mark.parametrize("direction", ["bi", "reverse"])
def test_a_backward_direction_counts_each_step_at_its_real_time(direction: str) -> None:
    cfg = LSTMConfig(input_size=1, hidden_size=2, seq_len=20, direction=direction)
    # every gate reads only x_t, so both directions see the same values at the same t
    result = trace(cfg, driven(cfg, {"f": 1.0}), signs(20, 10).astype(np.float32))
    backward = gates_of(result.health, direction="backward")["forget_gate"]
    assert [s["saturated_low"] for s in backward["segments"]] == [1.0] * 5 + [0.0] * 5
    assert [s["saturated_high"] for s in backward["segments"]] == [0.0] * 5 + [1.0] * 5
    if direction == "bi":
        assert gates_of(result.health)["forget_gate"]["segments"] == backward["segments"]


def test_gru_update_gate_high_then_low_and_reset_gate_sides() -> None:
    cfg = LSTMConfig(input_size=1, hidden_size=2, seq_len=10, cell="gru", dtype="float64")
    # z_t = sigmoid(-x_t + 0.2): high (keeps h_(t-1)) while x < 0, then low (takes n_t)
    result = trace(cfg, driven(cfg, {"z": -1.0, "r": 1.0}), signs(10, 4))
    gates = gates_of(result.health)
    z, r = gates["update_gate"], gates["reset_gate"]
    assert [s["saturated_high"] for s in z["segments"]] == [1.0] * 4 + [0.0] * 6
    assert [s["saturated_low"] for s in z["segments"]] == [0.0] * 4 + [1.0] * 6
    assert (z["saturated_low"], z["saturated_high"]) == (0.6, 0.4)
    assert (r["saturated_low"], r["saturated_high"]) == (0.4, 0.6)
    n = gates["candidate"]  # tanh(0.2 + r * 0.2): inside +-0.95 throughout
    assert n["saturated"] == 0 and all(s["saturated_high"] == 0.0 for s in n["segments"])


# --- against an independent count ------------------------------------------------------------


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_segments_match_a_count_of_every_hooked_value(cell: str) -> None:
    cfg = LSTMConfig(
        input_size=3, hidden_size=4, seq_len=23, batch=3, num_layers=2, direction="bi",
        dtype="float64", cell=cell,
    )  # fmt: skip
    w, x = init_weights(cfg), init_input(cfg) * 3.0
    for layer in w.layers:
        for d in layer:
            d.w_ih[:] *= 4.0  # large weights and inputs saturate gates on both sides
            d.w_hh[:] *= 4.0
    seen: dict[tuple[int, str, str], dict[int, np.ndarray]] = defaultdict(dict)
    tanh = {g.name for g in cfg.kind.gates if g.activation == "tanh"}

    def hook(e: HookEvent) -> None:
        if e.name in {g.name for g in cfg.kind.gates}:
            seen[(e.layer, e.direction, e.name)][e.step] = e.value.copy()

    forward(w, x, hooks=[hook])
    health = trace(cfg, w, x).health
    edges = segment_edges(23)
    sides = 0
    for g in health["gates"]:
        by_step = seen[(g["layer"], g["direction"], g["gate"])]
        values = np.stack([by_step[t] for t in range(23)])  # (T, B, H) in time order
        low = values < (-0.95 if g["gate"] in tanh else 0.05)
        high = values > 0.95
        assert g["saturated_low_count"] == int(low.sum())
        assert g["saturated_high_count"] == int(high.sum())
        assert g["saturated"] == int(low.sum() + high.sum())
        assert g["saturated_low"] == round(float(low.mean()), 6)
        for s, (a, b) in zip(g["segments"], pairwise(edges), strict=True):
            assert (s["start"], s["stop"]) == (a, b)
            assert s["saturated_low"] == round(float(low[a:b].mean()), 6)
            assert s["saturated_high"] == round(float(high[a:b].mean()), 6)
        sides += bool(low.any()) + bool(high.any())
    assert sides > 1.5 * len(health["gates"])  # most gates saturate on both sides


def test_blocks_of_any_size_in_either_order_count_the_same() -> None:
    cfg = LSTMConfig(input_size=1, hidden_size=3, seq_len=25)
    rng = np.random.default_rng(3)
    block = rng.choice([0.01, 0.5, 0.99], size=(25, 2, 12)).astype(np.float32)
    whole = HealthMonitor(cfg)
    whole(0, "backward", range(24, -1, -1), block)
    pieces = HealthMonitor(cfg)  # backward in blocks of 4 steps, the last block first
    for start in reversed(range(0, 25, 4)):
        stop = min(start + 4, 25)
        pieces(0, "backward", range(stop - 1, start - 1, -1), block[start:stop])
    assert pieces.report() == whole.report()
    f = gates_of(whole.report(), direction="backward")["forget_gate"]
    lows = (block[:, :, 3:6] < 0.05).reshape(25, -1)
    assert [s["saturated_low"] for s in f["segments"]] == [
        round(float(lows[a:b].mean()), 6) for a, b in pairwise(segment_edges(25))
    ]


def test_nan_is_on_neither_side_and_inf_on_its_own() -> None:
    cfg = LSTMConfig(input_size=1, hidden_size=2, seq_len=2)
    monitor = HealthMonitor(cfg)
    block = np.full((2, 1, 8), 0.5)
    block[0, 0, 0:2] = np.nan  # input gate, step 0: both units NaN
    block[1, 0, 2] = np.inf  # forget gate unit 0, step 1
    block[1, 0, 4] = -np.inf  # candidate unit 0, step 1
    block[:, 0, 7] = np.nan  # output gate unit 1 is NaN throughout...
    block[:, 0, 6] = 0.99  # ...which must not hide unit 0's saturation
    monitor(0, "forward", range(2), block)
    gates = gates_of(monitor.report())
    assert gates["input_gate"]["saturated"] == 0 and gates["input_gate"]["nonfinite"] == 2
    assert lows_highs(gates["forget_gate"]) == [(0, 1, 0.0, 0.0), (1, 2, 0.0, 0.5)]
    assert lows_highs(gates["candidate"]) == [(0, 1, 0.0, 0.0), (1, 2, 0.5, 0.0)]
    assert gates["output_gate"]["saturated_high_count"] == 2


def test_a_hook_that_replaces_a_gate_is_what_the_segments_count() -> None:
    """A hook's replacement is what flows on, so it is what each segment counts, at each
    step's t, in both directions."""
    cfg = LSTMConfig(input_size=2, hidden_size=3, seq_len=12, direction="bi")

    def shut_then_open(e: HookEvent) -> np.ndarray | None:
        if e.name != "forget_gate":
            return None
        return np.full_like(e.value, 0.01 if e.step < 3 else (0.5 if e.step < 9 else 0.99))

    health = trace(cfg, hooks=[shut_then_open]).health
    for direction in ("forward", "backward"):
        f = gates_of(health, direction=direction)["forget_gate"]
        # segments of 12 steps: 1 1 1 2 1 1 1 2 1 1 (edges 0 1 2 3 4 6 7 8 9 10 12)
        assert [s["start"] for s in f["segments"]] == [0, 1, 2, 3, 4, 6, 7, 8, 9, 10]
        assert [s["saturated_low"] for s in f["segments"]] == [1.0] * 3 + [0.0] * 7
        assert [s["saturated_high"] for s in f["segments"]] == [0.0] * 8 + [1.0] * 2  # 9..11
        assert (f["saturated_low"], f["saturated_high"]) == (0.25, 0.25)


# --- the JSON document ------------------------------------------------------------------------


def trace_validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    referencing = pytest.importorskip("referencing")
    from referencing.jsonschema import DRAFT202012

    from lstm_trace.schema import load_schema, schemas_by_id

    registry = referencing.Registry().with_resources(
        (uri, DRAFT202012.create_resource(s)) for uri, s in schemas_by_id().items()
    )
    return jsonschema.Draft202012Validator(load_schema("trace"), registry=registry)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_new_fields_validate_and_a_broken_segment_does_not(cell: str) -> None:
    validator = trace_validator()
    cfg = LSTMConfig(input_size=1, hidden_size=2, seq_len=13, direction="bi", cell=cell)
    doc = json.loads(
        json.dumps(trace(cfg, driven(cfg, {"candidate": 3.0}), signs(13, 4)).to_dict())
    )
    assert list(validator.iter_errors(doc)) == []
    gate = doc["health"]["gates"][0]
    assert {"saturated_low", "saturated_high", "saturated_low_count", "segments"} <= set(gate)
    assert len(gate["segments"]) == 10
    for broken in (
        lambda g: g["segments"][0].pop("stop"),
        lambda g: g["segments"][0].update(saturated_low=1.5),
        lambda g: g["segments"].extend(g["segments"][:1]),  # 11 segments
        lambda g: g.update(segments=[]),
        lambda g: g.update(saturated_high=-0.1),
    ):
        bad = copy.deepcopy(doc)
        broken(bad["health"]["gates"][0])
        assert list(validator.iter_errors(bad)), broken


def test_a_document_from_before_the_split_still_validates() -> None:
    """Adding fields kept schema_version 2: an earlier version-2 document has none of them."""
    validator = trace_validator()
    doc = json.loads(json.dumps(trace(LSTMConfig(seq_len=4)).to_dict()))
    for gate in doc["health"]["gates"]:
        for key in NEW_FIELDS:
            del gate[key]
    assert doc["schema_version"] == 2
    assert list(validator.iter_errors(doc)) == []


NEW_FIELDS = (
    "saturated_low",
    "saturated_high",
    "saturated_low_count",
    "saturated_high_count",
    "segments",
)
