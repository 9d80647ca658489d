"""Weights, inputs and results on disk: every loader against framework-made fixtures."""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace import LSTMConfig, init_weights
from lstm_trace.cli import main
from lstm_trace.cli.resolve import resolve
from lstm_trace.errors import FileError
from lstm_trace.formats.reading import read_weights
from lstm_trace.formats.writing import write_weights

from .conftest import FIXTURES, load_torch_fixture, run_cli

KERAS_CASES = ["uni", "bi", "bi_stack2"]


def keras_expected(case: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / f"keras_{case}_expected.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def pytorch_weights_only(fixture: Path, tmp_path: Path) -> Path:
    """The state_dict part of a torch fixture, as a user would save it."""
    _, _, arrays = load_torch_fixture(fixture)
    path = tmp_path / "weights.npz"
    np.savez(path, **{k: v for k, v in arrays.items() if k.startswith(("weight_", "bias_"))})
    return path


@pytest.mark.parametrize("case", KERAS_CASES)
@pytest.mark.parametrize("suffix", [".weights.h5", ".keras"])
def test_keras_files_reproduce_keras(case: str, suffix: str, tmp_path: Path, capsys: Any) -> None:
    """Keras 3 made these files and their outputs (tests/fixtures/make_keras_fixtures.py)."""
    expected = keras_expected(case)
    np.save(tmp_path / "x.npy", expected["x"])
    dump = tmp_path / "out.npz"
    code, _, err = run_cli(
        capsys,
        "--weights",
        FIXTURES / f"keras_{case}{suffix}",
        "--x",
        tmp_path / "x.npy",
        "--dump",
        dump,
        "--json",
    )
    assert code == 0, err
    with np.load(dump) as got:
        np.testing.assert_allclose(got["output"], expected["output"], rtol=0, atol=1e-5)
        if "h_n" in expected:
            np.testing.assert_allclose(got["h_n"], expected["h_n"], rtol=0, atol=1e-5)
            np.testing.assert_allclose(got["c_n"], expected["c_n"], rtol=0, atol=1e-5)


def test_keras_archive_config_gives_facts() -> None:
    wf = read_weights(FIXTURES / "keras_bi.keras")
    assert wf.framework == "keras" and wf.architecture.direction == "bi"
    assert wf.keras_config == {
        "return_sequences": True,
        "return_state": False,
        "units": 5,
        "seq_len": 4,
    }


def test_keras_names_in_npz(tmp_path: Path) -> None:
    """The variable paths Keras itself reports, saved to .npz, load as the .h5 does."""
    expected = keras_expected("bi_stack2")
    path = tmp_path / "keras.npz"
    np.savez(path, **{k: v for k, v in expected.items() if k.endswith(("kernel", "bias"))})
    from_npz = read_weights(path)
    from_h5 = read_weights(FIXTURES / "keras_bi_stack2.weights.h5")
    assert from_npz.architecture == from_h5.architecture
    cfg = LSTMConfig(**from_npz.architecture.as_options())  # type: ignore[arg-type]
    for (_, _, a), (_, _, b) in zip(from_npz.build(cfg), from_h5.build(cfg), strict=True):
        np.testing.assert_array_equal(a.w_ih, b.w_ih)
        np.testing.assert_array_equal(a.b_ih, b.b_ih)


def test_keras_layers_with_different_units_are_two_modules(capsys: Any) -> None:
    """LSTM(5) then LSTM(2) do not stack as one nn.LSTM would: each is a module of its own,
    and which one to trace is the user's choice."""
    code, _, err = run_cli(capsys, "--weights", FIXTURES / "keras_stack2.keras")
    assert code == 2 and "holds 2 recurrent modules: lstm (lstm), lstm_1 (lstm)" in err
    wf = read_weights(FIXTURES / "keras_stack2.keras", module="lstm_1")
    assert (wf.architecture.input_size, wf.architecture.hidden_size) == (5, 2)


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("torch_*.npz")), ids=lambda p: p.stem)
def test_pytorch_npz_with_x_and_states_reproduces_torch(
    fixture: Path, tmp_path: Path, capsys: Any
) -> None:
    cfg, _, arrays = load_torch_fixture(fixture)
    weights = pytorch_weights_only(fixture, tmp_path)
    args: list[Any] = [
        "--weights",
        weights,
        "--x",
        tmp_path / "x.npy",
        "--dump",
        tmp_path / "o.npz",
    ]
    np.save(tmp_path / "x.npy", arrays["x"])
    for state in ("h0", "c0"):
        if state in arrays:
            np.save(tmp_path / f"{state}.npy", arrays[state])
            args += [f"--{state}", tmp_path / f"{state}.npy"]
    code, out, err = run_cli(capsys, *args, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["config"]["hidden_size"] == cfg.hidden_size and doc["config"]["dtype"] == cfg.dtype
    assert doc["config"]["proj_size"] == cfg.proj_size and doc["config"]["batch"] == cfg.batch
    tol = 1e-5 if cfg.dtype == "float32" else 1e-10
    with np.load(tmp_path / "o.npz") as got:
        for name in ("output", "h_n", "c_n"):
            np.testing.assert_allclose(got[name], arrays[name], rtol=0, atol=tol)


def test_seq_first_input_and_output(tmp_path: Path, capsys: Any) -> None:
    fixture = FIXTURES / "torch_bi2_batched_f64.npz"
    _, _, arrays = load_torch_fixture(fixture)
    weights = pytorch_weights_only(fixture, tmp_path)
    np.save(tmp_path / "x.npy", arrays["x"].transpose(1, 0, 2))  # (T, B, I)
    np.save(tmp_path / "h0.npy", arrays["h0"])
    np.save(tmp_path / "c0.npy", arrays["c0"])
    code, _, err = run_cli(
        capsys,
        "-w",
        weights,
        "--x",
        tmp_path / "x.npy",
        "--seq-first",
        "--h0",
        tmp_path / "h0.npy",
        "--c0",
        tmp_path / "c0.npy",
        "--dump",
        tmp_path / "o.npz",
        "--json",
    )
    assert code == 0, err
    with np.load(tmp_path / "o.npz") as got:
        np.testing.assert_allclose(got["output"], arrays["output"].transpose(1, 0, 2), atol=1e-10)
        np.testing.assert_allclose(got["h_n"], arrays["h_n"], atol=1e-10)  # never batch-first


def test_dump_all_holds_every_traced_tensor(tmp_path: Path, capsys: Any) -> None:
    code, _, _ = run_cli(
        capsys, "-T", "3", "--bidirectional", "--dump", tmp_path / "d.npz", "--dump-all", "--json"
    )
    assert code == 0
    with np.load(tmp_path / "d.npz") as got:
        tensors = [k for k in got.files if k not in ("output", "h_n", "c_n")]
        assert len(tensors) == 10 * 3 * 2
        assert got["forget_gate.layer0.backward.step2"].shape == (70,)
        np.testing.assert_array_equal(
            got["hidden_state.layer0.forward.step2"], got["output"][2, :70]
        )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--hidden", "7"], "--hidden 7 contradicts"),
        (["--layers", "1"], "whose number of layers is 2"),
        (["--direction", "uni"], "--direction uni contradicts"),
        (["--input", "5"], "whose input size is 6"),
    ],
)
def test_options_that_contradict_the_weights(
    tmp_path: Path, capsys: Any, args: list[str], words: str
) -> None:
    weights = pytorch_weights_only(FIXTURES / "torch_bi2_batched_f64.npz", tmp_path)
    code, out, err = run_cli(capsys, "--weights", weights, *args)
    assert code == 2 and out == "" and words in err and err.count("\n") == 1


