"""GRU weights files: nn.GRU and nn.GRUCell state_dicts (.npz, .safetensors, .pt, under a
prefix), Keras GRU layers (.keras, .weights.h5, Keras names in .npz), written back in either
framework's names, converted between them, and bad GRU files refused in one line.

The numbers are checked against the committed framework-made fixtures (gru_torch_*.npz from
make_gru_fixtures.py, keras_gru_* from make_keras_gru_fixtures.py, non-zero and different
biases), and live against torch and Keras where they are installed.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace import trace
from lstm_trace.digest import weights_digest
from lstm_trace.formats.reading import load_weights, read_weights

from .conftest import FIXTURES, edited_keras, refused_or_needs_torch, run_cli

GRU_TORCH = sorted(FIXTURES.glob("gru_torch_*.npz"))


def arrays_of(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def state_of(arrays: dict[str, np.ndarray], prefix: str = "") -> dict[str, np.ndarray]:
    """The fixture's state_dict (its weight_* and bias_* arrays), under prefix."""
    return {prefix + k: v for k, v in arrays.items() if k.startswith(("weight_", "bias_"))}


def tolerance(arrays: dict[str, np.ndarray]) -> float:
    return 1e-10 if str(arrays["meta_dtype"]) == "float64" else 1e-5


def assert_traces_like_torch(weights_path: Path, arrays: dict[str, np.ndarray]) -> None:
    """load_weights + trace reproduce the fixture's nn.GRU output and h_n."""
    weights = load_weights(weights_path)
    assert weights.config.cell == "gru" and weights.config.dtype == str(arrays["meta_dtype"])
    result = trace(weights=weights, x=arrays["x"], h0=arrays.get("h0"))
    atol = tolerance(arrays)
    np.testing.assert_allclose(result.output, arrays["output"], rtol=0, atol=atol)
    np.testing.assert_allclose(result.h_n, arrays["h_n"], rtol=0, atol=atol)
    assert result.c_n is None  # a GRU carries h only


# --- PyTorch: nn.GRU state_dicts ------------------------------------------------------------


@pytest.mark.parametrize("path", GRU_TORCH, ids=lambda p: p.stem)
def test_torch_gru_npz_traces_as_torch(tmp_path: Path, path: Path) -> None:
    arrays = arrays_of(path)
    np.savez(tmp_path / "w.npz", **state_of(arrays))
    arch = read_weights(tmp_path / "w.npz").architecture
    assert (arch.cell, arch.input_size, arch.hidden_size, arch.num_layers, arch.bias) == (
        "gru",
        int(arrays["meta_input_size"]),
        int(arrays["meta_hidden_size"]),
        int(arrays["meta_num_layers"]),
        bool(arrays["meta_bias"]),
    )
    assert arch.direction == ("bi" if bool(arrays["meta_bidirectional"]) else "uni")
    assert_traces_like_torch(tmp_path / "w.npz", arrays)


@pytest.mark.parametrize("path", GRU_TORCH, ids=lambda p: p.stem)
def test_torch_gru_through_the_command_line(tmp_path: Path, capsys: Any, path: Path) -> None:
    arrays = arrays_of(path)
    np.savez(tmp_path / "w.npz", **state_of(arrays))
    np.save(tmp_path / "x.npy", arrays["x"])
    args: list[Any] = ["--weights", tmp_path / "w.npz", "--x", tmp_path / "x.npy"]
    if "h0" in arrays:
        np.save(tmp_path / "h0.npy", arrays["h0"])
        args += ["--h0", tmp_path / "h0.npy"]
    code, out, err = run_cli(capsys, *args, "--json", "--dump", tmp_path / "out.npz")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["config"]["cell"] == "gru" and doc["config"]["reset_after"] is True
    assert doc["outputs"]["output"]["shape"] == list(arrays["output"].shape)
    dumped = arrays_of(tmp_path / "out.npz")
    atol = tolerance(arrays)
    np.testing.assert_allclose(dumped["output"], arrays["output"], rtol=0, atol=atol)
    np.testing.assert_allclose(dumped["h_n"], arrays["h_n"], rtol=0, atol=atol)
    assert "c_n" not in dumped


