"""What the readers say a file is: LSTMCell read as an LSTM, a GRU read, RNN named, tensors beside
the LSTM noted, half precision noted, one dtype policy, and the words of their messages.

The committed fixtures (cell_torch_*, cell_keras_*; made by tests/fixtures/make_*_fixtures.py)
check every reader without torch or Keras; the live tests run where they are installed.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace import LSTMConfig, forward, init_weights
from lstm_trace.formats.dtype_policy import WIDENED
from lstm_trace.formats.reading import WeightsFile, read_weights

from .conftest import FIXTURES, run_cli

TRACED = (
    "which lstm-trace does not trace yet; it traces nn.LSTM, nn.GRU, nn.LSTMCell, nn.GRUCell "
    "and Keras LSTM and GRU layers"
)
FLOATS = "lstm-trace reads floating-point numbers: float16, float32 or float64"


def refused(capsys: Any, path: Path) -> str:
    """The one error line (without 'lstm-trace: error: <path>: ') for --weights path."""
    code, out, err = run_cli(capsys, "--weights", path)
    assert code == 1 and out == "" and err.count("\n") == 1, err
    prefix = f"lstm-trace: error: {path}: "
    assert err.startswith(prefix), err
    return err[len(prefix) :].rstrip("\n")


def traced(wf: WeightsFile, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """forward() of the file's weights on x (batch first), in float32."""
    options = {**wf.architecture.as_options(), "dtype": "float32"}
    cfg = LSTMConfig(**options, batch=x.shape[0], seq_len=x.shape[1])
    out, (h_n, c_n) = forward(wf.build(cfg), x)
    return out, h_n, c_n


