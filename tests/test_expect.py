"""--expect and assert_shapes: every kind of NAME passes and fails, wildcards, bad input."""

from __future__ import annotations

from typing import Any

import pytest

from lstm_trace import LSTMConfig, assert_shapes, trace
from lstm_trace.ci.expect import ExpectationError, check_trace, parse

from .conftest import run_cli as cli

BI2 = LSTMConfig(bidirectional=True, num_layers=2, seq_len=10, batch=8)


@pytest.mark.parametrize(
    ("text", "passes"),
    [
        ("output=8,10,140", True),
        ("output=(8, 10, 140)", True),
        ("output=*,10,140", True),
        ("output=8,*,*", True),
        ("output=8,10,70", False),
        ("output=10,140", False),  # wrong rank
        ("h_n=4,8,70", True),
        ("c_n=(4, 8, 70)", True),
        ("forget_gate=8,70", True),  # every traced step, layer and direction
        ("concat=8,102", False),  # layer 1 reads 140, so its X is 210
        ("concat@0=8,102", True),
        ("concat@1=*,210", True),
        ("x@1=8,140", True),
        ("W_f=70,102", False),
        ("W_f@1=(70, 210)", True),
        ("b_o=70", True),  # a bare number is a count of elements
        ("W_f@0=7140", True),
        ("params.keras=175840", True),
        ("params.pytorch=176960", True),
        ("params.pytorch=175840", False),
    ],
)
def test_expectations(text: str, passes: bool) -> None:
    outcome = check_trace(trace(BI2, samples=0), [parse(text)])[0]
    assert outcome.passed is passes
    assert (outcome.message == "") is passes


def test_failure_message_names_expected_and_got() -> None:
    [outcome] = check_trace(trace(LSTMConfig(seq_len=10)), [parse("output=10,140")])
    assert outcome.message == "expected output (10, 140), got (10, 70)"
    [outcome] = check_trace(trace(BI2, samples=0), [parse("concat=8,102")])
    assert outcome.message == "expected concat (8, 102), got (8, 210) at layer 1"


def test_keras_count_with_projection_fails_with_a_reason() -> None:
    [outcome] = check_trace(trace(LSTMConfig(proj_size=5)), [parse("params.keras=1")])
    assert not outcome.passed and "Keras has no LSTM with a projection" in outcome.message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("output", "expected NAME=VALUE"),
        ("output=", "expected a shape"),
        ("output=10,x", "'x' is not a dimension"),
        ("params.keras=10,140", "expected a count"),
        ("params.keras@1=5", "@layer applies to tensors and weights only"),
        ("9lives=3", "not a name"),
    ],
)
def test_malformed_expectations(text: str, words: str) -> None:
    with pytest.raises(ExpectationError, match=words):
        parse(text)


def test_cli_all_pass(capsys: Any) -> None:
    code, out, err = cli(
        capsys,
        "--bidirectional",
        "-T",
        "10",
        "--json",
        "--expect",
        "output=10,140",
        "--expect",
        "params.keras=57680",
    )
    assert code == 0 and out.startswith("{")
    assert err == "lstm-trace: all 2 expectations passed\n"
    code, _, err = cli(capsys, "--json", "--expect", "output=3,70")
    assert code == 0 and err == "lstm-trace: the expectation passed\n"


def test_cli_failure_prints_output_and_one_line_per_failure(capsys: Any) -> None:
    code, out, err = cli(
        capsys,
        "-T",
        "10",
        "--expect",
        "output=10,140",
        "--expect",
        "W_f=70,102",
        "--expect",
        "h_n=9,70",
    )
    assert code == 1
    assert "Weights" in out  # the normal output is still printed
    assert err.splitlines() == [
        "lstm-trace: expected output (10, 140), got (10, 70)",
        "lstm-trace: expected h_n (9, 70), got (1, 70)",
        "lstm-trace: 2 of 3 expectations failed",
    ]


def test_cli_unknown_name_lists_the_valid_ones(capsys: Any) -> None:
    code, out, err = cli(capsys, "--expect", "outptu=3,70")
    assert code == 2 and out == ""
    assert "no such name; valid names: output, h_n, c_n, x, h_prev" in err
    assert "W_f" in err and "params.keras" in err and err.count("\n") == 1
    code, _, err = cli(capsys, "--expect", "W_hr=5,70")  # only with a projection
    assert code == 2
    code, _, err = cli(capsys, "--expect", "W_f@3=70,102")
    assert code == 2 and "layer 3 does not exist" in err


def test_expectations_work_on_a_stream(capsys: Any) -> None:
    code, out, err = cli(
        capsys,
        "-T",
        "50",
        "--steps",
        "all",
        "--format",
        "jsonl",
        "--expect",
        "hidden_state=70",
        "--expect",
        "output=50,70",
    )
    assert code == 0 and "all 2 expectations passed" in err
    assert len(out.splitlines()) == 2 + 50 * 10


def test_assert_shapes() -> None:
    result = assert_shapes(
        LSTMConfig(bidirectional=True, seq_len=10),
        output=(10, 140),
        W_f=(70, 102),
        params_keras=57_680,
        **{"concat@0": (None,)},
    )
    assert result.outputs["output"] == (10, 140)
    with pytest.raises(AssertionError) as info:
        assert_shapes(LSTMConfig(seq_len=10), output=(10, 140), params_pytorch=29_120)
    assert str(info.value) == "lstm-trace: expected output (10, 140), got (10, 70)"
    assert_shapes(result, h_n="2,70")  # a Trace works too, and text shapes


def test_w_hr_without_a_projection_says_it_needs_proj(capsys: Any) -> None:
    code, _, err = cli(capsys, "--expect", "W_hr=2,70")
    assert code == 2 and err == "lstm-trace: error: --expect W_hr: W_hr exists only with --proj\n"
    assert cli(capsys, "--proj", "2", "--expect", "W_hr=2,70")[0] == 0