def test_x_that_contradicts_options(tmp_path: Path, capsys: Any) -> None:
    np.save(tmp_path / "x.npy", np.zeros((2, 5, 16), dtype=np.float32))
    code, _, err = run_cli(capsys, "--x", tmp_path / "x.npy", "--input", "32")
    assert code == 2 and "--input 32 contradicts" in err and "whose input size is 16" in err
    # weights and x that disagree are a file of the wrong shape: exit status 1
    weights = tmp_path / "w.npz"
    assert run_cli(capsys, "--save-weights", weights)[0] == 0  # input size 32
    code, _, err = run_cli(capsys, "--x", tmp_path / "x.npy", "--weights", weights)
    assert code == 1 and "has 16 features per step, but the LSTM reads 32" in err
    code, _, err = run_cli(capsys, "--x", tmp_path / "x.npy", "--seq-len", "4")
    assert code == 2 and "--seq-len 4 contradicts" in err
    code, out, _ = run_cli(capsys, "--x", tmp_path / "x.npy", "--json")
    doc = json.loads(out)
    assert (doc["config"]["seq_len"], doc["config"]["batch"], doc["config"]["input_size"]) == (
        5,
        2,
        16,
    )


def write_bad(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: p / "missing.npz", "no such file"),
        (lambda p: write_bad(p, "text.npz", b"not a zip"), "not a NumPy file"),
        (lambda p: write_bad(p, "w.safetensors", b"\x00\x01"), "not a readable .safetensors"),
        (lambda p: write_bad(p, "w.weights.h5", b"garbage"), "not a readable Keras file"),
        (lambda p: write_bad(p, "w.keras", b"PK\x03\x04trunc"), "not a readable Keras file"),
        (lambda p: write_bad(p, "w.onnx", b""), "not an ONNX model with a graph of nodes"),
        (lambda p: p, "is a directory"),
    ],
)
def test_bad_weight_files(tmp_path: Path, capsys: Any, make: Any, words: str) -> None:
    code, out, err = run_cli(capsys, "--weights", make(tmp_path))
    assert code == 1 and out == "" and words in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_truncated_npz_is_refused(tmp_path: Path, capsys: Any) -> None:
    good = pytorch_weights_only(FIXTURES / "torch_uni_f32.npz", tmp_path)
    cut = write_bad(tmp_path, "cut.npz", good.read_bytes()[: good.stat().st_size // 2])
    code, _, err = run_cli(capsys, "--weights", cut)
    assert code == 1 and "not a readable .npz" in err


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"hello, not numpy at all", "not a NumPy file (an .npz is a zip archive"),
        (bytes(range(256)) * 2, "not a NumPy file (an .npz is a zip archive"),
        (pickle.dumps({"weight_ih_l0": 1}, protocol=4), "unpickling, which lstm-trace never does"),
    ],
)
def test_files_that_are_not_numpy_say_what_they_are(
    tmp_path: Path, capsys: Any, content: bytes, words: str
) -> None:
    code, _, err = run_cli(capsys, "--weights", write_bad(tmp_path, "w.npz", content))
    assert code == 1 and words in err and err.count("\n") == 1


