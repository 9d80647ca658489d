"""Files and inputs that once gave wrong numbers or a traceback (found by review)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace import LSTMConfig, init_weights
from lstm_trace.cli import main
from lstm_trace.formats.keras_h5 import keras_names
from lstm_trace.formats.reading import read_weights

from .conftest import FIXTURES, run_cli


def two_keras_layers() -> dict[str, np.ndarray]:
    cfg = LSTMConfig(input_size=3, hidden_size=4, num_layers=2)
    from lstm_trace.frameworks import to_keras

    layers = to_keras(init_weights(cfg))
    named = {}
    for prefix, layer in (("encoder", layers[0]), ("decoder", layers[1])):  # not alphabetical
        for field, value in layer[0].items():
            named[f"{prefix}/lstm_cell/{field}"] = value
    return named


def test_keras_names_keep_the_npz_order(tmp_path: Path) -> None:
    np.savez(tmp_path / "k.npz", **two_keras_layers())
    arch = read_weights(tmp_path / "k.npz").architecture
    assert (arch.input_size, arch.num_layers) == (3, 2)  # encoder first, as saved


def test_keras_names_without_an_order_are_refused(tmp_path: Path, capsys: Any) -> None:
    pytest.importorskip("safetensors")
    from safetensors.numpy import save_file

    save_file(
        {k: np.ascontiguousarray(v) for k, v in two_keras_layers().items()},
        str(tmp_path / "k.safetensors"),
    )
    code, _, err = run_cli(capsys, "--weights", tmp_path / "k.safetensors")
    assert code == 1 and "order is not recorded" in err
    named = keras_names(
        __import__("lstm_trace.frameworks").frameworks.to_keras(
            init_weights(LSTMConfig(num_layers=2))
        )
    )
    save_file(
        {k: np.ascontiguousarray(v) for k, v in named.items()}, str(tmp_path / "auto.safetensors")
    )
    assert read_weights(tmp_path / "auto.safetensors").architecture.num_layers == 2  # lstm, lstm_1


def keras_with(tmp_path: Path, edit: Any) -> Path:
    """The bi_stack2 fixture with its config.json edited."""
    source = FIXTURES / "keras_bi_stack2.keras"
    target = tmp_path / "edited.keras"
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.namelist():
            data = zin.read(item)
            if item == "config.json":
                config = json.loads(data)
                edit(config["config"]["layers"])
                data = json.dumps(config).encode()
            zout.writestr(item, data)
    return target


def test_keras_layers_between_lstms_part_them_and_after_them_are_noted(
    tmp_path: Path, capsys: Any
) -> None:
    dense = {"class_name": "Dense", "config": {"name": "dense", "units": 6}}
    between = keras_with(tmp_path, lambda layers: layers.insert(2, dense))
    code, _, err = run_cli(capsys, "--weights", between)
    assert code == 2 and "holds 2 recurrent modules: bidirectional" in err
    after = keras_with(tmp_path, lambda layers: layers.append(dense))
    code, _, err = run_cli(capsys, "--weights", after, "--json")
    assert code == 0
    assert "traced bidirectional+bidirectional_1; not traced: dense" in err


def test_weights_h5_says_what_it_assumes(capsys: Any) -> None:
    code, _, err = run_cli(capsys, "--weights", FIXTURES / "keras_uni.weights.h5", "--json")
    assert code == 0 and "go_backwards=False" in err and "merge_mode='concat'" in err


def test_keras_names_missing_a_kernel(tmp_path: Path, capsys: Any) -> None:
    np.savez(
        tmp_path / "k.npz", **{"lstm/recurrent_kernel": np.ones((7, 28)), "lstm/bias": np.ones(28)}
    )
    code, _, err = run_cli(capsys, "--weights", tmp_path / "k.npz")
    assert code == 1 and "no kernel" in err and err.count("\n") == 1


def test_a_bad_value_from_a_file_blames_the_file(tmp_path: Path, capsys: Any) -> None:
    np.savez(
        tmp_path / "w.npz",
        weight_ih_l0=np.zeros((0, 32)),
        weight_hh_l0=np.zeros((0, 0)),
        bias_ih_l0=np.zeros(0),
        bias_hh_l0=np.zeros(0),
    )
    code, _, err = run_cli(capsys, "--weights", tmp_path / "w.npz")
    assert code == 1 and str(tmp_path / "w.npz") in err and "--hidden" not in err


def test_an_unforeseen_failure_is_one_line(capsys: Any, monkeypatch: Any) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("something\nunexpected")

    monkeypatch.setattr("lstm_trace.cli.output.trace", boom)  # the trace the CLI runs
    code, out, err = run_cli(capsys, "--json")
    assert code == 70 and out == ""
    assert err.startswith("lstm-trace: internal error: RuntimeError: something unexpected")
    assert err.count("\n") == 1


@pytest.mark.parametrize("value", ["²", "1" * 5000, "٣"])
def test_odd_digits_in_expect_and_gate(capsys: Any, value: str) -> None:
    code, _, err = run_cli(capsys, "--expect", f"output={value}")
    assert code == 2 and err.count("\n") == 1
    code, _, err = run_cli(capsys, "--format", "heatmap", "--gate", f"forget_gate@{value}")
    assert code == 2 and err.count("\n") == 1


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[models.m]\nseq-len = 5\nexpect = { output = "5,70" }\n', None),
        (
            '[models.m]\nbidirectional = true\ndirection = "uni"\nexpect = { output = "3,70" }\n',
            "direction and bidirectional disagree",
        ),
        (
            '[models.m]\nhidden = -5\nexpect = { output = "3,70" }\n',
            "shapes.toml:2: models.m: hidden units",
        ),
        ('[models.m]\ndtype = "float16"\nexpect = { output = "3,70" }\n', "shapes.toml:2"),
        ("[models.m]\nexpect = { output = [] }\n", "an empty shape"),
        ('\ufeff[models.m]\nexpect = { output = "3,70" }\n', None),
    ],
)
def test_spec_files(tmp_path: Path, capsys: Any, text: str, words: str | None) -> None:
    (tmp_path / "shapes.toml").write_text(text, encoding="utf-8")
    code, _, err = run_cli(capsys, "check", tmp_path / "shapes.toml")
    if words is None:
        assert code == 0, err
    else:
        assert code == 2 and words in err


def test_diff_refuses_a_cut_stream(tmp_path: Path, capsys: Any) -> None:
    assert main(["--format", "jsonl"]) == 0
    lines = capsys.readouterr().out.splitlines()
    (tmp_path / "cut.jsonl").write_text("\n".join(lines[:5]) + "\n")
    code, _, err = run_cli(capsys, "diff", tmp_path / "cut.jsonl", tmp_path / "cut.jsonl")
    assert code == 1 and "cut short" in err
    (tmp_path / "odd.json").write_text('{"schema_version": 1, "config": []}')
    code, _, err = run_cli(capsys, "diff", tmp_path / "odd.json", tmp_path / "odd.json")
    assert code == 1 and err.count("\n") == 1


def test_jsonl_writes_pictures_and_refuses_exports(tmp_path: Path, capsys: Any) -> None:
    code, _, _err = run_cli(capsys, "--format", "jsonl", "--svg", tmp_path / "c.svg")
    assert code == 0 and "<svg" in (tmp_path / "c.svg").read_text()
    code, out, _ = run_cli(capsys, "--format", "jsonl", "--export-svg", tmp_path / "e.svg")
    assert code == 2 and out == "" and not (tmp_path / "e.svg").exists()
    code, _, _ = run_cli(
        capsys, "explain", "--format", "markdown", "--export-svg", tmp_path / "x.svg"
    )
    assert code == 2


def test_junit_without_control_characters(tmp_path: Path, capsys: Any) -> None:
    import xml.etree.ElementTree as ET

    (tmp_path / "s.toml").write_text('[models."a\\u0001b"]\nexpect = { output = "3,99" }\n')
    code, _, _ = run_cli(capsys, "check", tmp_path / "s.toml", "--junit", tmp_path / "j.xml")
    assert code == 1
    ET.parse(tmp_path / "j.xml")  # parses
