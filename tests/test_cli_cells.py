"""The cell and its variants on the command line: --cell gru, --reset-after, --peepholes,
--direction reverse; the JSON document and JSONL stream that say which cell they trace; the
usage errors of options a cell does not take; --expect names; diff of a change of cell; and
where --frameworks says each weight lives, checked by reading the weight out of the
framework's own tensors."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace import LSTMConfig, forward, init_input, init_weights
from lstm_trace.cells import CELLS
from lstm_trace.frameworks import to_keras
from lstm_trace.locations import weight_locations
from lstm_trace.weights import LSTMWeights

from .conftest import run_cli
from .test_schema import JSONL, TRACE, errors

GRU = ("--cell", "gru")


def _doc(capsys: Any, *args: str) -> dict[str, Any]:
    code, out, err = run_cli(capsys, *args, "--json")
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def test_gru_document_says_its_cell_and_validates(capsys: Any) -> None:
    doc = _doc(capsys, *GRU, "-T", "4")
    assert errors(TRACE, doc) == []
    cfg = doc["config"]
    assert (cfg["cell"], cfg["direction"], cfg["reset_after"], cfg["peepholes"]) == (
        "gru",
        "uni",
        True,
        False,
    )
    assert doc["param_count"] == {"keras": 21_840, "pytorch": 21_840, "onnx": 21_840}
    assert set(doc["outputs"]) == {"output", "h_n"}  # no c_n: a GRU has no cell state
    names = [t["name"] for t in doc["tensors"] if t["step"] == 0]
    assert tuple(names) == CELLS["gru"].hook_points
    assert [p["name"] for p in doc["parameters"]] == [
        *("W_r", "W_z", "W_in", "W_hn", "b_r", "b_z", "b_in", "b_hn")
    ]
    gates = {g["gate"] for g in doc["health"]["gates"]}
    assert gates == {"reset_gate", "update_gate", "candidate"}
    assert doc["frameworks"]["gate_order"] == {
        "pytorch": "r z n",
        "keras": "z r h",
        "onnx": "z r h",
    }


def test_an_lstm_document_that_breaks_the_cell_rule_fails_the_schema(capsys: Any) -> None:
    gru, lstm = _doc(capsys, *GRU), _doc(capsys)
    gru["outputs"]["c_n"] = {"shape": [1, 70]}
    del lstm["outputs"]["c_n"]
    assert errors(TRACE, gru) and errors(TRACE, lstm)


def test_reset_after_false_counts_as_keras_and_has_no_pytorch_form(capsys: Any) -> None:
    doc = _doc(capsys, *GRU, "--no-reset-after")
    assert errors(TRACE, doc) == []
    assert doc["config"]["reset_after"] is False
    assert doc["param_count"] == {"keras": 21_630, "pytorch": None, "onnx": 21_840}
    assert [p["name"] for p in doc["parameters"]] == ["W_r", "W_z", "W_n", "b_r", "b_z", "b_n"]
    reset = next(t for t in doc["tensors"] if t["name"] == "reset_hidden")
    assert reset["equation"] == "r_t * h_(t-1)"


def test_jsonl_header_names_the_cell_and_validates(capsys: Any) -> None:
    code, out, err = run_cli(capsys, *GRU, "--format", "jsonl", "-T", "2")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert all(errors(JSONL, line) == [] for line in lines)
    assert lines[0]["config"]["cell"] == "gru"
    assert {line["name"] for line in lines[1:] if "name" in line} <= set(CELLS["gru"].hook_points)


def test_peepholes_are_lstm_parameters_that_only_onnx_counts(capsys: Any) -> None:
    doc = _doc(capsys, "--peepholes", "-H", "5", "-i", "3")
    assert errors(TRACE, doc) == []
    names = [p["name"] for p in doc["parameters"]]
    assert names[-3:] == ["p_f", "p_i", "p_o"]
    # 4H(I + H) + 8H + 3H = 20 * 8 + 40 + 15
    assert doc["param_count"] == {"keras": None, "pytorch": None, "onnx": 215}
    forget = next(t for t in doc["tensors"] if t["name"] == "forget_gate")
    assert forget["equation"] == "sigmoid(W_f X + p_f * C_(t-1) + b_f)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((*GRU, "--proj", "5"), "--proj: a GRU has no projection (proj_size); that is an LSTM"),
        ((*GRU, "--peepholes"), "--peepholes: a GRU has no peepholes; that is an LSTM option"),
        (("--no-reset-after",), "--reset-after: reset_after is a GRU option; an LSTM has no"),
        ((*GRU, "--expect", "forget_gate=7"), "forget_gate is an LSTM's name, not a GRU's; this"),
        ((*GRU, "--expect", "c_n=1,70"), "c_n is an LSTM's name, not a GRU's"),
        (("--expect", "reset_gate=70"), "reset_gate is a GRU's name, not an LSTM's; this LSTM"),
        (("--expect", "p_f=70"), "p_f exists only with --peepholes"),
        (("--cell", "rnn"), "'rnn' is not one of 'lstm', 'gru'"),
        (("--direction", "up"), "'up' is not one of 'uni', 'bi', 'reverse'"),
        (("--bidirectional", "--direction", "reverse"), "--bidirectional contradicts --direction"),
    ],
)  # fmt: skip
def test_options_a_cell_does_not_take_are_one_usage_error(
    capsys: Any, args: tuple[str, ...], message: str
) -> None:
    code, out, err = run_cli(capsys, *args)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1, err


def test_c0_for_a_gru_is_a_usage_error(capsys: Any, tmp_path: Path) -> None:
    c0 = tmp_path / "c0.npy"
    np.save(c0, np.zeros((1, 70), dtype=np.float32))
    code, _, err = run_cli(capsys, *GRU, "--c0", str(c0))
    assert code == 2 and err == "lstm-trace: error: --c0: a GRU has no cell state; give --h0 only\n"


def test_gru_expectations_pass_and_fail(capsys: Any) -> None:
    good = ("W_r=70,102", "W_in=70,32", "W_hn=70,70", "params.keras=21840", "reset_hidden=70")
    code, _, err = run_cli(capsys, *GRU, *(a for e in good for a in ("--expect", e)))
    assert code == 0, err
    code, _, err = run_cli(capsys, *GRU, "--no-reset-after", "--expect", "params.pytorch=21840")
    assert code == 1 and "got none (PyTorch's nn.GRU resets after the recurrent product" in err


def test_reverse_is_the_backward_half_of_a_bidirectional_layer() -> None:
    bi = LSTMConfig(
        input_size=3, hidden_size=4, seq_len=5, batch=2, bidirectional=True, dtype="float64"
    )
    for cell in ("lstm", "gru"):
        both = init_weights(LSTMConfig(**{**_fields(bi), "cell": cell}))
        rev_cfg = LSTMConfig(**{**_fields(bi), "cell": cell, "direction": "reverse"})
        rev = LSTMWeights(rev_cfg, ((both.layers[0][1],),))
        x = init_input(bi)
        out_bi, states_bi = forward(both, x)
        out_rev, states_rev = forward(rev, x)
        np.testing.assert_array_equal(out_rev, out_bi[..., 4:])
        h_bi = states_bi[0] if cell == "lstm" else states_bi
        h_rev = states_rev[0] if cell == "lstm" else states_rev
        assert h_rev.shape == (1, 2, 4)  # one entry per layer
        np.testing.assert_array_equal(h_rev[0], h_bi[1])


def _fields(cfg: LSTMConfig) -> dict[str, Any]:
    return {
        "input_size": cfg.input_size, "hidden_size": cfg.hidden_size, "seq_len": cfg.seq_len,
        "batch": cfg.batch, "dtype": cfg.dtype, "direction": cfg.direction,
    }  # fmt: skip


def test_reverse_document_records_backward_steps(capsys: Any) -> None:
    doc = _doc(capsys, "--direction", "reverse", "-T", "3", "-H", "4", "-i", "2", "-L", "2")
    assert errors(TRACE, doc) == []
    assert doc["config"]["direction"] == "reverse"
    assert {t["direction"] for t in doc["tensors"]} == {"backward"}
    assert doc["outputs"]["h_n"]["shape"] == [2, 4] and doc["outputs"]["output"]["shape"] == [3, 4]
    h_prev = next(t for t in doc["tensors"] if t["name"] == "h_prev")
    assert h_prev["symbol"] == "h_(t+1)"


def test_diff_reports_a_change_of_cell(capsys: Any, tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_doc(capsys)))
    b.write_text(json.dumps(_doc(capsys, *GRU)))
    code, out, _ = run_cli(capsys, "diff", str(a), str(b))
    assert code == 1 and 'config.cell: "lstm" -> "gru"' in out.splitlines()


def test_gru_heatmap_and_health(capsys: Any) -> None:
    code, out, err = run_cli(
        capsys, *GRU, "--format", "heatmap", "--gate", "update_gate", "-T", "6"
    )
    assert code == 0, err and "update_gate" in out
    code, _, err = run_cli(capsys, *GRU, "--format", "heatmap", "--gate", "forget_gate")
    assert code == 2 and "expected one of the GRU's gates reset_gate, update_gate, candidate" in err
    code, out, _ = run_cli(capsys, *GRU, "--samples", "0")
    assert re.search(r"0\s+forward\s+reset\s.*\n\s+update\s.*\n\s+candidate\s", out)


# --- where every weight lives, read back out of each framework's tensors -----------------------


def _evaluate(text: str, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """'[recurrent_kernel[:, 0:4].T | kernel[:, 0:4].T]' or 'bias[0, 0:4] + bias[1, 0:4]'."""
    if text.startswith("[") and " | " in text:
        left, right = text[1:-1].split(" | ")
        return np.concatenate([_evaluate(left, arrays), _evaluate(right, arrays)], axis=1)
    value: np.ndarray = eval(text, {"__builtins__": {}}, arrays)  # our own strings, not a user's
    return value


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"cell": "gru"},
        {"cell": "gru", "reset_after": False},
        {"num_layers": 2, "bidirectional": True},
    ],
)  # fmt: skip
def test_every_location_reads_the_walkthrough_weight(kwargs: dict[str, Any]) -> None:
    cfg = LSTMConfig(input_size=3, hidden_size=4, dtype="float64", **kwargs)
    weights = init_weights(cfg)
    state = weights.to_pytorch()
    keras = to_keras(weights)
    for k in range(cfg.num_layers):
        for d, w in enumerate(weights.layers[k]):
            want = _walkthrough(cfg, w)
            for row in weight_locations(cfg, k, d):
                expected = want[row["name"]]
                if not row["pytorch"].startswith("none"):
                    np.testing.assert_array_equal(_evaluate(row["pytorch"], state), expected)
                got = _evaluate(row["keras"], dict(keras[k][d]))
                np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)


def _walkthrough(cfg: LSTMConfig, w: Any) -> dict[str, np.ndarray]:
    """Every walkthrough weight of one layer and direction, from PyTorch's rows."""
    out: dict[str, np.ndarray] = {}
    h = cfg.hidden_size
    for k, gate in enumerate(cfg.kind.gates):
        rows = slice(k * h, (k + 1) * h)
        out[f"W_{gate.letter}"] = np.concatenate([w.w_hh[rows], w.w_ih[rows]], axis=1)
        out[f"b_{gate.letter}"] = w.b_ih[rows] + w.b_hh[rows]
        out[f"W_i{gate.letter}"], out[f"W_h{gate.letter}"] = w.w_ih[rows], w.w_hh[rows]
        out[f"b_i{gate.letter}"], out[f"b_h{gate.letter}"] = w.b_ih[rows], w.b_hh[rows]
    return out