def test_pickled_object_array_is_never_loaded(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "evil.npz"
    np.savez(path, weight_ih_l0=np.array([object()], dtype=object))
    code, _, err = run_cli(capsys, "--weights", path)
    assert code == 1 and "unpickling, which lstm-trace never does" in err


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda sd: sd.pop("bias_hh_l0"), "missing bias_hh_l0"),
        (lambda sd: sd.update(extra=np.zeros(3)), "unexpected tensor 'extra'"),
        (
            lambda sd: sd.update(weight_hh_l0=np.zeros((280, 69))),
            "weight_hh_l0: expected shape (280, 70), got (280, 69)",
        ),
        (
            lambda sd: sd.update(weight_ih_l0=np.zeros((281, 32))),
            "weight_ih_l0: expected shape (280, input), as weight_hh_l0's 280 rows, got (281, 32)",
        ),
    ],
)
def test_state_dicts_with_wrong_tensors(tmp_path: Path, capsys: Any, edit: Any, words: str) -> None:
    sd = init_weights(LSTMConfig()).to_pytorch()
    edit(sd)
    np.savez(tmp_path / "w.npz", **sd)
    code, _, err = run_cli(capsys, "--weights", tmp_path / "w.npz")
    assert code == 1 and words in err


def test_keras_names_with_wrong_shape(tmp_path: Path, capsys: Any) -> None:
    expected = keras_expected("bi")
    arrays = {k: v for k, v in expected.items() if k.endswith(("kernel", "bias"))}
    key = next(k for k in arrays if "backward" in k and k.endswith("/bias"))
    arrays[key] = np.zeros(7, dtype=np.float32)
    np.savez(tmp_path / "k.npz", **arrays)
    code, _, err = run_cli(capsys, "--weights", tmp_path / "k.npz")
    assert code == 1 and "layer 0 backward bias: expected shape (20,), got (7,)" in err