def test_torch_gru_under_a_prefix_beside_other_tensors(tmp_path: Path) -> None:
    arrays = arrays_of(FIXTURES / "gru_torch_bi2_batched_f64.npz")
    state = state_of(arrays, "encoder.gru.")
    state["head.weight"] = np.ones((2, 8))
    np.savez(tmp_path / "m.npz", **state)
    wf = read_weights(tmp_path / "m.npz")
    assert wf.notes == (f"{tmp_path / 'm.npz'}: traced encoder.gru; not traced: head.weight",)
    assert_traces_like_torch(tmp_path / "m.npz", arrays)


def test_torch_gru_beside_an_rnn_traces_the_gru(tmp_path: Path) -> None:
    arrays = arrays_of(FIXTURES / "gru_torch_uni3_batched_f32.npz")
    state = state_of(arrays, "gru.")
    state |= {f"rnn.{k}": v for k, v in arrays_of(FIXTURES / "cell_torch_rnn.npz").items()}
    np.savez(tmp_path / "m.npz", **state)
    wf = read_weights(tmp_path / "m.npz")
    assert wf.architecture.cell == "gru"
    assert wf.notes[-1] == f"{tmp_path / 'm.npz'}: traced gru; not traced: rnn"
    assert_traces_like_torch(tmp_path / "m.npz", arrays)


def test_torch_gru_safetensors(tmp_path: Path) -> None:
    st = pytest.importorskip("safetensors.numpy")
    arrays = arrays_of(FIXTURES / "gru_torch_uni3_batched_f32.npz")
    st.save_file(state_of(arrays, "model.rnn."), str(tmp_path / "w.safetensors"))
    assert_traces_like_torch(tmp_path / "w.safetensors", arrays)


def test_torch_grucell_is_read_as_a_one_layer_gru(tmp_path: Path) -> None:
    """nn.GRUCell names (weight_ih, ...) of the one-layer fixture: the same step, stepped."""
    arrays = arrays_of(FIXTURES / "gru_torch_uni_unbatched_f32.npz")
    cell = {k.removesuffix("_l0"): v for k, v in state_of(arrays).items()}
    assert set(cell) == {"weight_ih", "weight_hh", "bias_ih", "bias_hh"}
    np.savez(tmp_path / "cell.npz", **cell)
    wf = read_weights(tmp_path / "cell.npz")
    assert wf.notes == (
        f"{tmp_path / 'cell.npz'}: the state_dict is an nn.GRUCell, read as a one-layer "
        "unidirectional nn.GRU (the same step, over the whole sequence)",
    )
    assert_traces_like_torch(tmp_path / "cell.npz", arrays)


