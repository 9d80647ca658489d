"""Reverse-only layers in files: Keras go_backwards=True LSTM and GRU layers read as direction
'reverse', a stack mixing them with forward layers refused, and reverse-only weights written
back (Keras .weights.h5 that load_weights takes, PyTorch's _reverse names in lstm-trace's own
.npz, never a .pt that nn.LSTM could not load).

Keras returns a go_backwards layer's sequence in reading order (output[:, s] is h after reading
x[:, T-1-s]); lstm-trace's output is time-aligned (output[:, t] is h after reading x[:, t]), so
the fixtures' output is compared reversed in time. The final state is the same.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace import trace
from lstm_trace.digest import weights_digest
from lstm_trace.formats.keras_modules import GO_BACKWARDS_NOTE
from lstm_trace.formats.reading import load_weights, read_weights

from .conftest import FIXTURES, edited_keras, refused_or_needs_torch, run_cli


def arrays_of(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def keras_module() -> Any:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_keras_go_backwards_is_read_as_reverse(cell: str) -> None:
    pytest.importorskip("h5py")
    path = FIXTURES / f"keras_backwards_{cell}.keras"
    ref = arrays_of(FIXTURES / f"keras_backwards_{cell}_expected.npz")
    assert bool(ref["meta_go_backwards"])
    wf = read_weights(path)
    assert (wf.architecture.cell, wf.architecture.direction) == (cell, "reverse")
    assert wf.notes == (f"{path}: {GO_BACKWARDS_NOTE}",)
    assert wf.keras_config is not None and wf.keras_config["go_backwards"] is True
    result = trace(weights=wf.build(wf.architecture.config()), x=ref["x"])
    # Keras's order is reading order: its step s is lstm-trace's step T-1-s
    np.testing.assert_allclose(result.output[:, ::-1], ref["output"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(result.h_n, ref["h_n"], rtol=0, atol=1e-5)
    # time-aligned: the first step of lstm-trace's output is the last one Keras read
    np.testing.assert_allclose(result.output[:, 0], ref["h_n"][0], rtol=0, atol=1e-5)


def test_keras_go_backwards_through_the_command_line(tmp_path: Path, capsys: Any) -> None:
    pytest.importorskip("h5py")
    path = FIXTURES / "keras_backwards_gru.keras"
    ref = arrays_of(FIXTURES / "keras_backwards_gru_expected.npz")
    np.save(tmp_path / "x.npy", ref["x"])
    args = ("--weights", path, "--x", tmp_path / "x.npy", "--json", "--dump", tmp_path / "o.npz")
    code, out, err = run_cli(capsys, *args)
    assert code == 0 and err.startswith(f"lstm-trace: {path}: {GO_BACKWARDS_NOTE}\n")
    assert json.loads(out)["config"]["direction"] == "reverse"
    got = arrays_of(tmp_path / "o.npz")["output"]
    np.testing.assert_allclose(got[:, ::-1], ref["output"], rtol=0, atol=1e-5)


def test_go_backwards_above_the_first_layer_does_not_stack(tmp_path: Path, capsys: Any) -> None:
    """Each layer is a module of its own (each traced right against its own input), but the
    two are not one stack, and the file says why."""
    pytest.importorskip("h5py")

    def second_backwards(layers: list[dict[str, Any]]) -> None:
        layers[2]["config"]["go_backwards"] = True  # layers[0] is the InputLayer

    path = edited_keras(tmp_path, "keras_gru_stack2_ra1.keras", second_backwards)
    code, out, err = run_cli(capsys, "--weights", path)
    assert (code, out) == (2, "")
    assert "holds 2 recurrent modules: gru (gru), gru_1 (gru)" in err
    wf = read_weights(path, module="gru_1")
    assert wf.architecture.direction == "reverse"
    assert (
        f"{path}: gru+gru_1 is not traced as one stack: layer 'gru_1' has go_backwards=True "
        "above the first layer; Keras hands each layer the steps in the order the one below "
        "read them, so the stack reads in both directions, which lstm-trace does not trace "
        "as one" in wf.notes
    )


def test_go_backwards_on_the_first_layer_makes_the_stack_reverse(tmp_path: Path) -> None:
    pytest.importorskip("h5py")

    def first_backwards(layers: list[dict[str, Any]]) -> None:
        layers[1]["config"]["go_backwards"] = True

    wf = read_weights(edited_keras(tmp_path, "keras_gru_stack2_ra1.keras", first_backwards))
    assert (wf.architecture.direction, wf.architecture.num_layers) == ("reverse", 2)


def reverse_stack_model(keras: Any, flags: tuple[bool, ...], seed: int = 4) -> Any:
    """A Sequential of GRU(4) layers with these go_backwards, biases non-zero."""
    keras.backend.clear_session()
    layers = [keras.layers.GRU(4, go_backwards=f, return_sequences=True) for f in flags]
    model = keras.Sequential([keras.Input((5, 3)), *layers])
    rng = np.random.default_rng(seed)
    for w in model.weights:
        if w.path.endswith("/bias"):
            w.assign(rng.uniform(-0.5, 0.5, size=w.shape).astype("float32") + 0.1)
    return model


def test_keras_reverse_stack_live(tmp_path: Path, capsys: Any) -> None:
    """[go_backwards=True, False]: the second layer reads the first's reading order, which
    is backwards in time, so the whole stack is lstm-trace's 2-layer reverse stack."""
    keras = keras_module()
    model = reverse_stack_model(keras, (True, False))
    x = np.random.default_rng(9).standard_normal((2, 5, 3)).astype(np.float32)
    want = keras.ops.convert_to_numpy(model(x))
    model.save(tmp_path / "m.keras")
    wf = read_weights(tmp_path / "m.keras")
    assert (wf.architecture.direction, wf.architecture.num_layers) == ("reverse", 2)
    result = trace(weights=wf.build(wf.architecture.config()), x=x)
    np.testing.assert_allclose(result.output[:, ::-1], want, rtol=0, atol=1e-5)
    reverse_stack_model(keras, (True, True)).save(tmp_path / "both.keras")
    code, _, err = run_cli(capsys, "--weights", tmp_path / "both.keras")
    assert code == 2 and "holds 2 recurrent modules: gru (gru), gru_1 (gru)" in err