@pytest.mark.parametrize(
    ("name", "array", "words"),
    [
        ("x", np.zeros((2, 3, 4, 5)), "x must be (T, features)"),
        ("x", np.zeros((0, 32)), "empty dimension"),
        ("h0", np.zeros((2, 70)), "h0 must have shape (1, 70)"),
        ("c0", np.zeros((1, 69)), "c0 must have shape (1, 70)"),
    ],
)
def test_bad_input_arrays(
    tmp_path: Path, capsys: Any, name: str, array: np.ndarray, words: str
) -> None:
    np.save(tmp_path / "a.npy", array)
    code, _, err = run_cli(capsys, f"--{name}", tmp_path / "a.npy")
    assert code == 1 and words in err


def test_npz_given_as_input_array(tmp_path: Path, capsys: Any) -> None:
    np.savez(tmp_path / "x.npz", x=np.zeros((3, 32)))
    code, _, err = run_cli(capsys, "--x", tmp_path / "x.npz")
    assert code == 1 and "must be a single .npy array" in err


def test_failed_write_leaves_no_file(tmp_path: Path, capsys: Any) -> None:
    code, _, err = run_cli(capsys, "--dump", tmp_path / "nowhere" / "d.npz")
    assert code == 1 and "does not exist" in err
    cfg = LSTMConfig(proj_size=5)
    with pytest.raises(FileError, match="projection"):
        write_weights(tmp_path / "k.weights.h5", init_weights(cfg), "keras")
    assert list(tmp_path.iterdir()) == []  # no partial or temporary file left behind


def test_save_weights_and_load_them_back(tmp_path: Path, capsys: Any) -> None:
    for name in ("w.npz", "w.safetensors", "w.weights.h5"):
        code, _, err = run_cli(
            capsys, "--seed", "5", "-L", "2", "--save-weights", tmp_path / name, "--json"
        )
        assert code == 0 and f"wrote {tmp_path / name}" in err
        run = resolve({}, tmp_path / name)
        assert run.config.num_layers == 2 and run.weights is not None
    seeded = init_weights(LSTMConfig(num_layers=2, seed=5))
    loaded = resolve({}, tmp_path / "w.safetensors").weights
    assert loaded is not None
    np.testing.assert_array_equal(loaded.layers[1][0].w_hh, seeded.layers[1][0].w_hh)


