from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from lstm_trace import (
    HOOK_POINTS,
    LSTMConfig,
    SelectionError,
    forward,
    init_input,
    init_weights,
    trace,
)


def test_walkthrough_trace_shapes() -> None:
    t = trace(LSTMConfig())
    shapes = {r.name: r.shape for r in t.tensors if r.step == 0}
    assert shapes == {
        "x": (32,),
        "h_prev": (70,),
        "c_prev": (70,),
        "concat": (102,),
        "forget_gate": (70,),
        "input_gate": (70,),
        "candidate": (70,),
        "cell_state": (70,),
        "output_gate": (70,),
        "hidden_state": (70,),
    }
    params = {p.name: (p.shape, p.count) for p in t.parameters}
    assert params["W_f"] == ((70, 102), 7140) and params["b_o"] == ((70,), 70)
    assert (t.param_count.keras, t.param_count.pytorch) == (28_840, 29_120)
    assert t.outputs == {"output": (3, 70), "h_n": (1, 70), "c_n": (1, 70)}


def test_bidirectional_batched_trace() -> None:
    t = trace(LSTMConfig(bidirectional=True, batch=4, num_layers=2, seq_len=10))
    assert t.outputs["output"] == (4, 10, 140)
    assert t.outputs["h_n"] == (4, 4, 70)
    assert {r.step for r in t.tensors} == {0, 9}  # default: first and last of a long sequence
    x1 = next(r for r in t.tensors if r.layer == 1 and r.name == "concat")
    assert x1.shape == (4, 210)
    assert {(r.layer, r.direction) for r in t.tensors} == {
        (k, d) for k in (0, 1) for d in ("forward", "backward")
    }


def test_records_are_summaries_of_the_real_values() -> None:
    cfg = LSTMConfig(input_size=3, hidden_size=5, seq_len=2, dtype="float64")
    x = init_input(cfg)
    t = trace(cfg, x=x, samples=3, steps="all")
    rec = next(r for r in t.tensors if r.name == "x" and r.step == 1)
    assert rec.sample == [float(v) for v in x[1]]
    assert rec.stats.min == x[1].min() and rec.stats.max == x[1].max()
    assert rec.stats.mean == pytest.approx(x[1].mean()) and rec.stats.std == pytest.approx(
        x[1].std()
    )
    out, (hn, _) = forward(init_weights(cfg), x)
    np.testing.assert_array_equal(t.output, out)
    h_rec = next(r for r in t.tensors if r.name == "hidden_state" and r.step == 1)
    assert h_rec.sample == [float(v) for v in hn[0, :3]]


def test_nan_and_inf_are_counted_and_become_null() -> None:
    cfg = LSTMConfig(input_size=4, hidden_size=3, seq_len=1)
    x = np.array([[np.nan, np.inf, 1.0, 2.0]], dtype=np.float32)
    t = trace(cfg, x=x)
    rec = next(r for r in t.tensors if r.name == "x")
    assert (rec.stats.nan, rec.stats.inf) == (1, 1)
    assert rec.sample[:2] == [None, None]
    assert rec.stats.min == 1.0 and rec.stats.max == 2.0
    json.dumps(t.to_dict(), allow_nan=False)  # strict JSON even with NaN inside


def test_user_hooks_fire_everywhere_while_the_trace_keeps_its_selection() -> None:
    seen = set()
    t = trace(LSTMConfig(seq_len=8), hooks=[lambda e: seen.add(e.step)])
    assert seen == set(range(8))
    assert {r.step for r in t.tensors} == {0, 7}


def test_trace_shows_what_hooks_replaced() -> None:
    t = trace(
        LSTMConfig(input_size=3, hidden_size=2, seq_len=1),
        hooks=[lambda e: 1.0 if e.name == "forget_gate" else None],
    )
    rec = next(r for r in t.tensors if r.name == "forget_gate")
    assert rec.sample == [1.0, 1.0]


def test_to_dict_contract() -> None:
    d = trace(LSTMConfig(bidirectional=True)).to_dict()
    assert set(d) >= {
        "schema_version",
        "lstm_trace_version",
        "config",
        "parameters",
        "param_count",
        "tensors",
        "outputs",
    }
    assert d["schema_version"] == 2
    assert d["config"] == {
        "input_size": 32,
        "hidden_size": 70,
        "seq_len": 3,
        "batch": None,
        "num_layers": 1,
        "cell": "lstm",
        "direction": "bi",
        "proj_size": 0,
        "bias": True,
        "peepholes": False,
        "reset_after": None,
        "dtype": "float32",
        "seed": 0,
    }
    assert d["param_count"] == {"keras": 57_680, "pytorch": 58_240, "onnx": 58_240}
    assert d["outputs"]["output"] == {"shape": [3, 140]}
    assert {p["direction"] for p in d["parameters"]} == {"forward", "backward"}
    record: dict[str, Any] = d["tensors"][0]
    assert set(record) == {
        "name",
        "symbol",
        "layer",
        "direction",
        "step",
        "shape",
        "dtype",
        "equation",
        "sample",
        "stats",
    }
    assert set(record["stats"]) == {"min", "max", "mean", "std", "nan", "inf"}
    assert [r["name"] for r in d["tensors"][: len(HOOK_POINTS)]] == list(HOOK_POINTS)


def test_samples_and_x_are_validated() -> None:
    with pytest.raises(SelectionError, match="samples"):
        trace(LSTMConfig(), samples=-1)
    with pytest.raises(ValueError, match="x must have shape"):
        trace(LSTMConfig(), x=np.zeros((4, 32)))


def test_more_samples_than_any_tensor_holds_shows_them_all() -> None:
    """--samples 10**20 is 'every value', not an allocation of 10**20 columns."""
    result = trace(LSTMConfig(seq_len=1), samples=10**20)
    concat = next(r for r in result.tensors if r.name == "concat")
    assert len(concat.sample) == 102 and result.samples == 102


def test_widest_tensor_is_the_widest_any_record_holds() -> None:
    """A batch, two bidirectional layers and a projection: layer 1's concat reads D * H_out."""
    from lstm_trace.trace import widest_tensor

    for cfg in (
        LSTMConfig(
            input_size=3,
            hidden_size=8,
            proj_size=5,
            num_layers=2,
            bidirectional=True,
            batch=2,
            seq_len=2,
        ),
        LSTMConfig(input_size=3, hidden_size=70, proj_size=2, seq_len=2),  # gates are widest
    ):
        result = trace(cfg, samples=10**9, steps="all")
        most = max(len(r.sample) for r in result.tensors)
        assert most == widest_tensor(cfg) == result.samples