def expected(name: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / name, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


# --- nn.LSTMCell: read as a one-layer unidirectional nn.LSTM -----------------------------------


def test_lstmcell_state_dict_traces_as_torch_stepped_the_cell(capsys: Any) -> None:
    path = FIXTURES / "cell_torch_lstmcell.npz"
    wf = read_weights(path)
    arch = wf.architecture
    assert (arch.input_size, arch.hidden_size, arch.num_layers, arch.direction == "bi") == (
        3,
        5,
        1,
        False,
    )
    assert wf.notes == (
        f"{path}: the state_dict is an nn.LSTMCell, read as a one-layer unidirectional nn.LSTM "
        "(the same step, over the whole sequence)",
    )
    ref = expected("cell_torch_lstmcell_expected.npz")
    out, h_n, c_n = traced(wf, ref["x"])
    np.testing.assert_allclose(out, ref["output"], atol=1e-6)
    np.testing.assert_allclose(h_n, ref["h_n"], atol=1e-6)
    np.testing.assert_allclose(c_n, ref["c_n"], atol=1e-6)


def test_lstmcell_inside_a_model_is_found_by_its_prefix(tmp_path: Path) -> None:
    state = {f"decoder.cell.{k}": v for k, v in expected("cell_torch_lstmcell.npz").items()}
    state["decoder.out.weight"] = np.ones((2, 5), dtype=np.float32)
    np.savez(tmp_path / "m.npz", **state)
    wf = read_weights(tmp_path / "m.npz")
    assert wf.architecture.hidden_size == 5
    assert (
        wf.notes[-1] == f"{tmp_path / 'm.npz'}: traced decoder.cell; not traced: decoder.out.weight"
    )


# --- GRU read, RNN named, not traced ----------------------------------------------------------


def test_gru_whose_rows_are_a_multiple_of_4_is_read_as_a_gru() -> None:
    """nn.GRU(3, 4): weight_ih_l0 has 12 rows, which "a multiple of 4" would take for an LSTM."""
    path = FIXTURES / "cell_torch_gru_h4.npz"
    assert expected(path.name)["weight_ih_l0"].shape == (12, 3)
    arch = read_weights(path).architecture
    assert (arch.cell, arch.input_size, arch.hidden_size) == ("gru", 3, 4)


def test_rnn_is_named(capsys: Any) -> None:
    path = FIXTURES / "cell_torch_rnn.npz"
    assert refused(capsys, path) == f"holds an nn.RNN (no gates; 50 parameters), {TRACED}"


@pytest.mark.parametrize(("gates", "name"), [(1, "nn.RNNCell")])
def test_rnn_cells_are_named(tmp_path: Path, capsys: Any, gates: int, name: str) -> None:
    h, i = 6, 2
    shapes = {"weight_ih": (gates * h, i), "weight_hh": (gates * h, h), "bias_ih": (gates * h,)}
    np.savez(tmp_path / "c.npz", **{k: np.full(s, 0.1, np.float32) for k, s in shapes.items()})
    params = gates * h * (i + h + 1)
    gate_words = "no gates" if gates == 1 else f"{gates} gates"
    assert refused(capsys, tmp_path / "c.npz") == (
        f"holds an {name} ({gate_words}; {params:,} parameters), {TRACED}"
    )


def test_a_gru_beside_the_lstm_needs_module(tmp_path: Path, capsys: Any) -> None:
    lstm = init_weights(LSTMConfig(input_size=3, hidden_size=4)).to_pytorch()
    state = {f"lstm.{k}": v for k, v in lstm.items()}
    state |= {f"gru.{k}": v for k, v in expected("cell_torch_gru_h4.npz").items()}
    np.savez(tmp_path / "two.npz", **state)
    code, _, err = run_cli(capsys, "--weights", tmp_path / "two.npz")
    assert code == 2
    assert err == (
        f"lstm-trace: error: {tmp_path / 'two.npz'} holds 2 recurrent modules: lstm (lstm), "
        "gru (gru); say which with --module NAME\n"
    )
    wf = read_weights(tmp_path / "two.npz", module="gru")
    assert (wf.module, wf.architecture.cell, wf.architecture.hidden_size) == ("gru", "gru", 4)


def test_keras_rnn_of_lstmcells_is_read_as_an_lstm() -> None:
    pytest.importorskip("h5py")
    ref = expected("cell_keras_rnn_expected.npz")
    for name in ("cell_keras_rnn.keras", "cell_keras_rnn.weights.h5"):
        wf = read_weights(FIXTURES / name)
        assert (wf.architecture.num_layers, wf.architecture.hidden_size) == (2, 5)
        out, _, _ = traced(wf, ref["x"])
        np.testing.assert_allclose(out, ref["output"], atol=1e-5)
    facts = read_weights(FIXTURES / "cell_keras_rnn.keras").keras_config
    assert facts == {"return_sequences": True, "return_state": False, "units": 5, "seq_len": 4}


def test_keras_gru_is_read_and_simple_rnn_named(capsys: Any) -> None:
    pytest.importorskip("h5py")
    gru = read_weights(FIXTURES / "cell_keras_gru.keras").architecture
    assert (gru.cell, gru.hidden_size, gru.reset_after) == ("gru", 4, True)
    simple = refused(capsys, FIXTURES / "cell_keras_simple_rnn.weights.h5")
    assert simple == f"holds a Keras SimpleRNN (no gates; 45 parameters), {TRACED}"


def test_keras_names_of_a_gru_in_an_npz_are_read(tmp_path: Path) -> None:
    arrays = {
        "gru/kernel": np.ones((3, 12), np.float32),
        "gru/recurrent_kernel": np.ones((4, 12), np.float32),
        "gru/bias": np.ones((2, 12), np.float32),  # reset_after=True: input and recurrent rows
    }
    np.savez(tmp_path / "k.npz", **arrays)
    arch = read_weights(tmp_path / "k.npz").architecture
    assert (arch.cell, arch.hidden_size, arch.reset_after) == ("gru", 4, True)


# --- Tensors beside the LSTM ------------------------------------------------------------------


def model_state() -> dict[str, np.ndarray]:
    lstm = init_weights(LSTMConfig(input_size=3, hidden_size=4)).to_pytorch()
    return {
        "embedding.weight": np.ones((10, 3), np.float32),
        **{f"encoder.lstm.{k}": v for k, v in lstm.items()},
        "head.weight": np.ones((2, 4), np.float32),
        "head.bias": np.ones(2, np.float32),
    }


def test_npz_tensors_beside_the_lstm_are_named_on_stderr(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "model.npz"
    np.savez(path, **model_state())
    code, out, err = run_cli(capsys, "--weights", path, "--json")
    assert code == 0 and json.loads(out)["config"]["hidden_size"] == 4
    assert err == (
        f"lstm-trace: {path}: traced encoder.lstm; not traced: embedding.weight, head.weight, "
        "head.bias\n"
    )


def test_safetensors_tensors_beside_the_lstm_are_named(tmp_path: Path) -> None:
    st = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "model.safetensors"
    st.save_file(model_state(), str(path))
    notes = read_weights(path).notes
    assert notes == (
        f"{path}: traced encoder.lstm; not traced: embedding.weight, head.bias, head.weight",
    )


def keras_named(head_between: bool = False) -> dict[str, np.ndarray]:
    """An Embedding, two Keras LSTM layers and a Dense head, under Keras's own names."""
    from lstm_trace.formats.keras_h5 import keras_names
    from lstm_trace.frameworks import to_keras

    lstm = keras_names(
        to_keras(init_weights(LSTMConfig(input_size=3, hidden_size=4, num_layers=2)))
    )
    first = {k: v for k, v in lstm.items() if k.startswith("lstm/")}
    second = {
        k.replace("lstm_1/", "decoder/"): v for k, v in lstm.items() if k.startswith("lstm_1/")
    }
    first = {k.replace("lstm/", "encoder/"): v for k, v in first.items()}
    head = {"head/kernel": np.ones((4, 2), np.float32), "head/bias": np.ones(2, np.float32)}
    embedding = {"embedding/embeddings": np.ones((10, 3), np.float32)}
    if head_between:
        return {**embedding, **first, **head, **second}
    return {**embedding, **first, **second, **head}


def test_keras_named_npz_layers_beside_the_lstms_are_named(tmp_path: Path) -> None:
    path = tmp_path / "k.npz"
    np.savez(path, **keras_named())
    wf = read_weights(path)
    assert wf.architecture.num_layers == 2
    assert wf.module == "encoder+decoder"  # the stack of both, traced by default
    assert wf.notes == (
        f"{path}: Keras names hold no layer settings: read forward in time, go_backwards=False "
        "(--direction reverse for a stack whose first layer has go_backwards=True)",
        f"{path}: traced encoder+decoder; not traced: embedding/embeddings, head/kernel, head/bias",
    )


def test_keras_named_layer_between_lstms_is_refused(tmp_path: Path, capsys: Any) -> None:
    np.savez(tmp_path / "k.npz", **keras_named(head_between=True))
    assert refused(capsys, tmp_path / "k.npz") == (
        "head between the LSTM layers; lstm-trace traces a stack of LSTM layers only"
    )


def test_weights_h5_layers_beside_the_lstm_are_named(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "head.weights.h5"
    path.write_bytes((FIXTURES / "keras_uni.weights.h5").read_bytes())
    with h5py.File(path, "a") as f:
        f.create_group("layers/dense/vars").create_dataset("0", data=np.ones((4, 2), "f4"))
        f.create_group("layers/dropout/vars")  # no weights: nothing to say
    notes = read_weights(path).notes
    assert notes[-1] == f"{path}: traced lstm; not traced: dense"


# --- Half precision and the dtype policy ------------------------------------------------------


def lstm_arrays(dtype: Any) -> dict[str, np.ndarray]:
    state = init_weights(LSTMConfig(input_size=3, hidden_size=4)).to_pytorch()
    return {k: v.astype(dtype) for k, v in state.items()}


def test_float16_npz_says_it_is_read_as_float32(tmp_path: Path) -> None:
    np.savez(tmp_path / "h.npz", **lstm_arrays(np.float16))
    wf = read_weights(tmp_path / "h.npz")
    assert wf.notes == (f"{tmp_path / 'h.npz'}: float16 weights, {WIDENED}",)
    cfg = LSTMConfig(input_size=3, hidden_size=4)
    assert wf.build(cfg).layers[0][0].w_ih.dtype == np.float32


def test_float16_safetensors_says_so_and_bfloat16_is_refused_in_one_line(
    tmp_path: Path, capsys: Any
) -> None:
    st = pytest.importorskip("safetensors.numpy")
    st.save_file(lstm_arrays(np.float16), str(tmp_path / "h.safetensors"))
    assert read_weights(tmp_path / "h.safetensors").notes[0].endswith(f"float16 weights, {WIDENED}")
    path = tmp_path / "b.safetensors"  # written by hand: NumPy has no bfloat16 to save
    header = json.dumps(
        {"weight_ih_l0": {"dtype": "BF16", "shape": [16, 3], "data_offsets": [0, 96]}}
    )
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode() + bytes(96))
    assert refused(capsys, path) == (
        "weight_ih_l0 is bfloat16, which the safetensors NumPy reader cannot read; save float32 "
        "tensors, or a .pt file (read through torch)"
    )


def test_float16_weights_h5_says_so(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "half.weights.h5"
    path.write_bytes((FIXTURES / "keras_uni.weights.h5").read_bytes())
    with h5py.File(path, "a") as f:
        cell = f["layers/lstm/cell/vars"]
        for key in list(cell):
            data = cell[key][()].astype(np.float16)
            del cell[key]
            cell.create_dataset(key, data=data)
    assert read_weights(path).notes[-1] == f"{path}: float16 weights, {WIDENED}"


@pytest.mark.parametrize("dtype", [np.int32, np.bool_])
def test_integer_and_bool_weights_are_refused_alike_by_every_reader(
    tmp_path: Path, capsys: Any, dtype: Any
) -> None:
    arrays = lstm_arrays(dtype)
    name = np.dtype(dtype).name
    np.savez(tmp_path / "w.npz", **arrays)
    assert (
        refused(capsys, tmp_path / "w.npz")
        == f"weight_ih_l0 holds {name} values; {FLOATS} (and bfloat16 from .pt files)"
    )
    st = pytest.importorskip("safetensors.numpy")
    st.save_file(arrays, str(tmp_path / "w.safetensors"))
    st_dtype = {"int32": "I32", "bool": "BOOL"}[name]
    assert refused(capsys, tmp_path / "w.safetensors") == (
        f"bias_hh_l0 holds {st_dtype} values; {FLOATS} (and bfloat16 from .pt files)"
    )
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "w.weights.h5", "w") as f:
        cell = f.create_group("layers/lstm/cell/vars")
        for index, key in enumerate(("weight_ih_l0", "weight_hh_l0", "bias_ih_l0")):
            cell.create_dataset(str(index), data=arrays[key].T)
    assert refused(capsys, tmp_path / "w.weights.h5") == (
        f"layers/lstm/cell/vars/0 holds {name} values; {FLOATS} (and bfloat16 from .pt files)"
    )


def test_inputs_may_be_integers_but_not_text_or_complex(tmp_path: Path, capsys: Any) -> None:
    """x, h0 and c0 are numbers the LSTM reads (one-hot tokens, counts): bool and integers
    are traced as floats; complex and extended precision are refused."""
    np.save(tmp_path / "x.npy", np.eye(3, 32, dtype=np.int64))
    code, out, _ = run_cli(capsys, "--x", tmp_path / "x.npy", "--json")
    assert code == 0 and json.loads(out)["config"]["seq_len"] == 3
    np.save(tmp_path / "b.npy", np.eye(3, 32, dtype=bool))
    assert run_cli(capsys, "--x", tmp_path / "b.npy")[0] == 0
    np.save(tmp_path / "c.npy", np.ones((3, 32), np.complex64))
    code, _, err = run_cli(capsys, "--x", tmp_path / "c.npy")
    assert code == 1 and f"{tmp_path / 'c.npy'}: x holds complex64 values; lstm-trace reads" in err


def test_extended_precision_weights_are_refused(tmp_path: Path, capsys: Any) -> None:
    small = init_weights(LSTMConfig(input_size=3, hidden_size=4)).to_pytorch()
    state = {k: v.astype(np.longdouble) for k, v in small.items()}
    if np.dtype(np.longdouble).itemsize <= 8:
        pytest.skip("long double is float64 on this platform")
    np.savez(tmp_path / "w.npz", **state)
    code, _, err = run_cli(capsys, "--weights", tmp_path / "w.npz")
    assert code == 1 and "holds float128 values" in err


# --- Keras config.json checked against the weights --------------------------------------------


def keras_with(tmp_path: Path, edit: Any) -> Path:
    with zipfile.ZipFile(FIXTURES / "keras_uni.keras") as archive:
        config = json.loads(archive.read("config.json"))
        weights = archive.read("model.weights.h5")
    edit(config["config"]["layers"])
    path = tmp_path / "edited.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", weights)
    return path


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (
            lambda ls: ls[0]["config"].update(batch_shape=[None, 5, 7]),
            "config.json's input to layer 'lstm' has 7 features, but its kernel reads 6",
        ),
        (
            lambda ls: ls[0]["config"].update(batch_shape=[None, 0, 6]),
            "config.json's the input's sequence length is 0, not a whole number >= 1",
        ),
        (
            lambda ls: ls[1]["config"].update(units="seventy"),
            "config.json's units of layer 'lstm' is 'seventy', not a whole number >= 1",
        ),
        (
            lambda ls: ls[1]["config"].update(units=5),
            "config.json gives layer 'lstm' 5 units, its weights 4",
        ),
        (
            lambda ls: ls[1]["config"].update(activation="relu"),
            "layer 'lstm' uses activation 'relu' and recurrent_activation 'sigmoid'; lstm-trace "
            "traces the standard LSTM, with activation 'tanh' and recurrent_activation 'sigmoid'",
        ),
    ],
)
def test_keras_config_that_contradicts_its_weights_is_refused(
    tmp_path: Path, capsys: Any, edit: Any, words: str
) -> None:
    pytest.importorskip("h5py")
    assert refused(capsys, keras_with(tmp_path, edit)) == words