def test_missing_optional_library_is_one_line(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.setitem(sys.modules, "h5py", None)  # makes `import h5py` fail
    code, _, err = run_cli(capsys, "--weights", FIXTURES / "keras_uni.weights.h5")
    assert code == 1 and "pip install 'lstm-trace[keras]'" in err


def test_written_files_get_the_usual_permissions(tmp_path: Path, capsys: Any) -> None:
    import os

    old = os.umask(0o022)
    try:
        assert (
            main(
                [
                    "--dump",
                    str(tmp_path / "d.npz"),
                    "--save-weights",
                    str(tmp_path / "w.npz"),
                    "--json",
                ]
            )
            == 0
        )
    finally:
        os.umask(old)
    for name in ("d.npz", "w.npz"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0600
    (tmp_path / "keep.npz").write_bytes(b"")
    (tmp_path / "keep.npz").chmod(0o640)
    assert main(["--dump", str(tmp_path / "keep.npz"), "--json"]) == 0
    assert (tmp_path / "keep.npz").stat().st_mode & 0o777 == 0o640  # an overwrite keeps its mode


@pytest.mark.parametrize(
    ("args", "status", "words"),
    [
        (["--save-weights", "w.keras"], 2, "cannot write pytorch weights as .keras"),
        (["--svg", "nowhere/cell.svg"], 1, "does not exist"),
        (["--export-html", "nowhere/t.html"], 1, "does not exist"),
        (["--dump", "."], 1, "is a directory"),
    ],
)
def test_unwritable_outputs_are_refused_before_any_output(
    tmp_path: Path, capsys: Any, monkeypatch: Any, args: list[str], status: int, words: str
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, *args)
    assert code == status and out == "" and words in err


def test_options_that_would_be_ignored_are_refused(tmp_path: Path, capsys: Any) -> None:
    code, _, err = run_cli(capsys, "--gate", "input_gate")
    assert code == 2 and "--format heatmap" in err
    code, _, err = run_cli(capsys, "--seq-first")
    assert code == 2 and "needs --x" in err


def test_convert_infers_the_framework_from_the_kind(tmp_path: Path, capsys: Any) -> None:
    np.savez(
        tmp_path / "w.npz", **init_weights(LSTMConfig(hidden_size=4, input_size=3)).to_pytorch()
    )
    code, _, err = run_cli(capsys, "convert", tmp_path / "w.npz", tmp_path / "k.weights.h5")
    assert code == 0 and "keras weights" in err
    code, _, err = run_cli(capsys, "convert", tmp_path / "k.weights.h5", tmp_path / "again.npz")
    assert (
        code == 2 and "--to pytorch or --to keras" in err and not (tmp_path / "again.npz").exists()
    )


def test_convert_names_a_missing_source_first(tmp_path: Path, capsys: Any) -> None:
    code, _, err = run_cli(capsys, "convert", tmp_path / "nope.npz", tmp_path / "out.npz")
    assert code == 1 and err.strip().endswith("nope.npz: no such file")
    assert not (tmp_path / "out.npz").exists()


def test_a_weights_suffix_of_the_wrong_kind_lists_each_frameworks_kinds(
    tmp_path: Path, capsys: Any
) -> None:
    code, _, err = run_cli(capsys, "--save-weights", tmp_path / "w.txt")
    assert code == 2  # a usage error: the name, not the file, is wrong
    assert (
        "use .npz, .safetensors, .pt, .pth (keras: .npz, .safetensors, .weights.h5; onnx: .onnx)"
        in err
    )


@pytest.mark.parametrize(
    ("name", "module", "extra"),
    [
        ("w.pt", "torch", "torch"),
        ("w.pth", "torch", "torch"),
        ("w.safetensors", "safetensors.numpy", "safetensors"),
        ("w.weights.h5", "h5py", "keras"),
    ],
)
def test_missing_writer_library_is_said_before_the_trace(
    name: str, module: str, extra: str, tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes the import fail
    code, out, err = run_cli(capsys, "--save-weights", tmp_path / name, "--json")
    assert code == 1 and f"pip install 'lstm-trace[{extra}]'" in err
    assert out == "" and not (tmp_path / name).exists()  # refused before any work


def test_convert_says_a_missing_writer_library_before_reading_the_source(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    damaged = tmp_path / "w.npz"
    damaged.write_bytes(b"PK\x03\x04 not really a zip")  # reading it would fail differently
    monkeypatch.setitem(sys.modules, "torch", None)  # makes the import fail
    code, _, err = run_cli(capsys, "convert", damaged, tmp_path / "out.pt")
    assert code == 1 and "pip install 'lstm-trace[torch]'" in err
    assert not (tmp_path / "out.pt").exists()
