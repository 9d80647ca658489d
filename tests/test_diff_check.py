"""`lstm-trace diff` sees the weights, reads version 1 documents, and refuses bad files in one
line naming the file; `lstm-trace check` refuses deeply nested specs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from lstm_trace import LSTMConfig, init_weights
from lstm_trace.cli import main
from lstm_trace.formats.writing import write_weights

from .conftest import run_cli as cli

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN_V1 = FIXTURES / "golden-trace-v1.json"  # examples/ci/golden-trace.json as version 1 was


def save(capsys: Any, path: Path, *args: Any) -> Path:
    assert main([str(a) for a in args]) == 0
    path.write_text(capsys.readouterr().out)
    return path


def one_line(err: str) -> bool:
    return err.count("\n") == 1 and err.startswith("lstm-trace: error: ")


# --- the weights ----------------------------------------------------------------------------


def test_diff_reports_other_weights_of_the_same_shapes(tmp_path: Path, capsys: Any) -> None:
    config = LSTMConfig(bidirectional=True)
    write_weights(tmp_path / "a.npz", init_weights(config, seed=1), "pytorch")
    write_weights(tmp_path / "b.npz", init_weights(config, seed=2), "pytorch")
    a = save(capsys, tmp_path / "a.json", "--weights", tmp_path / "a.npz", "--json")
    b = save(capsys, tmp_path / "b.json", "--weights", tmp_path / "b.npz", "--json")
    code, out, err = cli(capsys, "diff", a, b)  # no --values: the digest alone tells
    assert code == 1
    [line] = out.splitlines()
    da, db = (json.loads(p.read_text())["weights"]["digest"] for p in (a, b))
    assert line == f"weights: {da} ({tmp_path / 'a.npz'}) -> {db} ({tmp_path / 'b.npz'})"
    assert "1 difference between" in err


def test_diff_same_weights_from_a_pytorch_and_a_keras_file(tmp_path: Path, capsys: Any) -> None:
    weights = init_weights(LSTMConfig(bidirectional=True), seed=4)
    write_weights(tmp_path / "t.npz", weights, "pytorch")
    write_weights(tmp_path / "k.weights.h5", weights, "keras")
    a = save(capsys, tmp_path / "a.json", "--weights", tmp_path / "t.npz", "--json")
    b = save(capsys, tmp_path / "b.jsonl", "--weights", tmp_path / "k.weights.h5", "-f", "jsonl")
    code, out, err = cli(capsys, "diff", a, b)
    assert code == 0 and out == "" and "no differences" in err


def test_diff_reads_a_version_1_golden_trace(tmp_path: Path, capsys: Any) -> None:
    assert json.loads(GOLDEN_V1.read_text())["schema_version"] == 1
    now = save(capsys, tmp_path / "now.json", "--bidirectional", "--seq-len", "10", "--json")
    code, out, err = cli(capsys, "diff", GOLDEN_V1, now, "--values", "--atol", "1e-5")
    assert code == 0 and out == ""
    assert f"the weights could not be compared: {GOLDEN_V1} has no weights digest" in err
    assert "no differences" in err
    code, out, err = cli(capsys, "diff", GOLDEN_V1, GOLDEN_V1)
    assert code == 0 and f"{GOLDEN_V1} and {GOLDEN_V1} have no weights digest" in err
    other = save(capsys, tmp_path / "other.json", "--seq-len", "10", "--json")
    code, out, _ = cli(capsys, "diff", GOLDEN_V1, other)  # a real change is still one
    assert code == 1 and 'config.direction: "bi" -> "uni"' in out.splitlines()
    assert not any(line.startswith("weights") for line in out.splitlines())


def test_a_version_1_config_key_is_compared_as_implied(tmp_path: Path, capsys: Any) -> None:
    # a key version 1 did not write (the bias, always there then) is not a difference
    doc = json.loads(GOLDEN_V1.read_text())
    doc["schema_version"] = 2
    for bias, expected in ((True, []), (False, ["config.bias: true -> false"])):
        doc["config"]["bias"] = bias
        (tmp_path / "v2.json").write_text(json.dumps(doc))
        code, out, _ = cli(capsys, "diff", GOLDEN_V1, tmp_path / "v2.json")
        assert (code, out.splitlines()) == (int(bool(expected)), expected)


# --- options ----------------------------------------------------------------------------------


def test_atol_without_values_is_refused(capsys: Any) -> None:
    code, out, err = cli(capsys, "diff", GOLDEN_V1, GOLDEN_V1, "--atol", "1e-5")
    assert code == 2 and out == "" and one_line(err)
    assert "--atol 1e-05 is the tolerance of --values; add --values or drop --atol" in err


# --- bad files: one line, exit 1, the file named ------------------------------------------------


def _golden(tmp_path: Path) -> dict[str, Any]:
    good = tmp_path / "good.json"
    shutil.copy(GOLDEN_V1, good)
    doc: dict[str, Any] = json.loads(good.read_text())
    return doc


def _bad(doc: dict[str, Any], case: str) -> Any:
    record = doc["tensors"][3]
    if case == "schema_version true":
        doc["schema_version"] = True
    elif case == "schema_version 1.0":
        doc["schema_version"] = 1.0
    elif case == "duplicate tensor":
        doc["tensors"].append(dict(record))
    elif case == "duplicate parameter":
        doc["parameters"].insert(0, dict(doc["parameters"][2]))
    elif case == "shape a string":
        record["shape"] = "70"
    elif case == "step missing":
        del record["step"]
    elif case == "layer a bool":
        record["layer"] = False
    elif case == "sample holds text":
        record["sample"] = ["0.5"]
    elif case == "stats a list":
        record["stats"] = [0.0]
    elif case == "record not an object":
        doc["tensors"][0] = 7
    elif case == "outputs shape missing":
        doc["outputs"]["h_n"] = {}
    elif case == "param_count a list":
        doc["param_count"] = [1, 2]
    elif case == "weights without digest":
        doc["weights"] = {"source": "seeded"}
    return doc


BAD = {
    "schema_version true": "schema_version 1 or 2",
    "schema_version 1.0": "schema_version 1 or 2",
    "duplicate tensor": "tensor concat layer 0 forward step 0 appears twice",
    "duplicate parameter": "parameter W_c layer 0 forward appears twice",
    "shape a string": 'tensors[3].shape must be a list of whole numbers, got "70"',
    "step missing": "tensors[3] has no step",
    "layer a bool": "tensors[3].layer must be a whole number, got false",
    "sample holds text": 'tensors[3].sample must be a list of numbers or nulls, got ["0.5"]',
    "stats a list": "tensors[3].stats must be an object of numbers or nulls",
    "record not an object": "tensors[0] is not an object",
    "outputs shape missing": "outputs.h_n is not an object with a shape",
    "param_count a list": "param_count is not an object",
    "weights without digest": "weights is not an object with a digest",
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_second_file_is_named(tmp_path: Path, capsys: Any, case: str) -> None:
    doc = _bad(_golden(tmp_path), case)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    code, out, err = cli(capsys, "diff", GOLDEN_V1, bad)
    assert code == 1 and out == "" and one_line(err), err
    assert f"error: {bad}: " in err and BAD[case] in err
    assert str(GOLDEN_V1) not in err  # the good one is not blamed


def test_duplicate_and_malformed_jsonl_lines_name_the_file(tmp_path: Path, capsys: Any) -> None:
    lines = save(capsys, tmp_path / "t.jsonl", "-f", "jsonl").read_text().splitlines()
    dup = tmp_path / "dup.jsonl"
    dup.write_text("\n".join([*lines[:3], lines[2], *lines[3:]]) + "\n")
    code, _, err = cli(capsys, "diff", tmp_path / "t.jsonl", dup)
    assert code == 1 and one_line(err) and f"{dup}: tensor " in err and "appears twice" in err
    odd = tmp_path / "odd.jsonl"
    odd.write_text("\n".join([*lines[:2], "[1, 2]", *lines[2:]]) + "\n")
    code, _, err = cli(capsys, "diff", odd, tmp_path / "t.jsonl")
    assert code == 1 and one_line(err) and f"{odd}: not a JSON or JSONL trace" in err


def test_a_newer_schema_version_says_to_upgrade(tmp_path: Path, capsys: Any) -> None:
    doc = _golden(tmp_path)
    doc["schema_version"] = 3
    (tmp_path / "new.json").write_text(json.dumps(doc))
    code, _, err = cli(capsys, "diff", tmp_path / "new.json", GOLDEN_V1)
    assert code == 1 and one_line(err) and "schema_version 3 is newer" in err


@pytest.mark.parametrize("depth", [1_000, 200_000])
def test_deeply_nested_json_is_a_bad_file(tmp_path: Path, capsys: Any, depth: int) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * depth + "]" * depth)
    code, out, err = cli(capsys, "diff", GOLDEN_V1, deep)
    assert code == 1 and out == "" and one_line(err)
    # how deep Python's json reader goes depends on the stack it is called from: either it
    # gives up (not JSON) or it reads a list (not a trace); both are one line naming the file
    assert f"{deep}: not a JSON or JSONL trace" in err or f"{deep}: not an lstm-trace trace" in err
    # in a stream too: a good header, then a line nested too deeply
    header = save(capsys, tmp_path / "t.jsonl", "-f", "jsonl").read_text().splitlines()[0]
    stream = tmp_path / "deep.jsonl"
    stream.write_text(header + "\n" + '{"a":' * depth + "1" + "}" * depth + "\n")
    code, out, err = cli(capsys, "diff", stream, GOLDEN_V1)
    assert code == 1 and out == "" and one_line(err) and f"{stream}: not a JSON" in err


@pytest.mark.parametrize(
    "text",
    [
        "[models.m]\nhidden = 4\nexpect = { output = " + "[" * 100_000 + "]" * 100_000 + " }\n",
        "[models.m]\nhidden = 4\nexpect = " + "{ a = " * 5_000 + "1" + " }" * 5_000 + "\n",
    ],
    ids=["arrays", "inline tables"],
)
def test_deeply_nested_toml_is_a_bad_spec(tmp_path: Path, capsys: Any, text: str) -> None:
    (tmp_path / "deep.toml").write_text(text)
    code, out, err = cli(capsys, "check", tmp_path / "deep.toml")
    assert code == 2 and out == "" and one_line(err)
    assert f"{tmp_path / 'deep.toml'}: not a spec: arrays or tables nested too deeply" in err


def test_a_good_spec_looks_no_line_up(tmp_path: Path, monkeypatch: Any) -> None:
    # each lookup scans the text: one per key made check quadratic in the number of models
    from lstm_trace.ci import spec

    calls: list[str] = []
    real = spec._line
    monkeypatch.setattr(spec, "_line", lambda text, table, key: calls.append(key) or "?")
    models = "".join(
        f'[models.m{i}]\nhidden = {i + 1}\n[models.m{i}.expect]\noutput = "3,{i + 1}"\n'
        for i in range(50)
    )
    (tmp_path / "s.toml").write_text(models)
    assert len(spec.load_spec(tmp_path / "s.toml")) == 50 and calls == []
    monkeypatch.setattr(spec, "_line", real)  # an error still names its line
    (tmp_path / "s.toml").write_text(
        models + "[models.bad]\nhidden = 0\nexpect = { finite = true }\n"
    )
    with pytest.raises(spec.SpecError, match=r"s\.toml:202: models\.bad: "):
        spec.load_spec(tmp_path / "s.toml")