def test_a_size_the_user_gave_is_still_blamed_on_max_memory(capsys: Any) -> None:
    """The file's own sizes fit; --seq-len makes the run too large: a usage error (exit 2)."""
    pytest.importorskip("h5py")
    path = FIXTURES / "keras_uni.keras"
    code, _, err = run_cli(capsys, "--weights", path, "--seq-len", 10**9)
    assert code == 2 and err.startswith("lstm-trace: error: --max-memory: this run needs about")


# --- Messages ---------------------------------------------------------------------------------


def test_a_missing_optional_package_is_named_as_pip_knows_it(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    real = importlib.import_module

    def without_safetensors(name: str, *args: Any) -> Any:
        if name.startswith("safetensors"):
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", without_safetensors)
    path = tmp_path / "w.safetensors"
    header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode() + bytes(4))
    code, _, err = run_cli(capsys, "--weights", path)
    assert code == 1 and err == (
        "lstm-trace: error: reading .safetensors needs the optional package 'safetensors': "
        "pip install 'lstm-trace[safetensors]'\n"
    )


def test_not_a_pytorch_file_is_said_without_torchs_advice(tmp_path: Path, capsys: Any) -> None:
    """Said before torch is asked (whose own advice is to unpickle it): without torch too."""
    path = tmp_path / "junk.pt"
    path.write_bytes(b"hello, world: not a checkpoint at all" * 8)
    words = refused(capsys, path)
    assert words == "not a PyTorch file (torch.save writes a zip archive or a legacy torch pickle)"