# --- Writing reverse-only layers --------------------------------------------------------------


def convert(capsys: Any, *args: Any) -> tuple[int, str]:
    code, out, err = run_cli(capsys, "convert", *args)
    assert out == ""
    return code, err


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_reverse_in_pytorch_names_uses_the_reverse_names(
    tmp_path: Path, capsys: Any, cell: str
) -> None:
    pytest.importorskip("h5py")
    src = FIXTURES / f"keras_backwards_{cell}.keras"
    code, err = convert(capsys, src, tmp_path / "r.npz", "--to", "pytorch")
    assert code == 0, err
    names = set(arrays_of(tmp_path / "r.npz"))
    assert names == {
        "weight_ih_l0_reverse",
        "weight_hh_l0_reverse",
        "bias_ih_l0_reverse",
        "bias_hh_l0_reverse",
    }
    back = read_weights(tmp_path / "r.npz")
    assert (back.architecture.cell, back.architecture.direction) == (cell, "reverse")
    assert weights_digest(load_weights(tmp_path / "r.npz")) == weights_digest(load_weights(src))


@pytest.mark.parametrize(("cell", "module"), [("lstm", "nn.LSTM"), ("gru", "nn.GRU")])
def test_reverse_as_pt_is_refused(tmp_path: Path, capsys: Any, cell: str, module: str) -> None:
    pytest.importorskip("h5py")
    target = tmp_path / "r.pt"
    code, err = convert(capsys, FIXTURES / f"keras_backwards_{cell}.keras", target)
    refused_or_needs_torch(
        code,
        err,
        f"lstm-trace: error: {target}: {module} has no reverse-only layer, so "
        f"{module}.load_state_dict would not take a .pt of one; write .npz or .safetensors "
        "(lstm-trace's own names, weight_ih_l0_reverse ...)\n",
    )
    assert not target.exists()


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_reverse_weights_h5_loads_into_keras_go_backwards_live(
    tmp_path: Path, capsys: Any, cell: str
) -> None:
    keras = keras_module()
    ref = arrays_of(FIXTURES / f"keras_backwards_{cell}_expected.npz")
    mid, target = tmp_path / "r_torch.npz", tmp_path / "r.weights.h5"
    # through PyTorch's _reverse names and back: the reverse-only layer is kept
    assert (
        convert(capsys, FIXTURES / f"keras_backwards_{cell}.keras", mid, "--to", "pytorch")[0] == 0
    )
    code, err = convert(capsys, mid, target)
    assert code == 0, err
    assert err.endswith(
        f"lstm-trace: {target}: load it into layers whose first has go_backwards=True and the "
        "others go_backwards=False (Keras's reverse stack; the file cannot record it)\n"
    )
    keras.backend.clear_session()
    kind = keras.layers.LSTM if cell == "lstm" else keras.layers.GRU
    units = int(ref["meta_units"])
    model = keras.Sequential(
        [keras.Input(ref["x"].shape[1:]), kind(units, go_backwards=True, return_sequences=True)]
    )
    model.load_weights(target)
    got = keras.ops.convert_to_numpy(model(ref["x"]))
    np.testing.assert_allclose(got, ref["output"], rtol=0, atol=1e-5)


# --- A .weights.h5 cannot show go_backwards: --direction reverse says it -----------------------


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_direction_reverse_tells_a_weights_h5_it_reads_backwards(
    tmp_path: Path, capsys: Any, cell: str
) -> None:
    pytest.importorskip("h5py")
    path = FIXTURES / f"keras_backwards_{cell}.weights.h5"
    ref = arrays_of(FIXTURES / f"keras_backwards_{cell}_expected.npz")
    np.save(tmp_path / "x.npy", ref["x"])
    args = ("--weights", path, "--x", tmp_path / "x.npy", "--dump", tmp_path / "o.npz")
    code, out, err = run_cli(capsys, *args, "--direction", "reverse", "--json")
    assert code == 0, err
    assert "go_backwards=False (--direction reverse for a stack whose first layer" in err
    assert json.loads(out)["config"]["direction"] == "reverse"
    got = arrays_of(tmp_path / "o.npz")
    np.testing.assert_allclose(got["output"][:, ::-1], ref["output"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(got["h_n"], ref["h_n"], rtol=0, atol=1e-5)


def test_direction_may_not_contradict_what_a_file_shows(capsys: Any) -> None:
    pytest.importorskip("h5py")
    h5 = FIXTURES / "keras_backwards_gru.weights.h5"
    code, _, err = run_cli(capsys, "--weights", h5, "--direction", "bi")
    assert code == 2 and f"--direction bi contradicts {h5}, whose direction is uni" in err
    archive = FIXTURES / "keras_gru_uni_ra1.keras"  # its config.json says go_backwards=False
    code, _, err = run_cli(capsys, "--weights", archive, "--direction", "reverse")
    assert code == 2 and f"--direction reverse contradicts {archive}, whose direction" in err
