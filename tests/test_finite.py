"""The 'finite' expectation: --expect finite, finite = true in a spec, assert_shapes(finite=True);
and a count expectation's message that does not read like a shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace import LSTMConfig, assert_shapes, init_weights, trace, weights_from_pytorch
from lstm_trace.formats.writing import write_weights

from .conftest import run_cli as cli

NAN_AT_2 = "expected every value finite, got NaN or Inf first at step 2, layer 0, forward, x"


@pytest.fixture
def x_nan(tmp_path: Path) -> Path:
    """The walkthrough's input (T=4, I=32) with a NaN at step 2."""
    x = np.random.default_rng(0).standard_normal((4, 32)).astype(np.float32)
    x[2, 5] = np.nan
    path = tmp_path / "x.npy"
    np.save(path, x)
    return path


@pytest.mark.parametrize("fmt", ["json", "jsonl", "table"])
def test_expect_finite_fails_naming_the_first_place(capsys: Any, x_nan: Path, fmt: str) -> None:
    code, out, err = cli(capsys, "--x", x_nan, "--format", fmt, "--expect", "finite")
    assert code == 1
    assert f"lstm-trace: {NAN_AT_2}\n" in err and "1 of 1 expectations failed" in err
    if fmt == "jsonl":  # the stream is whole, and its health says the same place
        last = json.loads(out.splitlines()[-1])
        assert last["health"]["first_nonfinite"] == {
            "step": 2,
            "layer": 0,
            "direction": "forward",
            "gate": "x",
        }


def test_expect_finite_passes_on_finite_values(capsys: Any) -> None:
    code, _, err = cli(capsys, "--json", "--bidirectional", "-L", "2", "--expect", "finite")
    assert code == 0 and "the expectation passed" in err


def test_a_bad_gate_in_the_backward_direction_is_located(tmp_path: Path, capsys: Any) -> None:
    config = LSTMConfig(input_size=3, hidden_size=2, seq_len=5, bidirectional=True)
    weights = init_weights(config)
    weights.layers[0][1].b_ih[2] = np.nan  # the backward forget gate (rows 2:4 of i, f, g, o)
    write_weights(tmp_path / "w.npz", weights, "pytorch")
    args = ("--weights", tmp_path / "w.npz", "-T", "5", "-f", "jsonl", "--expect", "finite")
    code, _, err = cli(capsys, *args)
    assert code == 1  # the backward direction starts at the last step
    assert "got NaN or Inf first at step 4, layer 0, backward, forget_gate" in err


def test_expect_finite_takes_no_value_and_no_layer(capsys: Any) -> None:
    for text, words in (
        ("finite=true", "finite takes no value; write --expect finite"),
        ("finite@0=1", "finite covers every layer; drop @0"),
    ):
        code, out, err = cli(capsys, "--expect", text)
        assert code == 2 and out == "" and err.count("\n") == 1 and words in err


def _spec(tmp_path: Path, x: Path, expect: str) -> Path:
    path = tmp_path / "shapes.toml"
    path.write_text(
        f'[models.clean]\nexpect = {{ {expect} }}\n\n[models.poisoned]\nx = "{x.name}"\n'
        f"expect = {{ {expect} }}\n"
    )
    return path


def test_spec_finite_true(tmp_path: Path, capsys: Any, x_nan: Path) -> None:
    spec = _spec(tmp_path, x_nan, "finite = true")
    code, out, err = cli(capsys, "check", spec, "--format", "json")
    assert code == 1 and "1 of 2 models passed" in err
    clean, poisoned = json.loads(out)["models"]
    assert clean["passed"] and clean["expectations"][0]["got"] == "all finite"
    [outcome] = poisoned["expectations"]
    assert outcome["name"] == "finite" and outcome["expected"] == "every value finite"
    assert outcome["message"] == NAN_AT_2 and not outcome["passed"]
    code, out, _ = cli(capsys, "check", spec)
    assert code == 1 and f"poisoned: {NAN_AT_2}" in " ".join(out.split())