def test_damaged_h5_is_an_unreadable_file_not_an_internal_error(
    tmp_path: Path, capsys: Any
) -> None:
    pytest.importorskip("h5py")
    data = bytearray((FIXTURES / "keras_uni.weights.h5").read_bytes())
    data[1552] ^= 0xFF  # inside a group's local heap: h5py raises RuntimeError, not OSError
    path = tmp_path / "damaged.weights.h5"
    path.write_bytes(bytes(data))
    assert refused(capsys, path).startswith("not a readable Keras file (RuntimeError: ")


def test_zip_of_an_unknown_version_is_an_unreadable_npz(tmp_path: Path, capsys: Any) -> None:
    data = bytearray((FIXTURES / "cell_torch_lstmcell.npz").read_bytes())
    entry = data.find(b"PK\x01\x02")  # the first central directory entry
    data[entry + 6] = 99  # "version needed to extract: 9.9": zipfile raises NotImplementedError
    path = tmp_path / "future.npz"
    path.write_bytes(bytes(data))
    assert (
        refused(capsys, path)
        == "not a readable .npz file (NotImplementedError: zip file version 9.9)"
    )


@pytest.mark.parametrize("command", ["convert", "check"])
def test_convert_and_check_refuse_a_bad_max_memory(
    tmp_path: Path, capsys: Any, command: str
) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text('[models.m]\nexpect = { output = "3,70" }\n')
    files = [FIXTURES / "cell_torch_lstmcell.npz", tmp_path / "out.npz", "--to", "keras"]
    args = files if command == "convert" else [spec]
    code, out, err = run_cli(capsys, command, *args, "--max-memory", "lots")
    assert code == 2 and out == "" and not (tmp_path / "out.npz").exists()
    assert err == (
        "lstm-trace: error: --max-memory: memory limit must be a size such as 4GB or 512MB, "
        "got 'lots'\n"
    )


