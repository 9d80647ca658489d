"""Files with several recurrent modules: --module, inspect, own tensor names, --names.

The numbers are checked against the frameworks' own outputs (the torch fixtures' output and
h_n, computed by nn.LSTM / nn.GRU / nn.LSTMCell when they were made), so that a module read
from the wrong tensors, or with its gates in the wrong order, fails.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace import trace
from lstm_trace.formats.reading import load_weights, read_contents, read_weights

from .conftest import FIXTURES, run_cli


def arrays_of(name: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / name, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def weights_of(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: v for k, v in arrays.items() if k.startswith(("weight_", "bias_"))}


LSTM = arrays_of("torch_uni_f32.npz")  # nn.LSTM(32, 70), its x, output, h_n, c_n
GRU = arrays_of("gru_torch_uni_unbatched_f32.npz")  # nn.GRU(32, 70)
GRU_NOBIAS = arrays_of("gru_torch_nobias_uni_f64.npz")  # nn.GRU(3, 4, bias=False), float64
CELL = arrays_of("cell_torch_lstmcell.npz") | arrays_of("cell_torch_lstmcell_expected.npz")


def encoder_decoder(path: Path) -> Path:
    """A checkpoint-like .npz: an encoder LSTM, a decoder GRU, an embedding and a head."""
    state = {f"encoder.lstm.{k}": v for k, v in weights_of(LSTM).items()}
    state |= {f"decoder.gru.{k}": v for k, v in weights_of(GRU).items()}
    state |= {"embedding.weight": np.ones((10, 32), np.float32), "head.bias": np.ones(3)}
    np.savez(path, **state)
    return path


def assert_like_torch(path: Path, module: str, ref: dict[str, np.ndarray], **kw: Any) -> None:
    weights = load_weights(path, module=module, **kw)
    result = trace(weights=weights, x=ref["x"])
    atol = 1e-10 if weights.config.dtype == "float64" else 1e-5
    np.testing.assert_allclose(result.output, ref["output"], rtol=0, atol=atol)
    np.testing.assert_allclose(result.h_n, ref["h_n"], rtol=0, atol=atol)


def test_each_module_of_a_file_traces_as_its_framework_ran_it(tmp_path: Path) -> None:
    path = encoder_decoder(tmp_path / "model.npz")
    assert_like_torch(path, "encoder.lstm", LSTM)
    assert_like_torch(path, "decoder.gru", GRU)
    contents = read_contents(path)
    assert contents.names() == ["encoder.lstm", "decoder.gru"]
    assert [(u.name, u.what) for u in contents.untraced] == [
        ("embedding.weight", "tensor (10, 32)"),
        ("head.bias", "tensor (3)"),
    ]


def test_several_modules_without_module_are_listed(tmp_path: Path, capsys: Any) -> None:
    path = encoder_decoder(tmp_path / "model.npz")
    code, out, err = run_cli(capsys, "--weights", path)
    assert (code, out) == (2, "")
    assert err == (
        f"lstm-trace: error: {path} holds 2 recurrent modules: encoder.lstm (lstm), "
        "decoder.gru (gru); say which with --module NAME\n"
    )
    code, out, err = run_cli(capsys, "--weights", path, "--module", "decoder")
    assert (code, out) == (2, "")
    assert err == (
        f"lstm-trace: error: {path}: no module 'decoder'; its modules are encoder.lstm "
        "(lstm), decoder.gru (gru)\n"
    )


def test_module_names_the_traced_module_in_the_document(tmp_path: Path, capsys: Any) -> None:
    path = encoder_decoder(tmp_path / "model.npz")
    code, out, err = run_cli(capsys, "--weights", path, "--module", "decoder.gru", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["weights"]["module"] == "decoder.gru"
    assert doc["config"]["cell"] == "gru" and doc["config"]["hidden_size"] == 70
    assert f"{path}: traced decoder.gru; not traced: encoder.lstm, embedding.weight" in err


def test_explain_and_convert_take_module(tmp_path: Path, capsys: Any) -> None:
    path = encoder_decoder(tmp_path / "model.npz")
    code, out, _ = run_cli(capsys, "explain", "--weights", path, "--module", "decoder.gru", "-f",
                           "markdown")  # fmt: skip
    assert code == 0 and "GRU" in out and "W_r" in out
    target = tmp_path / "enc.pt"
    code, _, err = run_cli(capsys, "convert", path, tmp_path / "enc.npz", "--to", "keras",
                           "--module", "encoder.lstm")  # fmt: skip
    assert code == 0, err
    assert_like_torch(tmp_path / "enc.npz", "lstm", LSTM)  # Keras names, the same LSTM
    assert not target.exists()


def test_check_specs_take_module(tmp_path: Path, capsys: Any) -> None:
    encoder_decoder(tmp_path / "model.npz")
    spec = tmp_path / "spec.toml"
    spec.write_text(
        '[models.dec]\nweights = "model.npz"\nmodule = "decoder.gru"\nseq_len = 5\n'
        '[models.dec.expect]\noutput = "5,70"\nW_r = "70,102"\n'
    )
    code, _, err = run_cli(capsys, "check", spec)
    assert code == 0, err
    spec.write_text('[models.m]\nmodule = "x"\n[models.m.expect]\noutput = "5,70"\n')
    code, _, err = run_cli(capsys, "check", spec)
    assert code == 2 and "models.m.module: picks a module of a weights file" in err


def test_inspect_lists_modules_and_the_rest(tmp_path: Path, capsys: Any) -> None:
    path = encoder_decoder(tmp_path / "model.npz")
    code, out, _ = run_cli(capsys, "inspect", path, "--json")
    assert code == 0
    doc = json.loads(out)
    assert [(m["name"], m["kind"], m["input_size"], m["hidden_size"]) for m in doc["modules"]] == [
        ("encoder.lstm", "lstm", 32, 70),
        ("decoder.gru", "gru", 32, 70),
    ]
    assert doc["modules"][0]["param_count"] == {"pytorch": 29120, "keras": 28840, "onnx": 29120}
    assert doc["modules"][1]["reset_after"] is True and doc["modules"][0]["reset_after"] is None
    assert doc["default"] is None  # two modules: the user picks
    assert [u["name"] for u in doc["untraced"]] == ["embedding.weight", "head.bias"]
    code, out, _ = run_cli(capsys, "inspect", path)
    assert code == 0
    assert "encoder.lstm" in out and "decoder.gru" in out and "29,120" in out
    assert "embedding.weight" in out and "several modules: pick one with --module" in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_own_tensor_names_two_grus(tmp_path: Path) -> None:
    """enc_w_ih, enc_w_hh, ... and dec_W_ih, ...: two GRUs, told apart by their prefixes and
    from LSTMs by weight_hh's rows over its columns (3)."""
    own = {
        "enc_w_ih": GRU["weight_ih_l0"],
        "enc_w_hh": GRU["weight_hh_l0"],
        "enc_b_ih": GRU["bias_ih_l0"],
        "enc_b_hh": GRU["bias_hh_l0"],
        "dec_W_ih": GRU_NOBIAS["weight_ih_l0"],
        "dec_W_hh": GRU_NOBIAS["weight_hh_l0"],
    }
    np.savez(tmp_path / "own.npz", **own)
    contents = read_contents(tmp_path / "own.npz")
    assert [(m.name, m.kind, m.architecture.bias) for m in contents.modules] == [
        ("enc", "gru", True),
        ("dec", "gru", False),
    ]
    assert_like_torch(tmp_path / "own.npz", "enc", GRU)
    assert_like_torch(tmp_path / "own.npz", "dec", GRU_NOBIAS)


