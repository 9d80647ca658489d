"""Layers without biases (PyTorch bias=False, Keras use_bias=False), known as such everywhere.

Counts are checked against the frameworks' own (committed fixtures made by them, and live when
torch or Keras is installed); files saved and converted load back into the same kind of layer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace import LSTMConfig, trace
from lstm_trace.cell import forward
from lstm_trace.cli.resolve import resolve
from lstm_trace.errors import ConfigError
from lstm_trace.formats.reading import read_weights
from lstm_trace.frameworks import to_keras, weights_from_pytorch
from lstm_trace.locations import frameworks_dict, tensor_counts, weight_locations
from lstm_trace.trace import parameters
from lstm_trace.walkthrough import walkthrough
from lstm_trace.weights import (
    DirectionWeights,
    LSTMWeights,
    init_input,
    init_weights,
    param_count,
)

from .conftest import FIXTURES, load_torch_fixture, run_cli, tolerance

TORCH_FIXTURES = sorted(FIXTURES.glob("nobias_torch_*.npz"))
KERAS_CASES = ["nobias", "nobias_bi_stack2"]
BIAS_NAMES = {"b_f", "b_i", "b_c", "b_o"}


def keras_expected(case: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / f"keras_{case}_expected.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def state_only(arrays: dict[str, np.ndarray], path: Path) -> Path:
    """The state_dict part of a torch fixture, as a user would save it."""
    np.savez(path, **{k: v for k, v in arrays.items() if k.startswith(("weight_", "bias_"))})
    return path


# --- counts -----------------------------------------------------------------------------------


def test_counts_without_biases_are_each_frameworks() -> None:
    walkthrough = param_count(LSTMConfig(bias=False))
    assert (walkthrough.pytorch, walkthrough.keras) == (28_560, 28_560)  # 4 * 70 * (32 + 70)
    assert param_count(LSTMConfig()).pytorch == 29_120  # with biases, unchanged
    # the issue's small layer: 8 inputs, 12 units
    small = LSTMConfig(input_size=8, hidden_size=12)
    assert param_count(small).keras == 1_008 and param_count(small).pytorch == 1_056
    free = LSTMConfig(input_size=8, hidden_size=12, bias=False)
    assert (param_count(free).keras, param_count(free).pytorch) == (960, 960)
    bi2 = LSTMConfig(bias=False, bidirectional=True, num_layers=2)
    assert param_count(bi2).pytorch == 2 * 28_560 + 2 * 4 * 70 * (140 + 70)


@pytest.mark.parametrize("fixture", TORCH_FIXTURES, ids=lambda p: p.stem)
def test_counts_and_outputs_match_torch_fixtures(fixture: Path, tmp_path: Path) -> None:
    """nn.LSTM(..., bias=False) made these (tests/fixtures/make_torch_fixtures.py)."""
    cfg, weights, arrays = load_torch_fixture(fixture)
    assert not cfg.bias and not any(k.startswith("bias_") for k in arrays)
    torch_count = int(arrays["meta_param_count"])  # sum(p.numel()) of the torch module
    assert param_count(cfg).pytorch == torch_count
    assert sum(t["count"] for t in tensor_counts(cfg)["pytorch"]) == torch_count
    assert set(weights.to_pytorch()) == {k for k in arrays if k.startswith("weight_")}
    # read back as a user's file: the architecture says no biases, the outputs are torch's
    run = resolve(
        {"batch": cfg.batch, "seq_len": cfg.seq_len}, state_only(arrays, tmp_path / "w.npz")
    )
    assert run.config == cfg and run.weights is not None
    out, (h_n, c_n) = forward(run.weights, arrays["x"], arrays.get("h0"), arrays.get("c0"))
    for name, ours in (("output", out), ("h_n", h_n), ("c_n", c_n)):
        np.testing.assert_allclose(ours, arrays[name], rtol=0, atol=tolerance(cfg))


@pytest.mark.parametrize("case", KERAS_CASES)
@pytest.mark.parametrize("suffix", [".weights.h5", ".keras"])
def test_counts_and_outputs_match_keras_fixtures(case: str, suffix: str, tmp_path: Path) -> None:
    """LSTM(..., use_bias=False) made these (tests/fixtures/make_keras_fixtures.py)."""
    expected = keras_expected(case)
    wf = read_weights(FIXTURES / f"keras_{case}{suffix}")
    assert wf.architecture.bias is False
    assert all("bias" not in variables for layer in wf.picked.keras or [] for variables in layer)
    t, b = int(expected["meta_seq_len"]), int(expected["meta_batch"])
    run = resolve({"seq_len": t, "batch": b}, wf.path)
    assert not run.config.bias and run.weights is not None
    keras_count = int(expected["meta_param_count"])  # model.count_params()
    assert param_count(run.config).keras == keras_count
    assert sum(e["count"] for e in tensor_counts(run.config)["keras"]) == keras_count
    out, (h_n, c_n) = forward(run.weights, expected["x"])
    np.testing.assert_allclose(out, expected["output"], rtol=0, atol=1e-5)
    if "h_n" in expected:
        np.testing.assert_allclose(h_n, expected["h_n"], rtol=0, atol=1e-5)
        np.testing.assert_allclose(c_n, expected["c_n"], rtol=0, atol=1e-5)


def test_the_issues_small_keras_layer_is_960() -> None:
    expected = keras_expected("nobias")
    assert int(expected["meta_input_size"]) == 8 and int(expected["meta_units"]) == 12
    assert int(expected["meta_param_count"]) == 960


# --- what a bias-free configuration says --------------------------------------------------------


def test_bias_is_validated_like_bidirectional() -> None:
    with pytest.raises(ConfigError, match="bias must be True or False, got 'no'"):
        LSTMConfig(bias="no")  # type: ignore[arg-type]


def test_parameters_locations_and_tensors_have_no_bias() -> None:
    cfg = LSTMConfig(bias=False, bidirectional=True, proj_size=20)
    names = {p.name for p in parameters(cfg)}
    assert names == {"W_f", "W_i", "W_c", "W_o", "W_hr"}
    assert {"b_f", "b_o"} <= {p.name for p in parameters(LSTMConfig())}
    rows = [r["name"] for r in weight_locations(cfg, 0, 1)]
    assert rows == ["W_f", "W_i", "W_c", "W_o", "W_hr"]
    tensors = tensor_counts(cfg)
    assert [t["name"] for t in tensors["pytorch"][:3]] == [
        "weight_ih_l0",
        "weight_hh_l0",
        "weight_hr_l0",
    ]
    assert not any("bias" in t["name"] for t in tensors["pytorch"])
    free = LSTMConfig(bias=False)
    assert not any("bias" in t["name"] for t in tensor_counts(free)["keras"])
    assert sum(t["count"] for t in tensor_counts(free)["keras"]) == 28_560
    located = json.dumps(frameworks_dict(free)["locations"])
    assert "bias" not in located and "B[" not in located


def test_json_config_says_bias_and_validates(capsys: Any) -> None:
    from .test_schema import JSONL, TRACE, errors

    code, out, err = run_cli(capsys, "--no-bias", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["config"]["bias"] is False
    assert doc["param_count"] == {"keras": 28_560, "pytorch": 28_560, "onnx": 28_560}
    assert not BIAS_NAMES & {p["name"] for p in doc["parameters"]}
    gate = next(t for t in doc["tensors"] if t["name"] == "forget_gate")
    assert gate["equation"] == "sigmoid(W_f X)"
    assert errors(TRACE, doc) == []
    assert json.loads(run_cli(capsys, "--json")[1])["config"]["bias"] is True
    broken = dict(doc, config={k: v for k, v in doc["config"].items() if k != "bias"})
    assert errors(TRACE, broken)  # bias is required
    code, out, err = run_cli(capsys, "--no-bias", "--format", "jsonl")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["config"]["bias"] is False
    assert all(errors(JSONL, line) == [] for line in lines)


def test_table_shows_the_count_without_biases(capsys: Any) -> None:
    code, out, _ = run_cli(capsys, "--no-bias", "--samples", "0")
    assert code == 0
    text = " ".join(out.split())
    assert "W_f W_i W_c W_o 70 x 102 4 x 7,140 = 28,560" in text
    assert "b_f" not in out and "no-bias" in out.splitlines()[0]
    assert "Parameters: Keras 28,560; PyTorch 28,560; ONNX 28,560; no biases" in text
    code, out, _ = run_cli(capsys, "--no-bias", "--frameworks", "--samples", "0")
    assert "b_f = none (bias=False)" in " ".join(out.split()) and "bias_ih" not in out


def test_svg_diagram_shows_no_bias(tmp_path: Path, capsys: Any) -> None:
    code, _, err = run_cli(capsys, "--no-bias", "--svg", tmp_path / "c.svg")
    assert code == 0, err
    svg = (tmp_path / "c.svg").read_text()
    assert "no bias" in svg and "b_f 70" not in svg


def test_explain_counts_without_biases(capsys: Any) -> None:
    text = walkthrough(LSTMConfig(bias=False))
    assert "four gates: 4 x (70 x 102)    = 28,560" in text
    assert "f_t = sigmoid(W_f X)  " in text and "+ b_f" not in text
    assert "parameters Keras 28,560, PyTorch 28,560" in text
    assert "57,120 in Keras, 57,120 in PyTorch" in text  # bidirectional, still bias-free
    proj = walkthrough(LSTMConfig(bias=False, proj_size=20))
    assert "PyTorch adds W_hr (20 x 70 = 1,400): 15,960" in proj
    code, out, _ = run_cli(capsys, "explain", "--no-bias", "--format", "markdown")
    assert code == 0 and out == text


def test_explain_reads_bias_free_weights(tmp_path: Path, capsys: Any) -> None:
    _cfg, _w, arrays = load_torch_fixture(TORCH_FIXTURES[0])
    path = state_only(arrays, tmp_path / "w.npz")
    code, out, err = run_cli(capsys, "explain", "--weights", path, "--format", "markdown")
    assert code == 0, err
    assert "no biases" in out and "b_f has" not in out


def test_expect_bias_of_a_bias_free_layer_is_a_usage_error(capsys: Any) -> None:
    code, _, err = run_cli(capsys, "--no-bias", "--expect", "b_f=70")
    assert code == 2
    assert err.strip().splitlines() == [
        "lstm-trace: error: --expect b_f: b_f exists only with biases; this LSTM has none"
    ]
    code, _, err = run_cli(
        capsys, "--no-bias", "--expect", "params.pytorch=28560", "--expect", "params.keras=28560"
    )
    assert code == 0 and "all 2 expectations passed" in err


# --- seeded bias-free runs ----------------------------------------------------------------------


def test_no_bias_run_keeps_the_seeds_weights_without_biases() -> None:
    biased, free = init_weights(LSTMConfig()), init_weights(LSTMConfig(bias=False))
    for (_, _, a), (_, _, b) in zip(biased, free, strict=True):
        np.testing.assert_array_equal(a.w_ih, b.w_ih)
        np.testing.assert_array_equal(a.w_hh, b.w_hh)
        assert not b.b_ih.any() and not b.b_hh.any()
    assert set(free.to_pytorch()) == {"weight_ih_l0", "weight_hh_l0"}
    # the pass is the biased formula with zero biases
    cfg = LSTMConfig(bias=False)
    zeroed = LSTMWeights(
        LSTMConfig(),
        tuple(
            tuple(DirectionWeights(w.w_ih, w.w_hh, w.b_ih * 0, w.b_hh * 0, w.w_hr) for w in layer)
            for layer in biased.layers
        ),
    )
    x = init_input(cfg)
    np.testing.assert_array_equal(trace(cfg).output, forward(zeroed, x)[0])


def test_nonzero_biases_in_a_bias_free_layer_are_refused() -> None:
    cfg = LSTMConfig(input_size=3, hidden_size=2, bias=False)
    w = init_weights(LSTMConfig(input_size=3, hidden_size=2)).layers[0][0]
    with pytest.raises(ConfigError, match="non-zero biases in a layer without biases"):
        LSTMWeights(cfg, ((w,),))


def test_spec_files_take_bias(tmp_path: Path, capsys: Any) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(
        "[models.free]\nbias = false\n"
        '[models.free.expect]\n"params.pytorch" = 28560\n"params.keras" = 28560\n'
    )
    code, _, err = run_cli(capsys, "check", spec)
    assert code == 0 and "1 of 1 models passed" in err
    spec.write_text('[models.free]\nbias = "no"\nexpect = { output = "3,70" }\n')
    code, _, err = run_cli(capsys, "check", spec)
    assert code == 2 and "models.free.bias: expected true or false, got 'no'" in err


# --- files: saved, read, converted, refused ----------------------------------------------------


@pytest.mark.parametrize("framework", ["pytorch", "keras"])
def test_save_weights_of_a_bias_free_run_reads_back(
    framework: str, tmp_path: Path, capsys: Any
) -> None:
    target = tmp_path / ("w.npz" if framework == "pytorch" else "w.weights.h5")
    code, _, err = run_cli(
        capsys,
        "--no-bias",
        "-i",
        "5",
        "-H",
        "4",
        "--save-weights",
        target,
        "--dump",
        tmp_path / "o.npz",
    )
    assert code == 0, err
    if framework == "pytorch":
        with np.load(target) as saved:
            assert set(saved.files) == {"weight_ih_l0", "weight_hh_l0"}
    wf = read_weights(target)
    assert wf.framework == framework and wf.architecture.bias is False
    code, _, err = run_cli(capsys, "--weights", target, "--dump", tmp_path / "back.npz", "--json")
    assert code == 0, err
    with np.load(tmp_path / "o.npz") as first, np.load(tmp_path / "back.npz") as back:
        np.testing.assert_allclose(back["output"], first["output"], rtol=0, atol=1e-6)


@pytest.mark.parametrize("fixture", TORCH_FIXTURES, ids=lambda p: p.stem)
def test_convert_bias_free_pytorch_to_keras_and_back(
    fixture: Path, tmp_path: Path, capsys: Any
) -> None:
    import h5py

    cfg, _w, arrays = load_torch_fixture(fixture)
    source = state_only(arrays, tmp_path / "pt.npz")
    target = tmp_path / "k.weights.h5"
    code, _, err = run_cli(capsys, "convert", source, target, "--to", "keras")
    if cfg.proj_size:
        assert code == 2 and "projection" in err and not target.exists()
        return
    assert code == 0, err
    with h5py.File(target) as f:
        stored: list[str] = []
        f.visit(stored.append)
    cells = [name for name in stored if name.endswith("cell/vars")]
    assert cells and all(name + "/2" not in stored for name in cells)  # no bias variable
    back = tmp_path / "back.npz"
    assert run_cli(capsys, "convert", target, back, "--to", "pytorch")[0] == 0
    with np.load(back) as data:
        assert set(data.files) == {k for k in arrays if k.startswith("weight_")}
    for path in (target, back):
        run = resolve({"batch": cfg.batch, "seq_len": cfg.seq_len}, path)
        assert run.weights is not None and not run.config.bias
        out, _ = forward(run.weights, arrays["x"], arrays.get("h0"), arrays.get("c0"))
        np.testing.assert_allclose(out, arrays["output"], rtol=0, atol=tolerance(cfg))
    assert read_weights(tmp_path / "k.weights.h5").architecture.bias is False


def test_keras_npz_names_without_bias_round_trip(tmp_path: Path) -> None:
    from lstm_trace.formats.keras_h5 import keras_names

    weights = init_weights(LSTMConfig(input_size=3, hidden_size=2, num_layers=2, bias=False))
    names = keras_names(to_keras(weights))
    assert sorted(names) == [
        "lstm/kernel",
        "lstm/recurrent_kernel",
        "lstm_1/kernel",
        "lstm_1/recurrent_kernel",
    ]
    np.savez(tmp_path / "k.npz", **names)
    wf = read_weights(tmp_path / "k.npz")
    assert (
        wf.framework == "keras"
        and wf.architecture.bias is False
        and wf.architecture.num_layers == 2
    )


def test_a_pytorch_file_with_biases_in_some_layers_is_refused(tmp_path: Path, capsys: Any) -> None:
    state = init_weights(LSTMConfig(input_size=3, hidden_size=2, num_layers=2)).to_pytorch()
    del state["bias_ih_l1"], state["bias_hh_l1"]
    np.savez(tmp_path / "mixed.npz", **state)
    code, out, err = run_cli(capsys, "--weights", tmp_path / "mixed.npz")
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [
        f"lstm-trace: error: {tmp_path / 'mixed.npz'}: some layers have biases and others not "
        "(missing bias_hh_l1, bias_ih_l1); nn.LSTM has bias_ih and bias_hh in every layer and "
        "direction, or none with bias=False"
    ]


def test_keras_layers_with_a_bias_in_some_do_not_stack(tmp_path: Path, capsys: Any) -> None:
    from lstm_trace.formats.keras_h5 import keras_names

    names = keras_names(
        to_keras(init_weights(LSTMConfig(input_size=3, hidden_size=2, num_layers=2)))
    )
    del names["lstm_1/bias"]
    np.savez(tmp_path / "mixed.npz", **names)
    code, _, err = run_cli(capsys, "--weights", tmp_path / "mixed.npz")
    assert code == 2  # two modules that do not stack: the user says which
    assert err.endswith(
        "holds 2 recurrent modules: lstm (lstm), lstm_1 (lstm); say which with --module NAME\n"
    )
    assert len(err.strip().splitlines()) == 1
    code, out, _ = run_cli(capsys, "--weights", tmp_path / "mixed.npz", "--module", "lstm_1")
    assert code == 0 and "bias" in out


def test_bias_options_against_files(tmp_path: Path, capsys: Any) -> None:
    free = tmp_path / "free.npz"
    np.savez(free, **init_weights(LSTMConfig(input_size=3, hidden_size=2, bias=False)).to_pytorch())
    biased = tmp_path / "biased.npz"
    np.savez(biased, **init_weights(LSTMConfig(input_size=3, hidden_size=2)).to_pytorch())
    code, _, err = run_cli(capsys, "--weights", free, "--bias")
    assert code == 2
    assert err == (
        f"lstm-trace: error: --bias contradicts {free}, which has no biases; "
        "drop the option or use other files\n"
    )
    code, _, err = run_cli(capsys, "--weights", biased, "--no-bias")
    assert code == 2 and f"--no-bias contradicts {biased}, which has biases;" in err
    assert run_cli(capsys, "--weights", free, "--no-bias")[0] == 0  # agreeing is fine
    code, out, _ = run_cli(capsys, "--weights", free, "--json")
    assert code == 0 and json.loads(out)["config"]["bias"] is False


def test_bidirectional_contradiction_names_the_option_typed(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "uni.npz"
    np.savez(path, **init_weights(LSTMConfig(input_size=3, hidden_size=2)).to_pytorch())
    code, _, err = run_cli(capsys, "--weights", path, "--bidirectional")
    assert code == 2
    assert err == (
        f"lstm-trace: error: --bidirectional contradicts {path}, whose direction is uni; "
        "drop the option or use other files\n"
    )
    code, _, err = run_cli(capsys, "--weights", path, "--direction", "bi")
    assert code == 2 and f"error: --direction bi contradicts {path}" in err
    code, _, err = run_cli(capsys, "explain", "--weights", path, "--bidirectional")
    assert code == 2 and f"error: --bidirectional contradicts {path}" in err


# --- live: the frameworks themselves ---------------------------------------------------------


def test_torch_counts_and_loads_bias_free_files(tmp_path: Path, capsys: Any) -> None:
    torch = pytest.importorskip("torch")
    lstm = torch.nn.LSTM(32, 70, bias=False)
    assert (
        sum(p.numel() for p in lstm.parameters())
        == 28_560
        == param_count(LSTMConfig(bias=False)).pytorch
    )
    small = torch.nn.LSTM(8, 12, bias=False)
    assert sum(p.numel() for p in small.parameters()) == 960
    # --save-weights .pt loads into nn.LSTM(bias=False) strictly, and computes the same
    code, _, err = run_cli(
        capsys, "--no-bias", "-i", "5", "-H", "4", "-L", "2", "--bidirectional", "-T", "3",
        "--save-weights", tmp_path / "w.pt", "--dump", tmp_path / "o.npz",
    )  # fmt: skip
    assert code == 0, err
    theirs = torch.nn.LSTM(5, 4, num_layers=2, bidirectional=True, bias=False, batch_first=True)
    theirs.load_state_dict(torch.load(tmp_path / "w.pt", weights_only=True), strict=True)
    cfg = LSTMConfig(input_size=5, hidden_size=4, num_layers=2, bidirectional=True, bias=False)
    with torch.no_grad():
        out, _ = theirs(torch.from_numpy(init_input(cfg)))
    with np.load(tmp_path / "o.npz") as ours:
        np.testing.assert_allclose(ours["output"], out.numpy(), rtol=0, atol=1e-5)
    # and so does `convert` of a bias-free Keras file to .pt
    assert run_cli(capsys, "convert", FIXTURES / "keras_nobias.keras", tmp_path / "k.pt")[0] == 0
    from_keras = torch.nn.LSTM(8, 12, bias=False, batch_first=True)
    from_keras.load_state_dict(torch.load(tmp_path / "k.pt", weights_only=True), strict=True)
    expected = keras_expected("nobias")
    with torch.no_grad():
        out, _ = from_keras(torch.from_numpy(expected["x"]))
    np.testing.assert_allclose(out.numpy(), expected["output"], rtol=0, atol=1e-5)


def test_to_torch_of_bias_free_weights_matches() -> None:
    torch = pytest.importorskip("torch")
    from lstm_trace.frameworks import to_torch

    cfg = LSTMConfig(input_size=4, hidden_size=3, proj_size=2, bias=False, dtype="float64")
    weights = init_weights(cfg)
    lstm = to_torch(weights)
    assert not lstm.bias and sum(p.numel() for p in lstm.parameters()) == param_count(cfg).pytorch
    x = init_input(cfg)
    with torch.no_grad():
        out, _ = lstm(torch.from_numpy(x))
    np.testing.assert_allclose(forward(weights, x)[0], out.numpy(), rtol=0, atol=1e-10)


def test_keras_counts_and_loads_bias_free_files(tmp_path: Path, capsys: Any) -> None:
    pytest.importorskip("torch")  # the backend
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")

    def model(units: int, inputs: int, use_bias: bool, seq_len: int = 3) -> Any:
        return keras.Sequential(
            [
                keras.Input((seq_len, inputs)),
                keras.layers.LSTM(units, use_bias=use_bias, return_sequences=True),
            ]
        )

    assert model(70, 32, False).count_params() == 28_560
    assert (
        model(12, 8, True).count_params()
        == 1_008
        == param_count(LSTMConfig(input_size=8, hidden_size=12)).keras
    )
    assert model(12, 8, False).count_params() == 960
    # a bias-free .pt converted to .weights.h5 loads into LSTM(use_bias=False)
    _cfg, _w, arrays = load_torch_fixture(FIXTURES / "nobias_torch_bi2_batched_f64.npz")
    source = state_only(
        {k: v for k, v in arrays.items() if not k.endswith(("_l1", "_l1_reverse"))},
        tmp_path / "pt.npz",
    )
    assert run_cli(capsys, "convert", source, tmp_path / "k.weights.h5")[0] == 0
    bi = keras.Sequential(
        [
            keras.Input((3, 5)),
            keras.layers.Bidirectional(keras.layers.LSTM(4, use_bias=False, return_sequences=True)),
        ]
    )
    bi.load_weights(tmp_path / "k.weights.h5")
    x = np.random.default_rng(0).standard_normal((2, 3, 5)).astype("float32")
    one_layer = LSTMConfig(
        input_size=5,
        hidden_size=4,
        bidirectional=True,
        bias=False,
        seq_len=3,
        batch=2,
        dtype="float64",  # the fixture's; Keras holds them as float32
    )
    run = resolve({"seq_len": 3, "batch": 2}, tmp_path / "k.weights.h5")
    assert run.config == one_layer and run.weights is not None
    theirs = keras.ops.convert_to_numpy(bi(x))
    np.testing.assert_allclose(forward(run.weights, x)[0], theirs, rtol=0, atol=1e-5)
    # --save-weights .weights.h5 of a seeded bias-free run loads too
    code, _, err = run_cli(
        capsys, "--no-bias", "-i", "8", "-H", "12", "--save-weights", tmp_path / "s.weights.h5"
    )
    assert code == 0, err
    uni = model(12, 8, False)
    uni.load_weights(tmp_path / "s.weights.h5")
    cfg = LSTMConfig(input_size=8, hidden_size=12, bias=False)
    x1 = init_input(cfg)[None]
    ours = forward(init_weights(cfg), x1)[0]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(uni(x1)), ours, rtol=0, atol=1e-5)


def test_weights_from_pytorch_without_biases_needs_bias_false() -> None:
    state = init_weights(LSTMConfig(input_size=3, hidden_size=2, bias=False)).to_pytorch()
    with pytest.raises(ConfigError, match="missing bias_hh_l0, bias_ih_l0"):
        weights_from_pytorch(state, LSTMConfig(input_size=3, hidden_size=2))
    built = weights_from_pytorch(state, LSTMConfig(input_size=3, hidden_size=2, bias=False))
    assert not built.layers[0][0].b_ih.any()