def test_a_projection_that_is_not_a_matrix_is_refused(tmp_path: Path, capsys: Any) -> None:
    state = init_weights(LSTMConfig(input_size=3, hidden_size=4)).to_pytorch()
    np.savez(tmp_path / "w.npz", **state, weight_hr_l0=np.float32(1.0))  # was an IndexError
    assert (
        refused(capsys, tmp_path / "w.npz") == "weight_hr_l0: expected shape (proj, hidden), got ()"
    )


# --- Live: torch ------------------------------------------------------------------------------


def test_lstmcell_live_matches_torch_stepping_the_cell(tmp_path: Path, capsys: Any) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(7)
    cell = torch.nn.LSTMCell(6, 9, dtype=torch.float64)
    with torch.no_grad():
        cell.bias_ih.uniform_(0.1, 0.4)
        cell.bias_hh.uniform_(-0.4, -0.1)  # non-zero and different
    torch.save(cell.state_dict(), tmp_path / "cell.pt")
    x = torch.randn(3, 5, 6, dtype=torch.float64)
    h = c = torch.zeros(3, 9, dtype=torch.float64)
    steps = []
    with torch.no_grad():
        for t in range(5):
            h, c = cell(x[:, t], (h, c))
            steps.append(h)
    wf = read_weights(tmp_path / "cell.pt")
    assert wf.architecture.dtype == "float64"
    cfg = LSTMConfig(input_size=6, hidden_size=9, batch=3, seq_len=5, dtype="float64")
    out, (h_n, c_n) = forward(wf.build(cfg), x.numpy())
    np.testing.assert_allclose(out, torch.stack(steps, 1).numpy(), atol=1e-10)
    np.testing.assert_allclose(h_n[0], h.numpy(), atol=1e-10)
    np.testing.assert_allclose(c_n[0], c.numpy(), atol=1e-10)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda nn: nn.RNN(32, 70), "holds an nn.RNN (no gates; 7,280 parameters)"),
        (lambda nn: nn.RNNCell(3, 4), "holds an nn.RNNCell (no gates; 36 parameters)"),
    ],
)
def test_torch_rnn_files_are_named(tmp_path: Path, capsys: Any, make: Any, words: str) -> None:
    torch = pytest.importorskip("torch")
    torch.save(make(torch.nn).state_dict(), tmp_path / "m.pt")
    assert refused(capsys, tmp_path / "m.pt") == f"{words}, {TRACED}"