def test_names_maps_what_cannot_be_matched(tmp_path: Path, capsys: Any) -> None:
    odd = {"Wx": LSTM["weight_ih_l0"], "Wh": LSTM["weight_hh_l0"],
           "bx": LSTM["bias_ih_l0"], "bh": LSTM["bias_hh_l0"]}  # fmt: skip
    np.savez(tmp_path / "odd.npz", **odd)
    code, _, err = run_cli(capsys, "--weights", tmp_path / "odd.npz")
    assert code == 1
    assert "--names OLD=NEW,... maps a file's own names" in err
    names = {"Wx": "w_ih", "Wh": "w_hh", "bx": "b_ih", "bh": "b_hh"}
    assert_like_torch(tmp_path / "odd.npz", "lstm", LSTM, names=names)
    given = ",".join(f"{k}={v}" for k, v in names.items())
    code, out, err = run_cli(capsys, "--weights", tmp_path / "odd.npz", "--names", given, "-T",
                             "5", "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["config"]["hidden_size"] == 70
    for bad, said in [("Wx", "expected OLD=NEW pairs"), ("Q=w_ih", "no tensor 'Q'")]:
        code, _, err = run_cli(capsys, "--weights", tmp_path / "odd.npz", "--names", bad)
        assert code == 2 and said in err and len(err.splitlines()) == 1


def test_cell_keys_under_a_prefix_are_a_cell_run_over_the_sequence(tmp_path: Path) -> None:
    state = {f"net.enc.cells.fast.{k}": v for k, v in CELL.items() if k.startswith(("w", "b"))}
    np.savez(tmp_path / "cells.npz", **state)
    wf = read_weights(tmp_path / "cells.npz")
    assert (wf.module, wf.kind) == ("net.enc.cells.fast", "lstm_cell")
    result = trace(weights=wf.build(wf.architecture.config()), x=CELL["x"])
    np.testing.assert_allclose(result.output, CELL["output"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(result.c_n, CELL["c_n"], rtol=0, atol=1e-5)


def test_peephole_names(tmp_path: Path) -> None:
    """weight_peep_l0 (3H,) or weight_peephole_l0 (3, H), p_i, p_f, p_o, against onnxruntime's
    output for the same peephole LSTM (ONNX P is i, o, f; W/R/B rows i, o, f, c)."""
    onnx = arrays_of("onnx_lstm_peep_forward.npz")
    h = onnx["R"].shape[-1]
    order = np.concatenate([np.arange(h) + k * h for k in (0, 2, 3, 1)])  # i o f c -> i f c o
    state = {
        "weight_ih_l0": onnx["W"][0][order],
        "weight_hh_l0": onnx["R"][0][order],
        "bias_ih_l0": onnx["B"][0][: 4 * h][order],
        "bias_hh_l0": onnx["B"][0][4 * h :][order],
        "weight_peephole_l0": onnx["P"][0].reshape(3, h)[[0, 2, 1]],  # i o f -> i f o
    }
    np.savez(tmp_path / "peep.npz", **state)
    wf = read_weights(tmp_path / "peep.npz")
    assert wf.kind == "peephole_lstm" and wf.architecture.peepholes
    result = trace(weights=wf.build(wf.architecture.config()), x=onnx["X"].transpose(1, 0, 2))
    np.testing.assert_allclose(result.output, onnx["Y"][:, 0].transpose(1, 0, 2), atol=1e-5)


@pytest.mark.parametrize("suffix", [".pkl", ".pickle"])
def test_pickles_are_refused_with_a_hint(tmp_path: Path, capsys: Any, suffix: str) -> None:
    path = tmp_path / f"w{suffix}"
    path.write_bytes(b"\x80\x04K\x01.")
    code, _, err = run_cli(capsys, "--weights", path)
    assert code == 1 and len(err.splitlines()) == 1
    assert "never unpickles" in err and "np.savez" in err


def test_module_needs_a_weights_file(capsys: Any) -> None:
    code, _, err = run_cli(capsys, "--module", "lstm")
    assert code == 2 and "--module picks from a weights file; give --weights" in err


def test_the_heatmap_shows_any_module(tmp_path: Path, capsys: Any) -> None:
    path = encoder_decoder(tmp_path / "model.npz")
    for module, gate in [("decoder.gru", "reset_gate"), ("encoder.lstm", "forget_gate")]:
        code, out, _ = run_cli(capsys, "--weights", path, "--module", module, "-f", "heatmap",
                               "-T", "4")  # fmt: skip
        assert code == 0 and out.startswith(f"{gate}, layer 0, forward")


def test_inspect_never_shortens_a_name(tmp_path: Path, capsys: Any) -> None:
    """The names are what --module takes: the other columns give way, not they."""
    long = "model.encoder.recurrent_layers.bidirectional_lstm_with_a_long_name"
    state = {f"{long}.{k}": v for k, v in weights_of(LSTM).items()}
    state |= {f"decoder.{k}": v for k, v in weights_of(GRU).items()}
    np.savez(tmp_path / "long.npz", **state)
    code, out, _ = run_cli(capsys, "inspect", tmp_path / "long.npz")
    assert code == 0
    assert sum(long in line for line in out.splitlines()) == 2  # the modules and their counts


def test_inspect_says_a_bidirectionals_merge_mode(capsys: Any) -> None:
    pytest.importorskip("h5py")
    code, out, _ = run_cli(capsys, "inspect", FIXTURES / "kmodel_bi_lstm.keras", "--json")
    assert code == 0
    modes = [(m["name"], m["merge_mode"]) for m in json.loads(out)["modules"]]
    assert modes == [(m, m) for m in ("concat", "sum", "ave", "mul", "none")]
    code, out, _ = run_cli(capsys, "inspect", FIXTURES / "kmodel_bi_lstm.keras")
    assert "merge sum" in out and "merge none" in out


def test_inspect_groups_a_checkpoints_other_entries(capsys: Any) -> None:
    """A training checkpoint (torch.save of a dict with an optimizer's state and objects
    weights_only refuses): the module, then the rest, an optimizer's 28 entries as one row."""
    code, out, _ = run_cli(capsys, "inspect", FIXTURES / "ckpt_train.pth")
    assert code == 0
    assert "nets.encoder.rnn" in out
    assert "optimizer.*" in out and "28 entries, 12 of them tensors" in out
    assert "argparse.Namespace (not unpickled)" in out
    code, out, _ = run_cli(capsys, "inspect", FIXTURES / "ckpt_train.pth", "--json")
    names = [u["name"] for u in json.loads(out)["untraced"]]
    assert len(names) == 32 and "optimizer.param_groups.0.lr" in names


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_integer_tensors_beside_a_module_are_untraced(tmp_path: Path, suffix: str) -> None:
    """A BatchNorm's num_batches_tracked or an epoch count beside the LSTM: named, not a
    reason to refuse the file; an integer recurrent weight is still refused by name."""
    state = {f"encoder.lstm.{k}": v for k, v in weights_of(LSTM).items()}
    state |= {"bn.num_batches_tracked": np.array([5], np.int64), "epoch": np.array([3])}
    path = tmp_path / f"bn{suffix}"
    if suffix == ".npz":
        np.savez(path, **state)
    else:
        pytest.importorskip("safetensors.numpy").save_file(state, str(path))
    contents = read_contents(path)
    assert contents.names() == ["encoder.lstm"]
    assert [u.name for u in contents.untraced] == ["bn.num_batches_tracked", "epoch"]
    assert_like_torch(path, "encoder.lstm", LSTM)


def test_an_integer_recurrent_weight_is_refused_by_name(tmp_path: Path, capsys: Any) -> None:
    state = weights_of(LSTM) | {"weight_ih_l0": LSTM["weight_ih_l0"].astype(np.int32)}
    np.savez(tmp_path / "w.npz", **state)
    code, _, err = run_cli(capsys, "--weights", tmp_path / "w.npz")
    assert code == 1 and "weight_ih_l0 holds int32 values" in err


def test_inspect_of_a_file_without_a_traced_module_lists_the_rest(capsys: Any) -> None:
    code, out, _ = run_cli(capsys, "inspect", FIXTURES / "cell_torch_rnn.npz")
    assert code == 0
    assert "no recurrent module that lstm-trace traces" in out
    assert "nn.RNN (no gates; 50 parameters)" in out and "PyTorch" not in out


def test_two_names_of_one_field_are_refused(tmp_path: Path, capsys: Any) -> None:
    np.savez(tmp_path / "dup.npz", w_ih=LSTM["weight_ih_l0"], **weights_of(LSTM))
    code, _, err = run_cli(capsys, "inspect", tmp_path / "dup.npz")
    assert code == 1 and "both name weight_ih_l0 of the top-level module" in err