def test_torch_gru_pt_live(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(3)
    gru = torch.nn.GRU(4, 6, num_layers=2, bidirectional=True, batch_first=True)
    with torch.no_grad():
        for name, p in gru.named_parameters():
            if name.startswith("bias_ih"):
                p.uniform_(0.1, 0.5)
            elif name.startswith("bias_hh"):
                p.uniform_(-0.5, -0.1)  # non-zero, and different from bias_ih
    torch.save(gru.state_dict(), tmp_path / "gru.pt")
    x = torch.randn(3, 5, 4)
    with torch.no_grad():
        want, h_n = gru(x)
    result = trace(weights=load_weights(tmp_path / "gru.pt"), x=x.numpy())
    np.testing.assert_allclose(result.output, want.numpy(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(result.h_n, h_n.numpy(), rtol=0, atol=1e-5)


def test_torch_grucell_pt_live_matches_torch_stepping_the_cell(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(8)
    cell = torch.nn.GRUCell(3, 5, dtype=torch.float64)
    with torch.no_grad():
        cell.bias_ih.uniform_(0.1, 0.4)
        cell.bias_hh.uniform_(-0.4, -0.1)
    torch.save(cell.state_dict(), tmp_path / "cell.pt")
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    h = torch.zeros(2, 5, dtype=torch.float64)
    steps = []
    with torch.no_grad():
        for t in range(4):
            h = cell(x[:, t], h)
            steps.append(h)
    result = trace(weights=load_weights(tmp_path / "cell.pt"), x=x.numpy())
    np.testing.assert_allclose(result.output, torch.stack(steps, 1).numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(result.h_n[0], h.numpy(), rtol=0, atol=1e-10)


def keras_module() -> Any:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


# --- Keras: GRU layers ----------------------------------------------------------------------

KERAS_GRU = [
    f"keras_gru_{shape}_{ra}{suffix}"
    for shape in ("uni", "bi", "stack2")
    for ra in ("ra1", "ra0")
    for suffix in (".keras", ".weights.h5")
]


def expected_of(name: str) -> dict[str, np.ndarray]:
    return arrays_of(FIXTURES / (name.split(".")[0] + "_expected.npz"))


@pytest.mark.parametrize("name", KERAS_GRU)
def test_keras_gru_files_trace_as_keras(name: str) -> None:
    pytest.importorskip("h5py")
    ref = expected_of(name)
    wf = read_weights(FIXTURES / name)
    arch = wf.architecture
    assert (arch.cell, arch.reset_after) == ("gru", bool(ref["meta_reset_after"]))
    assert arch.direction == ("bi" if bool(ref["meta_bidirectional"]) else "uni")
    assert arch.num_layers == int(ref["meta_num_layers"])
    if name.endswith(".keras"):
        assert wf.keras_config is not None
        assert wf.keras_config["reset_after"] is bool(ref["meta_reset_after"])
    result = trace(weights=wf.build(arch.config()), x=ref["x"])
    np.testing.assert_allclose(result.output, ref["output"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(result.h_n, ref["h_n"], rtol=0, atol=1e-5)


@pytest.mark.parametrize("ra", ["ra1", "ra0"])
def test_keras_gru_through_the_command_line(tmp_path: Path, capsys: Any, ra: str) -> None:
    pytest.importorskip("h5py")
    ref = expected_of(f"keras_gru_bi_{ra}.keras")
    np.save(tmp_path / "x.npy", ref["x"])
    path = FIXTURES / f"keras_gru_bi_{ra}.keras"
    args = ("--weights", path, "--x", tmp_path / "x.npy", "--json", "--dump", tmp_path / "o.npz")
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    assert json.loads(out)["config"]["reset_after"] is (ra == "ra1")
    np.testing.assert_allclose(arrays_of(tmp_path / "o.npz")["output"], ref["output"], atol=1e-5)


def test_keras_names_of_a_gru_in_an_npz(tmp_path: Path) -> None:
    """Keras's own variable paths (sequential/bidirectional/forward_gru/gru_cell/kernel)."""
    ref = expected_of("keras_gru_bi_ra0.keras")
    names = {k: v for k, v in ref.items() if k.startswith("sequential/")}
    np.savez(tmp_path / "k.npz", **names)
    wf = read_weights(tmp_path / "k.npz")
    assert (wf.architecture.cell, wf.architecture.reset_after) == ("gru", False)
    assert wf.architecture.direction == "bi"
    result = trace(weights=wf.build(wf.architecture.config()), x=ref["x"])
    np.testing.assert_allclose(result.output, ref["output"], rtol=0, atol=1e-5)


def strip_biases(source: Path, target: Path) -> None:
    """A copy of a .weights.h5 without its vars/2 (as if saved with use_bias=False)."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(source, "r") as src, h5py.File(target, "w") as dst:
        for key in src:
            src.copy(src[key], dst, name=key)
        doomed: list[str] = []
        dst.visititems(lambda n, o: doomed.append(n) if n.endswith("cell/vars/2") else None)
        for name in doomed:
            del dst[name]


def test_bias_free_gru_weights_h5_is_taken_as_reset_after_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "nobias.weights.h5"
    strip_biases(FIXTURES / "keras_gru_uni_ra0.weights.h5", path)
    wf = read_weights(path)
    assert (wf.architecture.cell, wf.architecture.bias, wf.architecture.reset_after) == (
        "gru",
        False,
        True,
    )
    assert wf.notes[-1] == (
        f"{path}: a GRU without biases does not show its reset_after (the (2, 3H) or (3H,) "
        "bias would); taken as reset_after=True, Keras's default (--no-reset-after says "
        "otherwise); a .keras file would say"
    )


@pytest.mark.parametrize("reset_after", [True, False])
def test_bias_free_keras_gru_live_reads_reset_after_from_the_config(
    tmp_path: Path, reset_after: bool
) -> None:
    keras = keras_module()
    keras.backend.clear_session()
    layer = keras.layers.GRU(5, use_bias=False, reset_after=reset_after, return_sequences=True)
    model = keras.Sequential([keras.Input((4, 3)), layer])
    x = np.random.default_rng(2).standard_normal((2, 4, 3)).astype(np.float32)
    want = keras.ops.convert_to_numpy(model(x))
    model.save(tmp_path / "m.keras")
    wf = read_weights(tmp_path / "m.keras")
    assert wf.architecture.reset_after is reset_after and wf.notes == ()
    result = trace(weights=wf.build(wf.architecture.config()), x=x)
    np.testing.assert_allclose(result.output, want, rtol=0, atol=1e-5)


# --- Writing and converting GRUs --------------------------------------------------------------


def convert(capsys: Any, *args: Any) -> tuple[int, str]:
    """(exit status, stderr) of lstm-trace convert args; nothing on stdout."""
    code, out, err = run_cli(capsys, "convert", *args)
    assert out == ""
    return code, err


def torch_gru_npz(tmp_path: Path, case: str = "bi2_batched_f64") -> Path:
    np.savez(tmp_path / "src.npz", **state_of(arrays_of(FIXTURES / f"gru_torch_{case}.npz")))
    return tmp_path / "src.npz"


@pytest.mark.parametrize("keras_kind", [".weights.h5", ".npz", ".safetensors"])
def test_torch_gru_to_keras_and_back_is_exact(tmp_path: Path, capsys: Any, keras_kind: str) -> None:
    if keras_kind == ".weights.h5":
        pytest.importorskip("h5py")
    if keras_kind == ".safetensors":
        pytest.importorskip("safetensors.numpy")
    src = torch_gru_npz(tmp_path)
    middle, back = tmp_path / f"k{keras_kind}", tmp_path / "back.npz"
    code, err = convert(capsys, src, middle, "--to", "keras")
    assert code == 0, err
    assert err.endswith(
        f"lstm-trace: wrote {middle}: keras weights of a GRU with input 5, hidden 4, 2 layers, "
        "bidirectional, reset_after=True, float64\n"
    )
    assert read_weights(middle).architecture.cell == "gru"
    assert convert(capsys, middle, back, "--to", "pytorch", "--dtype", "float64")[0] == 0
    assert set(arrays_of(back)) == set(arrays_of(src))
    assert weights_digest(load_weights(back)) == weights_digest(load_weights(src))


def test_keras_gru_to_torch_and_back_is_exact(tmp_path: Path, capsys: Any) -> None:
    pytest.importorskip("h5py")
    src = FIXTURES / "keras_gru_stack2_ra1.keras"
    assert convert(capsys, src, tmp_path / "t.npz", "--to", "pytorch")[0] == 0
    assert convert(capsys, tmp_path / "t.npz", tmp_path / "k.weights.h5")[0] == 0
    assert weights_digest(load_weights(tmp_path / "k.weights.h5")) == weights_digest(
        load_weights(src)
    )
    ref = expected_of("keras_gru_stack2_ra1.keras")
    result = trace(weights=load_weights(tmp_path / "t.npz"), x=ref["x"])
    np.testing.assert_allclose(result.output, ref["output"], rtol=0, atol=1e-5)


RESET_BEFORE = (
    "PyTorch's nn.GRU applies the reset gate after the recurrent product, and this GRU has "
    "reset_after=False (it resets h_(t-1) before the product), which nn.GRU cannot express; "
    "keep Keras names (--to keras)"
)


@pytest.mark.parametrize("target", ["t.pt", "t.npz", "t.safetensors"])
def test_keras_reset_after_false_to_pytorch_is_refused(
    tmp_path: Path, capsys: Any, target: str
) -> None:
    pytest.importorskip("h5py")
    code, err = convert(
        capsys, FIXTURES / "keras_gru_uni_ra0.keras", tmp_path / target, "--to", "pytorch"
    )
    expected = f"lstm-trace: error: {tmp_path / target}: {RESET_BEFORE}\n"
    if target.endswith(".pt"):
        refused_or_needs_torch(code, err, expected)
    else:
        assert (code, err) == (2, expected)
    assert not (tmp_path / target).exists()


def test_keras_reset_after_false_stays_exact_in_keras_names(tmp_path: Path, capsys: Any) -> None:
    pytest.importorskip("h5py")
    src = FIXTURES / "keras_gru_bi_ra0.keras"
    assert convert(capsys, src, tmp_path / "k.npz", "--to", "keras")[0] == 0
    assert convert(capsys, tmp_path / "k.npz", tmp_path / "k.weights.h5")[0] == 0
    back = read_weights(tmp_path / "k.weights.h5")
    assert back.architecture.reset_after is False
    assert weights_digest(back.build(back.architecture.config())) == weights_digest(
        load_weights(src)
    )


def test_peepholes_to_pt_or_keras_are_refused(tmp_path: Path, capsys: Any) -> None:
    from lstm_trace import LSTMConfig, init_weights

    weights = init_weights(LSTMConfig(input_size=3, hidden_size=4, peepholes=True))
    np.savez(tmp_path / "peep.npz", **weights.to_pytorch())
    code, err = convert(capsys, tmp_path / "peep.npz", tmp_path / "p.pt")
    refused_or_needs_torch(
        code,
        err,
        f"lstm-trace: error: {tmp_path / 'p.pt'}: nn.LSTM has no peepholes, so "
        "nn.LSTM.load_state_dict would not take a .pt of them; write .npz or .safetensors "
        "(lstm-trace's own names, weight_peep_l0 ...)\n",
    )
    code, err = convert(capsys, tmp_path / "peep.npz", tmp_path / "k.npz", "--to", "keras")
    assert (code, err) == (
        2,
        f"lstm-trace: error: {tmp_path / 'k.npz'}: Keras's LSTM has no peepholes; write "
        "PyTorch names instead\n",
    )
    assert not (tmp_path / "p.pt").exists() and not (tmp_path / "k.npz").exists()


def test_save_weights_writes_a_gru_in_keras_names(tmp_path: Path, capsys: Any) -> None:
    pytest.importorskip("h5py")
    src = torch_gru_npz(tmp_path, "uni3_batched_f32")
    out = tmp_path / "g.weights.h5"
    code, _, err = run_cli(capsys, "--weights", src, "--save-weights", out, "--json")
    assert code == 0, err
    assert weights_digest(load_weights(out)) == weights_digest(load_weights(src))


def test_gru_pt_loads_strictly_into_nn_gru_live(tmp_path: Path, capsys: Any) -> None:
    """A Keras GRU converted to .pt: nn.GRU.load_state_dict(strict) and Keras's numbers."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("h5py")
    assert convert(capsys, FIXTURES / "keras_gru_bi_ra1.keras", tmp_path / "g.pt")[0] == 0
    gru = torch.nn.GRU(4, 4, bidirectional=True, batch_first=True)
    gru.load_state_dict(torch.load(tmp_path / "g.pt", weights_only=True), strict=True)
    ref = expected_of("keras_gru_bi_ra1.keras")
    with torch.no_grad():
        got, _ = gru(torch.from_numpy(ref["x"]))
    np.testing.assert_allclose(got.numpy(), ref["output"], rtol=0, atol=1e-5)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_gru_weights_h5_loads_into_keras_live(
    tmp_path: Path, capsys: Any, bidirectional: bool
) -> None:
    """An nn.GRU fixture converted to .weights.h5: model.load_weights and torch's numbers."""
    keras = keras_module()
    case = "bi2_batched_f64" if bidirectional else "uni3_batched_f32"
    arrays = arrays_of(FIXTURES / f"gru_torch_{case}.npz")
    target = tmp_path / "g.weights.h5"
    assert convert(capsys, torch_gru_npz(tmp_path, case), target)[0] == 0
    keras.backend.clear_session()
    h, n = int(arrays["meta_hidden_size"]), int(arrays["meta_num_layers"])
    layers: list[Any] = []
    for _ in range(n):
        gru = keras.layers.GRU(h, return_sequences=True, reset_after=True)
        layers.append(keras.layers.Bidirectional(gru) if bidirectional else gru)
    x = arrays["x"].astype(np.float32)
    model = keras.Sequential([keras.Input(x.shape[1:]), *layers])
    model.load_weights(target)
    want = arrays["output"]
    if "h0" in arrays:  # the model starts from zeros: compare with lstm-trace from zeros
        want = trace(weights=load_weights(target), x=x).output
    got = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


# --- Bad GRU files: one line, exit 1 ----------------------------------------------------------


def refused(capsys: Any, path: Path) -> str:
    """The one error line (after '<path>: ') of --weights path, which must exit 1."""
    code, out, err = run_cli(capsys, "--weights", path)
    assert (code, out, err.count("\n")) == (1, "", 1), err
    prefix = f"lstm-trace: error: {path}: "
    assert err.startswith(prefix), err
    return err[len(prefix) :].rstrip("\n")


@pytest.mark.parametrize(
    ("name", "edit", "words"),
    [
        (
            "weight_hh_l1",
            lambda a: a[:, :3],
            "weight_hh_l1: expected shape (12, 4), got (12, 3)",
        ),
        ("bias_ih_l1", lambda a: a[:7], "bias_ih_l1: expected shape (12,), got (7,)"),
        (
            "weight_ih_l0_reverse",
            lambda a: a[:, :4],
            "weight_ih_l0_reverse: expected shape (12, 5), got (12, 4)",
        ),
        (
            "bias_hh_l1_reverse",
            None,
            "some layers have biases and others not (missing bias_hh_l1_reverse); nn.GRU has "
            "bias_ih and bias_hh in every layer and direction, or none with bias=False",
        ),
    ],
)
def test_torch_gru_with_a_wrong_tensor(
    tmp_path: Path, capsys: Any, name: str, edit: Any, words: str
) -> None:
    state = state_of(arrays_of(FIXTURES / "gru_torch_bi2_batched_f64.npz"))
    if edit is None:
        del state[name]
    else:
        state[name] = edit(state[name])
    np.savez(tmp_path / "bad.npz", **state)
    assert refused(capsys, tmp_path / "bad.npz") == words


def test_truncated_gru_files(tmp_path: Path, capsys: Any) -> None:
    whole = torch_gru_npz(tmp_path).read_bytes()
    (tmp_path / "cut.npz").write_bytes(whole[: len(whole) // 2])
    assert refused(capsys, tmp_path / "cut.npz").startswith("not a readable .npz file")
    pytest.importorskip("h5py")
    whole = (FIXTURES / "keras_gru_bi_ra1.weights.h5").read_bytes()
    (tmp_path / "cut.weights.h5").write_bytes(whole[: len(whole) // 2])
    assert refused(capsys, tmp_path / "cut.weights.h5").startswith("not a readable Keras file")


def test_keras_gru_bias_of_neither_shape(tmp_path: Path, capsys: Any) -> None:
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "bad.weights.h5"
    path.write_bytes((FIXTURES / "keras_gru_uni_ra1.weights.h5").read_bytes())
    with h5py.File(path, "a") as f:
        del f["layers/gru/cell/vars/2"]
        f["layers/gru/cell/vars/2"] = np.zeros((3, 15), np.float32)
    assert refused(capsys, path) == (
        "bias: expected shape (2, 15) (a Keras GRU with reset_after=True) or (15,) "
        "(reset_after=False), got (3, 15)"
    )


def test_keras_config_whose_reset_after_contradicts_the_bias(tmp_path: Path, capsys: Any) -> None:
    pytest.importorskip("h5py")

    def claim_reset_after(layers: list[dict[str, Any]]) -> None:
        layers[1]["config"]["reset_after"] = True

    path = edited_keras(tmp_path, "keras_gru_uni_ra0.keras", claim_reset_after)
    assert refused(capsys, path) == "config.json says reset_after=True, but the GRU's bias is (15,)"


def test_mixed_lstm_and_gru_layers_do_not_stack(tmp_path: Path, capsys: Any) -> None:
    h5py = pytest.importorskip("h5py")
    lstm = FIXTURES / "keras_uni.weights.h5"
    gru = FIXTURES / "keras_gru_uni_ra1.weights.h5"
    mixed = tmp_path / "mixed.weights.h5"
    with h5py.File(mixed, "w") as f, h5py.File(lstm) as a, h5py.File(gru) as g:
        f.create_group("layers")
        a.copy(a["layers/lstm"], f["layers"], name="lstm")
        g.copy(g["layers/gru"], f["layers"], name="gru")
    # an LSTM and a GRU never stack: two modules, and the user says which
    code, _, err = run_cli(capsys, "--weights", mixed)
    assert code == 2 and "holds 2 recurrent modules: gru (gru), lstm (lstm)" in err
    assert read_weights(mixed, module="gru").architecture.cell == "gru"
    with zipfile.ZipFile(FIXTURES / "keras_gru_uni_ra1.keras") as z:
        gru_layer = json.loads(z.read("config.json"))["config"]["layers"][1]
    archive = edited_keras(
        tmp_path, "keras_uni.keras", lambda ls: ls.append(gru_layer), mixed.read_bytes()
    )
    code, _, err = run_cli(capsys, "--weights", archive)
    assert code == 2 and "holds 2 recurrent modules: lstm (lstm), gru (gru)" in err
    names = {
        "lstm/kernel": np.ones((3, 16), np.float32),
        "lstm/recurrent_kernel": np.ones((4, 16), np.float32),
        "lstm_1/kernel": np.ones((4, 12), np.float32),
        "lstm_1/recurrent_kernel": np.ones((4, 12), np.float32),
    }
    np.savez(tmp_path / "mixed.npz", **names)  # two modules that do not stack: say which
    code, _, err = run_cli(capsys, "--weights", tmp_path / "mixed.npz")
    assert code == 2
    assert "holds 2 recurrent modules: lstm (lstm), lstm_1 (gru)" in err


def test_save_weights_refuses_reset_after_false_as_pytorch_before_the_trace(
    tmp_path: Path, capsys: Any
) -> None:
    pytest.importorskip("h5py")
    target = tmp_path / "w.npz"
    src = FIXTURES / "keras_gru_uni_ra0.keras"
    code, out, err = run_cli(capsys, "--weights", src, "--save-weights", target, "--json")
    assert (code, out) == (2, "")  # refused before the trace: no answer on stdout
    assert err.endswith(f"lstm-trace: error: {target}: {RESET_BEFORE}\n")
    assert not target.exists()


def test_weights_from_pytorch_takes_a_live_nn_gru_state_dict() -> None:
    torch = pytest.importorskip("torch")
    from lstm_trace import weights_from_pytorch

    torch.manual_seed(5)
    gru = torch.nn.GRU(3, 4, num_layers=2, batch_first=True)
    weights = weights_from_pytorch(gru.state_dict())  # tensors, as state_dict() returns them
    assert (weights.config.cell, weights.config.num_layers) == ("gru", 2)
    x = torch.randn(2, 6, 3)
    with torch.no_grad():
        want, h_n = gru(x)
    result = trace(weights=weights, x=x.numpy())
    np.testing.assert_allclose(result.output, want.numpy(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(result.h_n, h_n.numpy(), rtol=0, atol=1e-5)


@pytest.mark.parametrize("reset_after", [True, False])
def test_keras_rnn_of_grucell_live(tmp_path: Path, reset_after: bool) -> None:
    """RNN(GRUCell(...)): group 'rnn', its reset_after in the cell's config."""
    keras = keras_module()
    keras.backend.clear_session()
    cell = keras.layers.GRUCell(5, reset_after=reset_after)
    model = keras.Sequential([keras.Input((4, 3)), keras.layers.RNN(cell, return_sequences=True)])
    rng = np.random.default_rng(6)
    for w in model.weights:
        if w.path.endswith("/bias"):
            w.assign(rng.uniform(-0.5, 0.5, size=w.shape).astype("float32") + 0.1)
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    want = keras.ops.convert_to_numpy(model(x))
    model.save(tmp_path / "m.keras")
    model.save_weights(tmp_path / "m.weights.h5")
    for name in ("m.keras", "m.weights.h5"):
        wf = read_weights(tmp_path / name)
        assert (wf.architecture.cell, wf.architecture.reset_after) == ("gru", reset_after)
        result = trace(weights=wf.build(wf.architecture.config()), x=x)
        np.testing.assert_allclose(result.output, want, rtol=0, atol=1e-5)


@pytest.mark.parametrize("ra", ["ra0", "ra1"])
def test_keras_gru_written_back_loads_with_its_reset_after_live(
    tmp_path: Path, capsys: Any, ra: str
) -> None:
    """A Keras Bidirectional(GRU) through Keras names in an .npz and back to .weights.h5:
    model.load_weights on the same layers, and Keras's own numbers."""
    keras = keras_module()
    src = FIXTURES / f"keras_gru_bi_{ra}.keras"
    assert convert(capsys, src, tmp_path / "k.npz", "--to", "keras")[0] == 0
    assert convert(capsys, tmp_path / "k.npz", tmp_path / "k.weights.h5")[0] == 0
    keras.backend.clear_session()
    gru = keras.layers.GRU(4, return_sequences=True, reset_after=ra == "ra1")
    ref = expected_of(src.name)
    model = keras.Sequential([keras.Input(ref["x"].shape[1:]), keras.layers.Bidirectional(gru)])
    model.load_weights(tmp_path / "k.weights.h5")
    got = keras.ops.convert_to_numpy(model(ref["x"]))
    np.testing.assert_allclose(got, ref["output"], rtol=0, atol=1e-5)