@pytest.mark.parametrize(
    ("kwargs", "field", "row", "name"),
    [
        ({"cell": "gru"}, "w_ih", 9, "W_in"),
        ({"cell": "gru"}, "w_hh", 8, "W_hn"),
        ({"cell": "gru"}, "b_hh", 11, "b_hn"),
        ({"cell": "gru"}, "b_ih", 5, "b_z"),
        ({"cell": "gru", "reset_after": False}, "w_hh", 9, "W_n"),
        ({"peepholes": True}, "w_peep", 5, "p_f"),
        ({"proj_size": 2}, "w_hr", 1, "W_hr"),
        ({}, "w_hh", 13, "W_o"),
    ],
)
def test_a_bad_weight_is_named_in_the_walkthrough_notation(
    kwargs: dict[str, Any], field: str, row: int, name: str
) -> None:
    from lstm_trace.health import nonfinite_weight

    cfg = LSTMConfig(input_size=3, hidden_size=4, direction="reverse", **kwargs)
    w = init_weights(cfg)
    getattr(w.layers[0][0], field)[row] = np.inf  # the arrays are the weights' own
    assert nonfinite_weight(w) == f"{name} at layer 0, backward"


def test_counts_by_name_and_the_messages_of_names_an_option_brings() -> None:
    from lstm_trace import assert_shapes
    from lstm_trace.ci.expect import ExpectationError

    assert_shapes(LSTMConfig(cell="gru"), params_onnx=21_840, params_keras=21_840)
    with pytest.raises(ExpectationError, match="b_hn exists only with --reset-after"):
        assert_shapes(LSTMConfig(cell="gru", reset_after=False), b_hn=(70,))