def test_spec_finite_false_and_bad_values(tmp_path: Path, capsys: Any, x_nan: Path) -> None:
    spec = _spec(tmp_path, x_nan, 'finite = false, output = "*,70"')
    code, _, err = cli(capsys, "check", spec)
    assert code == 0 and "2 of 2 models passed" in err  # false asks for nothing
    for expect, words in (("finite = 3", "expected true, got 3"), ('"finite@1" = true', "@1")):
        code, out, err = cli(capsys, "check", _spec(tmp_path, x_nan, expect))
        assert code == 2 and out == "" and err.count("\n") == 1
        assert "shapes.toml:2: models.clean.expect: " in err and words in err


def test_assert_shapes_finite(x_nan: Path) -> None:
    config = LSTMConfig(seq_len=4)
    assert_shapes(config, finite=True, output=(4, 70))
    poisoned = trace(config, x=np.load(x_nan))
    assert_shapes(poisoned, finite=False)  # asks for nothing
    with pytest.raises(AssertionError, match=f"^lstm-trace: {NAN_AT_2}$"):
        assert_shapes(poisoned, finite=True)
    with pytest.raises(AssertionError, match="expected every value finite"):
        assert_shapes(poisoned, finite=True, output=(4, 70))


def test_a_count_does_not_read_like_a_shape(capsys: Any) -> None:
    code, _, err = cli(capsys, "-B", "2", "--expect", "hidden_state=70")
    assert code == 1
    assert "expected hidden_state 70 elements, got 140 elements, shape (2, 70)" in err
    code, _, err = cli(capsys, "--expect", "params.keras=1")
    assert "expected params.keras 1, got 28,840" in err  # parameters, not elements


@pytest.mark.parametrize(("field", "row", "named"), [("b_ih", 75, "b_f"), ("b_hh", 150, "b_c")])
def test_an_inf_weight_fails_finite_though_every_gate_stays_finite(
    tmp_path: Path, capsys: Any, field: str, row: int, named: str
) -> None:
    """An Inf in a bias saturates its gate to exactly 0 or 1: nothing the pass computes holds
    it, so 'finite' reads the weights too, and names the gate's weight."""
    cfg = LSTMConfig(num_layers=2)
    state = init_weights(cfg).to_pytorch()
    key = f"{'weight' if field[0] == 'w' else 'bias'}_{field[2:]}_l1"
    state[key] = state[key].copy()
    state[key][row] = np.inf  # rows 70:140 are f, 140:210 c (PyTorch's i, f, g, o)
    path = tmp_path / "w.npz"
    np.savez(path, **state)
    code, out, err = cli(capsys, "--weights", path, "--expect", "finite", "--json")
    assert json.loads(out)["health"]["first_nonfinite"] is None  # no computed value holds it
    assert code == 1
    assert f"NaN or Inf in the weights, first {named} at layer 1, forward" in err
    with pytest.raises(AssertionError, match=f"{named} at layer 1"):
        assert_shapes(trace(cfg, weights_from_pytorch(state, cfg)), finite=True)


def test_finite_biases_whose_sum_overflows_are_finite(tmp_path: Path, capsys: Any) -> None:
    """b_ih + b_hh of 3e38 each is Inf in float32, yet neither weight holds an Inf."""
    cfg = LSTMConfig(input_size=3, hidden_size=2)
    w = init_weights(cfg)
    w.layers[0][0].b_ih[:] = 3e38
    w.layers[0][0].b_hh[:] = 3e38
    from lstm_trace.health import nonfinite_weight

    assert nonfinite_weight(w) is None


def test_a_nan_in_the_projection_is_named() -> None:
    from lstm_trace.health import nonfinite_weight

    cfg = LSTMConfig(input_size=3, hidden_size=4, proj_size=2, bidirectional=True, bias=False)
    w = init_weights(cfg)
    assert nonfinite_weight(w) is None
    w.layers[0][1].w_hr[0, 0] = np.nan
    assert nonfinite_weight(w) == "W_hr at layer 0, backward"
