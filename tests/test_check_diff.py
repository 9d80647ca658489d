"""`lstm-trace check` spec files and JUnit XML; `lstm-trace diff` of saved traces."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from lstm_trace.cli import main

from .conftest import run_cli as cli

GOOD = """
[models.walkthrough]
input = 32
hidden = 70
seq_len = 10
direction = "bi"
[models.walkthrough.expect]
output = "10,140"
W_f = "70,102"
"params.keras" = 57680

[models.drifted]
hidden = 70
expect = { output = "3,140", "params.pytorch" = 29120 }
"""


def spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "shapes.toml"
    path.write_text(text)
    return path


def test_check_table_junit_and_exit_status(tmp_path: Path, capsys: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    junit = tmp_path / "report.xml"
    code, out, err = cli(capsys, "check", spec(tmp_path, GOOD), "--junit", junit)
    assert code == 1
    rows = [
        line.split()
        for line in out.splitlines()
        if line.strip().startswith(("walkthrough ", "drifted "))  # the table, not the notes
    ]
    assert [r[-1] for r in rows] == ["pass", "pass", "pass", "FAIL", "pass"]
    assert "drifted: expected output (3, 140), got (3, 70)" in out
    assert "1 of 2 models passed" in err
    root = ET.parse(junit).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "1", "0")
    cases = root.findall(".//testcase")
    assert len(cases) == 5 and sum(1 for c in cases if c.find("failure") is not None) == 1
    failure = root.find(".//testcase[@classname='lstm-trace.drifted']/failure")
    assert failure is not None and failure.get("message") == "expected output (3, 140), got (3, 70)"


def test_check_passes_and_json(tmp_path: Path, capsys: Any) -> None:
    path = spec(tmp_path, GOOD.split("[models.drifted]")[0])
    code, out, _ = cli(capsys, "check", path, "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["passed"] is True
    assert [e["name"] for e in doc["models"][0]["expectations"]] == [
        "output",
        "W_f",
        "params.keras",
    ]


def test_model_that_cannot_run_is_an_error_not_a_crash(tmp_path: Path, capsys: Any) -> None:
    path = spec(tmp_path, '[models.m]\nweights = "missing.pt"\nexpect = { output = "3,70" }\n')
    code, out, _ = cli(capsys, "check", path, "--junit", tmp_path / "j.xml")
    assert code == 1 and "no such file" in out and "ERROR" in out
    root = ET.parse(tmp_path / "j.xml").getroot()
    assert root.get("errors") == "1" and root.find(".//error") is not None


def test_weights_in_a_spec_are_relative_to_it(tmp_path: Path, capsys: Any) -> None:
    assert (
        main(
            ["--hidden", "16", "--input", "8", "--save-weights", str(tmp_path / "w.npz"), "--json"]
        )
        == 0
    )
    capsys.readouterr()
    path = spec(
        tmp_path, '[models.m]\nweights = "w.npz"\nseq_len = 5\n[models.m.expect]\noutput = "5,16"\n'
    )
    code, _, err = cli(capsys, "check", path)
    assert code == 0, err


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            '[models.m]\nhiden = 70\nexpect = { output = "3,70" }\n',
            "shapes.toml:2: models.m.hiden: unknown key",
        ),
        (
            '[models.m]\nhidden = "70"\nexpect = { output = "3,70" }\n',
            "shapes.toml:2: models.m.hidden: expected a whole number, got '70'",
        ),
        (
            '[models.m]\nhidden = 70\n\n[models.m.expect]\noutput = "3,x"\n',
            "shapes.toml:5: models.m.expect: --expect output: 'x' is not",
        ),
        (
            '[models.m]\ndirection = "sideways"\nexpect = { output = "3,70" }\n',
            "shapes.toml:2: models.m.direction",
        ),
        ('[models.m]\nbidirectional = 1\nexpect = { output = "3,70" }\n', "expected true or false"),
        ("[models.m]\nhidden = 70\n", "models.m has no expectations"),
        ("title = 'x'\n", "shapes.toml:1: unknown key 'title'"),
        ("[models.m\n", "not valid TOML"),
        ("", "no models"),
    ],
)
def test_bad_specs_name_file_line_and_key(
    tmp_path: Path, capsys: Any, text: str, words: str
) -> None:
    code, out, err = cli(capsys, "check", spec(tmp_path, text))
    assert code == 2 and out == ""
    assert words in err and err.count("\n") == 1


def test_diff_equal_and_changed(tmp_path: Path, capsys: Any) -> None:
    def save(name: str, *args: str) -> Path:
        assert main([*args, "--json"]) == 0
        path = tmp_path / name
        path.write_text(capsys.readouterr().out)
        return path

    a = save("a.json", "--bidirectional")
    same = save("same.json", "--bidirectional")
    code, out, err = cli(capsys, "diff", a, same)
    assert code == 0 and out == "" and "no differences" in err
    b = save("b.json", "--hidden", "64")
    code, out, _ = cli(capsys, "diff", a, b)
    assert code == 1
    lines = out.splitlines()
    assert "config.hidden_size: 70 -> 64" in lines and 'config.direction: "bi" -> "uni"' in lines
    assert "outputs.output: (3, 140) -> (3, 64)" in lines
    assert "param_count.keras: 57680 -> 24832" in lines
    assert "parameter W_f layer 0 backward: only in the first" in lines


def test_diff_values_with_tolerance(tmp_path: Path, capsys: Any) -> None:
    paths = []
    for seed in ("0", "1"):
        assert main(["--seed", seed, "--json"]) == 0
        paths.append(tmp_path / f"{seed}.json")
        paths[-1].write_text(capsys.readouterr().out)
    code, out, _ = cli(capsys, "diff", *paths)
    lines = out.splitlines()  # shapes agree; the seed and so the weights differ
    assert code == 1 and lines[0] == "config.seed: 0 -> 1" and len(lines) == 2
    assert lines[1].startswith("weights: sha256:") and lines[1].endswith("(seeded, seed 1)")
    code, out, _ = cli(capsys, "diff", *paths, "--values", "--atol", "0.001")
    assert code == 1 and "tensor forget_gate layer 0 forward step 0: sample[0]" in out
    code, out, _ = cli(capsys, "diff", paths[0], paths[0], "--values")
    assert code == 0


def test_diff_reads_jsonl_and_refuses_other_files(tmp_path: Path, capsys: Any) -> None:
    assert main(["--format", "jsonl"]) == 0
    (tmp_path / "t.jsonl").write_text(capsys.readouterr().out)
    assert main(["--json"]) == 0
    (tmp_path / "t.json").write_text(capsys.readouterr().out)
    code, _, _ = cli(capsys, "diff", tmp_path / "t.json", tmp_path / "t.jsonl", "--values")
    assert code == 0
    (tmp_path / "x.json").write_text('{"a": NaN}')
    code, _, err = cli(capsys, "diff", tmp_path / "t.json", tmp_path / "x.json")
    assert code == 1 and "not a JSON or JSONL trace" in err
    (tmp_path / "y.json").write_text("[1, 2]")
    code, _, err = cli(capsys, "diff", tmp_path / "t.json", tmp_path / "y.json")
    assert code == 1 and "not an lstm-trace trace" in err