def test_a_reverse_stack_has_no_keras_form_and_a_bad_tensor_is_named_reverse() -> None:
    from lstm_trace.errors import ConfigError

    one = LSTMConfig(direction="reverse")
    two = LSTMConfig(direction="reverse", num_layers=2)
    assert one.kind.counts(one).keras == 28_840
    assert (
        two.kind.counts(two).keras is None and "go_backwards" in two.kind.unsupported(two)["keras"]
    )
    w = init_weights(LSTMConfig(input_size=3, hidden_size=4, direction="reverse"))
    bad = dataclasses.replace(w.layers[0][0], w_ih=np.zeros((16, 5), dtype=np.float32))
    with pytest.raises(ConfigError, match=r"weight_ih_l0_reverse: expected shape \(16, 3\)"):
        LSTMWeights(w.config, ((bad,),))


def test_options_against_a_file_of_the_other_cell(capsys: Any, tmp_path: Path) -> None:
    gru, lstm, bare = tmp_path / "g.weights.h5", tmp_path / "l.npz", tmp_path / "b.weights.h5"
    for args in (
        (*GRU, "--save-weights", str(gru)),
        ("--save-weights", str(lstm)),
        (*GRU, "--no-bias", "--save-weights", str(bare)),
    ):
        assert run_cli(capsys, "-i", "3", "-H", "4", "--samples", "0", *args)[0] == 0
    for args, message in (
        (("-w", str(lstm), "--no-reset-after"), "--reset-after: reset_after is a GRU option"),
        (("-w", str(gru), "--peepholes"), "--peepholes: a GRU has no peepholes"),
        (("-w", str(gru), "--proj", "2"), "--proj: a GRU has no projection"),
        (("-w", str(gru), "--no-reset-after"), f"--no-reset-after contradicts {gru}, whose"),
        (("-w", str(lstm), "--cell", "gru"), f"--cell gru contradicts {lstm}, whose cell is lstm"),
    ):
        code, _, err = run_cli(capsys, *args)
        assert code == 2 and message in err, err
    # a bias-free .weights.h5 cannot show its reset_after: the option says it
    doc = _doc(capsys, "-w", str(bare), "--no-reset-after")
    assert doc["config"]["reset_after"] is False and doc["param_count"]["pytorch"] is None


def test_keras_names_of_a_reverse_layer_say_what_they_cannot_hold(
    capsys: Any, tmp_path: Path
) -> None:
    target = tmp_path / "revk.npz"
    args = ("-i", "3", "-H", "4", "--samples", "0")
    assert run_cli(capsys, *args, "--direction", "reverse", "--save-weights", str(target),
                   "--to", "keras")[0] == 0  # fmt: skip
    code, out, err = run_cli(capsys, "-w", str(target), "--samples", "0")
    assert code == 0 and " uni " in out.splitlines()[0]
    assert "Keras names hold no layer settings: read forward in time" in err
    code, out, _ = run_cli(capsys, "-w", str(target), "--direction", "reverse", "--samples", "0")
    assert code == 0 and " reverse " in out.splitlines()[0]
