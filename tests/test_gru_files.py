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
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace import trace
from lstm_trace.formats.reading import load_weights, read_weights

from .conftest import FIXTURES, run_cli

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
    assert wf.notes[-1] == f"{tmp_path / 'm.npz'}: traced gru; not traced: rnn.* (4 tensors)"
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
        "bias would); taken as reset_after=True, Keras's default; a .keras file would say"
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
