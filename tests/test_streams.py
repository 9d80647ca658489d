"""--format jsonl (streamed, schema-valid) and --format markdown."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import jsonschema
import referencing

from lstm_trace import LSTMConfig, trace
from lstm_trace.cli import main
from lstm_trace.schema import load_schema, schemas_by_id


def jsonl_validator() -> jsonschema.Draft202012Validator:
    registry = referencing.Registry().with_resources(
        [(uri, referencing.Resource.from_contents(s)) for uri, s in schemas_by_id().items()]
    )
    return jsonschema.Draft202012Validator(load_schema("trace-jsonl"), registry=registry)


def test_jsonl_lines_parse_validate_and_agree_with_json(capsys: Any) -> None:
    args = ["--bidirectional", "-L", "2", "-B", "3", "-T", "5", "--steps", "all", "--proj", "4"]
    assert main([*args, "--format", "jsonl"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    validator = jsonl_validator()
    for line in lines:
        validator.validate(line)
    assert [line["type"] for line in (lines[0], lines[-1])] == ["header", "outputs"]
    tensors = [line for line in lines if line["type"] == "tensor"]
    assert len(tensors) == lines[-1]["tensor_count"] == 2 * 2 * 5 * 10
    assert main([*args, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    strip = lambda d: {k: v for k, v in d.items() if k != "type"}  # noqa: E731
    assert {k: v for k, v in strip(lines[0]).items()} == {
        k: v for k, v in doc.items() if k not in ("tensors", "outputs", "health")
    }
    assert lines[-1]["health"] == doc["health"]
    key = lambda t: (t["layer"], t["direction"], t["step"], t["name"])  # noqa: E731
    assert sorted(map(strip, tensors), key=key) == sorted(doc["tensors"], key=key)
    assert lines[-1]["outputs"] == doc["outputs"]


def test_jsonl_streams_in_computation_order(capsys: Any) -> None:
    assert main(["--bidirectional", "-T", "3", "--steps", "all", "--format", "jsonl"]) == 0
    steps = [
        (line["direction"], line["step"])
        for line in map(json.loads, capsys.readouterr().out.splitlines())
        if line["type"] == "tensor" and line["name"] == "x"
    ]
    assert steps == [
        ("forward", 0),
        ("forward", 1),
        ("forward", 2),
        ("backward", 2),
        ("backward", 1),
        ("backward", 0),
    ]


def test_jsonl_header_arrives_before_the_pass_finishes() -> None:
    """The header is written and flushed before the forward pass starts."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "lstm_trace", "-T", "20000", "--steps", "all", "--format", "jsonl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        start = time.monotonic()
        first = json.loads(proc.stdout.readline())
        assert first["type"] == "header"
        assert proc.poll() is None  # still computing when the header arrived
        assert time.monotonic() - start < 30
    finally:
        proc.kill()
        proc.wait()


def test_streamed_trace_keeps_no_records() -> None:
    seen = []
    result = trace(LSTMConfig(seq_len=30), steps="all", sink=seen.append)
    assert len(seen) == 300 and result.tensors == []


def test_markdown(capsys: Any) -> None:
    assert main(["--format", "markdown", "--bidirectional", "-T", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## LSTM input=32 hidden=70 layers=1 bi unbatched")
    assert "### Weights" in out and "### Values, layer 0, backward" in out
    assert "| `W_f W_i W_c W_o` | 70 x 102 | 4 x 7,140 = 28,560 |" in out
    assert "| `concat` | `X` | 102 | `[h_(t-1), x_t]: 70 + 32 = 102` |" in out
    for line in out.splitlines():
        if line.startswith("|"):  # every table row has the same number of cells as its header
            assert line.endswith("|")
    tables = [block for block in out.split("\n\n") if block.startswith("|")]
    for block in tables:
        widths = {len(row.replace("\\|", "").split("|")) for row in block.splitlines()}
        assert len(widths) == 1
    assert main(["--format", "markdown", "--frameworks"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "W_f = [weight_hh_l0[70:140] | weight_ih_l0[70:140]]" in out
    assert "| f (forget) | 70:140 | 70:140 | 140:210 |" in out


def test_markdown_code_spans_follow_one_rule(capsys: Any) -> None:
    """Every tensor name and symbol is code, whether or not it has an underscore; prose stays
    prose, with only the names inside it as code."""
    assert main(["--format", "markdown"]) == 0
    out = capsys.readouterr().out
    rows = {line.split(" | ")[0].removeprefix("| "): line for line in out.splitlines()}
    assert rows["`x`"].endswith("| `x_t` | 32 | input at step t |")
    assert "| `h_prev` | `h_(t-1)` | 70 | `h_t` of step t-1; zeros (or h0) at first |" in out
    assert "| `forget_gate` | `f_t` | 70 | `sigmoid(W_f X + b_f)` |" in out
    assert "| `output` | (3, 70) | each step's `h_t`, last layer |" in out
    values = out.split("### Values, layer 0, forward")[1].split("\n\n")[1].splitlines()[2:]
    assert len(values) == 30
    for line in values:  # the values table: every tensor name is code
        assert line.split(" | ")[1].startswith("`"), line


def test_schema_command(capsys: Any) -> None:
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["$id"].endswith("trace-2.json")
    assert main(["schema", "--jsonl"]) == 0
    assert json.loads(capsys.readouterr().out)["$id"].endswith("trace-jsonl-2.json")


def test_printed_jsonl_schema_stands_alone(capsys: Any) -> None:
    """`lstm-trace schema --jsonl` validates lines with no registry: nothing left to resolve."""
    assert main(["schema", "--jsonl"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "trace-2.json#" not in json.dumps(schema)
    assert main(["--format", "jsonl", "--bidirectional", "-T", "2"]) == 0
    validator = jsonschema.Draft202012Validator(schema)
    for line in capsys.readouterr().out.splitlines():
        validator.validate(json.loads(line))
    bad = {"type": "tensor", "name": "x"}
    assert not validator.is_valid(bad)