def run_module(*args: object) -> subprocess.CompletedProcess[str]:
    """python -m lstm_trace in a subprocess, with every warning shown (as outside pytest)."""
    return subprocess.run(
        [sys.executable, "-m", "lstm_trace", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "PYTHONWARNINGS": "default"},
        check=False,
    )


def test_torch_bfloat16_is_read_as_float32(tmp_path: Path, capsys: Any) -> None:
    torch = pytest.importorskip("torch")
    lstm = torch.nn.LSTM(3, 4).to(torch.bfloat16)
    path = tmp_path / "bf16.pt"
    torch.save(lstm.state_dict(), path)
    code, _, err = run_cli(capsys, "--weights", path, "--json")
    assert code == 0 and err == f"lstm-trace: {path}: bfloat16 weights, {WIDENED}\n"
    wf = read_weights(path)
    want = lstm.state_dict()["weight_ih_l0"].float().numpy()
    np.testing.assert_array_equal(wf.picked.pytorch["weight_ih_l0"], want)  # type: ignore[index]


def test_torch_warnings_do_not_reach_stderr(tmp_path: Path) -> None:
    """A protocol-4 archive (which torch.load(weights_only=True) cannot read) is read, and
    nothing is said of its protocol."""
    torch = pytest.importorskip("torch")
    path = tmp_path / "p4.pt"
    torch.save(torch.nn.LSTM(3, 4).state_dict(), path, pickle_protocol=4)
    done = run_module("--weights", path)  # read without torch.load: protocol 4 is a pickle
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_torch_model_with_an_embedding_and_a_head_live(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")

    class Tagger(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = torch.nn.Embedding(10, 3)
            self.encoder = torch.nn.Sequential(torch.nn.LSTM(3, 4, batch_first=True))
            self.head = torch.nn.Linear(4, 2)

    model = Tagger()
    torch.save(model.state_dict(), tmp_path / "tagger.pt")
    wf = read_weights(tmp_path / "tagger.pt")
    assert wf.notes == (
        f"{tmp_path / 'tagger.pt'}: traced encoder.0; not traced: embedding.weight, "
        "head.weight, head.bias",
    )
    x = torch.randn(2, 5, 3)
    with torch.no_grad():
        want, _ = model.encoder[0](x)
    np.testing.assert_allclose(traced(wf, x.numpy())[0], want.numpy(), atol=1e-5)


def test_torch_integer_weights_in_the_same_words(tmp_path: Path, capsys: Any) -> None:
    torch = pytest.importorskip("torch")
    state = {k: v.to(torch.int32) for k, v in torch.nn.LSTM(3, 4).state_dict().items()}
    torch.save(state, tmp_path / "i.pt")
    assert refused(capsys, tmp_path / "i.pt") == (
        f"weight_ih_l0 holds int32 values; {FLOATS} (and bfloat16 from .pt files)"
    )


# --- Live: Keras ------------------------------------------------------------------------------


def keras_module() -> Any:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


def test_keras_bidirectional_rnn_of_lstmcell_live(tmp_path: Path) -> None:
    keras = keras_module()
    keras.backend.clear_session()
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((5, 3)),
            layers.Bidirectional(layers.RNN(layers.LSTMCell(4), return_sequences=True)),
        ]
    )
    rng = np.random.default_rng(5)
    for w in model.weights:
        if w.path.endswith("/bias"):
            w.assign(rng.uniform(-0.5, 0.5, size=w.shape).astype("float32") + 0.1)
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    want = keras.ops.convert_to_numpy(model(x))
    model.save(tmp_path / "m.keras")
    wf = read_weights(tmp_path / "m.keras")
    assert wf.architecture.direction == "bi" and wf.notes == ()
    np.testing.assert_allclose(traced(wf, x)[0], want, atol=1e-5)


@pytest.mark.parametrize(
    ("layer", "words"),
    [
        (lambda L: L.SimpleRNN(70), "holds a Keras SimpleRNN (no gates; 7,210 parameters)"),
        (
            lambda L: L.Bidirectional(L.SimpleRNN(70)),
            "holds a Keras Bidirectional(SimpleRNN) (no gates; 14,420 parameters)",
        ),
    ],
)
def test_keras_simple_rnn_live(tmp_path: Path, capsys: Any, layer: Any, words: str) -> None:
    keras = keras_module()
    keras.backend.clear_session()
    model = keras.Sequential([keras.Input((3, 32)), layer(keras.layers)])
    model.save(tmp_path / "m.keras")
    model.save_weights(tmp_path / "m.weights.h5")
    assert refused(capsys, tmp_path / "m.keras") == f"{words}, {TRACED}"
    assert refused(capsys, tmp_path / "m.weights.h5") == f"{words}, {TRACED}"
