"""Framework conventions: counts, the mapping's slices, conversion, and live comparisons."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace import (
    LSTMConfig,
    forward,
    init_input,
    init_weights,
    param_count,
    trace,
    weights_from_pytorch,
)
from lstm_trace.cli import main
from lstm_trace.cli.resolve import resolve
from lstm_trace.formats.reading import read_weights
from lstm_trace.frameworks import from_keras, to_keras, to_torch
from lstm_trace.locations import return_shapes, tensor_counts, weight_locations

from .conftest import FIXTURES, load_torch_fixture

RANDOM_CONFIGS = [
    # (input, hidden, layers, bidirectional, proj, batch, seq_len, dtype)
    (5, 7, 1, False, 0, None, 4, "float64"),
    (3, 6, 2, True, 0, 2, 5, "float64"),
    (4, 9, 3, True, 4, 3, 3, "float64"),
    (6, 5, 3, False, 2, None, 6, "float32"),
    (32, 70, 2, True, 0, 4, 7, "float32"),
    (2, 3, 1, True, 1, 1, 2, "float32"),
]


def config_of(row: tuple[Any, ...]) -> LSTMConfig:
    i, h, layers, bi, proj, batch, t, dtype = row
    return LSTMConfig(
        input_size=i,
        hidden_size=h,
        num_layers=layers,
        bidirectional=bi,
        proj_size=proj,
        batch=batch,
        seq_len=t,
        dtype=dtype,
    )


def different_biases(cfg: LSTMConfig) -> dict[str, np.ndarray]:
    """Seeded weights whose two biases are non-zero and clearly different."""
    rng = np.random.default_rng(11)
    sd = init_weights(cfg).to_pytorch()
    for k in sd:
        if k.startswith("bias_ih"):
            sd[k] = (sd[k] + rng.uniform(0.2, 0.5, sd[k].shape)).astype(cfg.dtype)
    return sd


def test_walkthrough_locations_are_the_documented_slices() -> None:
    rows = {r["name"]: r for r in weight_locations(LSTMConfig())}
    assert rows["W_f"]["pytorch"] == "[weight_hh_l0[70:140] | weight_ih_l0[70:140]]"
    assert rows["b_f"]["pytorch"] == "bias_ih_l0[70:140] + bias_hh_l0[70:140]"
    assert rows["W_f"]["keras"] == "[recurrent_kernel[:, 70:140].T | kernel[:, 70:140].T]"
    assert rows["b_f"]["keras"] == "bias[70:140]"
    assert rows["W_f"]["onnx"] == "[R[0, 140:210] | W[0, 140:210]]"  # ONNX order i, o, f, c
    reverse = {
        r["name"]: r for r in weight_locations(LSTMConfig(bidirectional=True, num_layers=2), 1, 1)
    }
    assert (
        reverse["W_o"]["pytorch"]
        == "[weight_hh_l1_reverse[210:280] | weight_ih_l1_reverse[210:280]]"
    )


def evaluate(text: str, env: dict[str, Any]) -> np.ndarray:
    """'[a[0:2] | b[0:2]]' -> np.hstack([a[0:2], b[0:2]]); anything else is evaluated as is."""
    if text.startswith("[") and " | " in text:
        return np.hstack([eval(part, env) for part in text[1:-1].split(" | ")])
    return np.asarray(eval(text, env))


@pytest.mark.parametrize("gate", ["f", "i", "c", "o"])
def test_locations_pick_the_gate_the_engine_uses(gate: str) -> None:
    """Evaluate the documented slices on real arrays and compare with the engine's W_gate."""
    cfg = LSTMConfig(input_size=3, hidden_size=4, bidirectional=True)
    w = init_weights(cfg)
    direction = w.layers[0][1]
    rows = {r["name"]: r for r in weight_locations(cfg, 0, 1)}
    onnx_order = [direction.gate_rows(g) for g in "iofc"]  # ONNX stacks gates i, o, f, c
    onnx = {
        "W": np.stack(
            [np.zeros_like(direction.w_ih), np.concatenate([direction.w_ih[r] for r in onnx_order])]
        ),
        "R": np.stack(
            [np.zeros_like(direction.w_hh), np.concatenate([direction.w_hh[r] for r in onnx_order])]
        ),
        "B": np.stack(
            [
                np.zeros(32),
                np.concatenate(
                    [direction.b_ih[r] for r in onnx_order]
                    + [direction.b_hh[r] for r in onnx_order]
                ),
            ]
        ),
    }
    frameworks = {
        "pytorch": w.to_pytorch(),
        "keras": to_keras(w)[0][1],
        "onnx": onnx,
    }
    for framework, env in frameworks.items():
        np.testing.assert_array_equal(
            evaluate(rows[f"W_{gate}"][framework], env), direction.gate_weight(gate)
        )
        np.testing.assert_allclose(
            evaluate(rows[f"b_{gate}"][framework], env), direction.gate_bias(gate), rtol=1e-6
        )


def test_counts_per_tensor_add_up() -> None:
    for row in RANDOM_CONFIGS:
        cfg = config_of(row)
        counts = tensor_counts(cfg)
        total = param_count(cfg)
        assert sum(e["count"] for e in counts["pytorch"]) == total.pytorch
        if cfg.proj_size:
            assert counts["keras"] == [] and total.keras is None
        else:
            assert sum(e["count"] for e in counts["keras"]) == total.keras


def test_return_shapes_and_h_n_index() -> None:
    shapes = return_shapes(LSTMConfig(bidirectional=True, num_layers=2, batch=8, seq_len=10))
    assert shapes["pytorch"]["output (batch_first=False)"] == [10, 8, 140]
    assert shapes["pytorch"]["h_n"] == [4, 8, 70]
    assert shapes["keras"]["output (return_sequences=False)"] == [8, 140]
    assert shapes["h_n_index"][3] == {"index": 3, "layer": 1, "direction": "backward"}
    assert return_shapes(LSTMConfig(proj_size=10))["keras"] is None


def test_json_carries_the_mapping() -> None:
    doc = trace(LSTMConfig(bidirectional=True)).to_dict()["frameworks"]
    assert doc["gate_order"] == {"pytorch": "i f g o", "keras": "i f c o", "onnx": "i o f c"}
    assert len(doc["locations"]) == 2 * 8
    assert doc["tensors"]["keras"][1] == {
        "name": "layer 0 forward recurrent_kernel",
        "shape": [70, 280],
        "count": 19600,
    }


def test_table_shows_the_mapping_with_weights(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    np.savez(tmp_path / "w.npz", **init_weights(LSTMConfig()).to_pytorch())
    assert main(["--weights", str(tmp_path / "w.npz")]) == 0
    out = capsys.readouterr().out
    assert "W_f = [weight_hh_l0[70:140] | weight_ih_l0[70:140]]" in " ".join(out.split())
    assert "Gate slices of the 4H axis" in out and "recurrent_kernel" in out
    assert main([]) == 0
    assert "Gate slices" not in capsys.readouterr().out  # only on request without weights


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("torch_*.npz")), ids=lambda p: p.stem)
def test_convert_pytorch_to_keras_and_back(fixture: Path, tmp_path: Path, capsys: Any) -> None:
    cfg, weights, arrays = load_torch_fixture(fixture)
    np.savez(tmp_path / "pt.npz", **weights.to_pytorch())
    target = tmp_path / "k.weights.h5"
    code = main(["convert", str(tmp_path / "pt.npz"), str(target), "--to", "keras"])
    err = capsys.readouterr().err
    if cfg.proj_size:
        assert code == 2 and "projection" in err and not target.exists()  # as --save-weights
        return
    assert code == 0 and f"wrote {target}" in err
    assert main(["convert", str(target), str(tmp_path / "back.npz"), "--to", "pytorch"]) == 0
    for path in (target, tmp_path / "back.npz"):
        run = resolve({"batch": cfg.batch, "seq_len": cfg.seq_len}, path)
        assert run.weights is not None and run.config.hidden_size == cfg.hidden_size
        out, (_hn, cn) = forward(run.weights, arrays["x"], arrays.get("h0"), arrays.get("c0"))
        tol = 1e-5 if cfg.dtype == "float32" else 1e-10
        np.testing.assert_allclose(out, arrays["output"], rtol=0, atol=tol)
        np.testing.assert_allclose(cn, arrays["c_n"], rtol=0, atol=tol)
    with np.load(tmp_path / "back.npz") as back:  # Keras has one bias: it went into bias_ih
        assert not back["bias_hh_l0"].any()
        np.testing.assert_allclose(back["bias_ih_l0"], arrays["bias_ih_l0"] + arrays["bias_hh_l0"])


def test_convert_refuses_unknown_target_kind(tmp_path: Path, capsys: Any) -> None:
    np.savez(tmp_path / "w.npz", **init_weights(LSTMConfig()).to_pytorch())
    # a usage error, like every output name of the wrong kind
    assert main(["convert", str(tmp_path / "w.npz"), str(tmp_path / "w.pt"), "--to", "keras"]) == 2
    assert "cannot write keras weights as .pt" in capsys.readouterr().err
    assert (
        main(["convert", str(tmp_path / "w.npz"), str(tmp_path / "w.x"), "--to", "sideways"]) == 2
    )


# --- live comparisons: skipped without the framework ------------------------------------------


@pytest.mark.parametrize("row", RANDOM_CONFIGS, ids=str)
def test_random_configs_match_torch(row: tuple[Any, ...]) -> None:
    torch = pytest.importorskip("torch")
    cfg = config_of(row)
    sd = different_biases(cfg)
    weights = weights_from_pytorch(sd, cfg)
    lstm = to_torch(weights)
    assert sum(p.numel() for p in lstm.parameters()) == param_count(cfg).pytorch
    x = init_input(cfg)
    with torch.no_grad():
        t_out, (t_h, t_c) = lstm(torch.from_numpy(x))
    out, (hn, cn) = forward(weights, x)
    tol = 1e-5 if cfg.dtype == "float32" else 1e-10
    for ours, theirs in ((out, t_out), (hn, t_h), (cn, t_c)):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=0, atol=tol)


def test_pt_files_through_torch(tmp_path: Path, capsys: Any) -> None:
    torch = pytest.importorskip("torch")
    _cfg, weights, arrays = load_torch_fixture(FIXTURES / "torch_bi2_batched_f64.npz")
    state = {k: torch.from_numpy(v) for k, v in weights.to_pytorch().items()}
    torch.save(state, tmp_path / "plain.pt")
    torch.save(
        {"epoch": 3, "state_dict": {f"encoder.lstm.{k}": v for k, v in state.items()}},
        tmp_path / "checkpoint.pth",
    )
    for name in ("plain.pt", "checkpoint.pth"):
        run = resolve({}, tmp_path / name)
        assert run.config.num_layers == 2 and run.config.dtype == "float64"
        out, _ = forward(run.weights, arrays["x"], arrays["h0"], arrays["c0"])  # type: ignore[arg-type]
        np.testing.assert_allclose(out, arrays["output"], atol=1e-10)
    # converted files load into nn.LSTM unmodified
    assert (
        main(["convert", str(tmp_path / "plain.pt"), str(tmp_path / "again.pt"), "--to", "pytorch"])
        == 0
    )
    lstm = torch.nn.LSTM(
        6, 5, num_layers=2, bidirectional=True, batch_first=True, dtype=torch.float64
    )
    lstm.load_state_dict(torch.load(tmp_path / "again.pt", weights_only=True))
    with torch.no_grad():
        out_t, _ = lstm(
            torch.from_numpy(arrays["x"]),
            (torch.from_numpy(arrays["h0"]), torch.from_numpy(arrays["c0"])),
        )
    np.testing.assert_allclose(out_t.numpy(), arrays["output"], atol=1e-10)


def test_pt_pickles_are_never_executed(tmp_path: Path, capsys: Any) -> None:
    pytest.importorskip("torch")
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self) -> Any:
            return (os.system, (f"touch {marker}",))

    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"weight_ih_l0": Evil()}, f)
    code = main(["--weights", str(tmp_path / "evil.pt")])
    err = capsys.readouterr().err
    assert code == 1 and "a bare pickle, which lstm-trace never unpickles" in err
    assert not marker.exists()
    import torch

    # a whole pickled module is read as data: its state_dict's tensors, no class of it built
    torch.save(torch.nn.LSTM(3, 2), tmp_path / "module.pt")
    assert main(["--weights", str(tmp_path / "module.pt"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["config"]["input_size"] == 3 and doc["config"]["hidden_size"] == 2
    torch.save([1, 2, 3], tmp_path / "list.pt")
    assert main(["--weights", str(tmp_path / "list.pt")]) == 1
    assert "holds a list, not a state_dict" in capsys.readouterr().err


def keras_module() -> Any:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


def keras_model(keras: Any, cfg: LSTMConfig) -> Any:
    keras.backend.clear_session()
    layers: list[Any] = [keras.Input((cfg.seq_len, cfg.input_size))]
    for _ in range(cfg.num_layers):
        lstm = keras.layers.LSTM(cfg.hidden_size, return_sequences=True)
        layers.append(keras.layers.Bidirectional(lstm) if cfg.bidirectional else lstm)
    return keras.Sequential(layers)


@pytest.mark.parametrize("row", [r for r in RANDOM_CONFIGS if not r[4]], ids=str)
def test_random_configs_match_keras(row: tuple[Any, ...], tmp_path: Path) -> None:
    keras = keras_module()
    cfg = config_of(row)
    cfg = LSTMConfig(**{**cfg.__dict__, "batch": cfg.batch or 1, "dtype": "float32"})
    weights = init_weights(cfg)
    keras_weights = to_keras(weights)
    model = keras_model(keras, cfg)
    flat = [
        v
        for layer in keras_weights
        for d in layer
        for v in (d["kernel"], d["recurrent_kernel"], d["bias"])
    ]
    model.set_weights(flat)
    assert model.count_params() == param_count(cfg).keras
    x = init_input(cfg)
    expected = np.asarray(model(x).detach().cpu())
    out, _ = forward(from_keras(keras_weights, cfg), x)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)
    # and a converted .weights.h5 loads into Keras unmodified
    from lstm_trace.formats.writing import write_weights

    write_weights(tmp_path / "m.weights.h5", weights, "keras")
    fresh = keras_model(keras, cfg)
    fresh.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_allclose(np.asarray(fresh(x).detach().cpu()), expected, rtol=0, atol=1e-6)


def test_keras_weights_file_written_by_us_matches_keras_layout() -> None:
    """Without Keras: our .weights.h5 has the groups and datasets Keras itself wrote."""
    h5py = pytest.importorskip("h5py")
    import tempfile

    from lstm_trace.formats.writing import write_weights

    theirs = read_weights(FIXTURES / "keras_bi_stack2.weights.h5")
    cfg = LSTMConfig(**theirs.architecture.as_options())  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as tmp:
        ours = Path(tmp) / "ours.weights.h5"
        write_weights(ours, theirs.build(cfg), "keras")

        def datasets(path: Path) -> dict[str, tuple[int, ...]]:
            found: dict[str, tuple[int, ...]] = {}
            with h5py.File(path, "r") as f:
                f.visititems(
                    lambda name, obj: (
                        found.__setitem__(name, obj.shape)
                        if isinstance(obj, h5py.Dataset)
                        else None
                    )
                )
            return found

        assert datasets(ours) == datasets(FIXTURES / "keras_bi_stack2.weights.h5")


@pytest.mark.parametrize("case", ["uni", "bi", "bi_stack2"])
def test_keras_file_converted_to_pt_runs_in_nn_lstm(case: str, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    with np.load(FIXTURES / f"keras_{case}_expected.npz") as data:
        x, expected = data["x"], data["output"]
    target = tmp_path / "from_keras.pt"
    assert (
        main(["convert", str(FIXTURES / f"keras_{case}.keras"), str(target), "--to", "pytorch"])
        == 0
    )
    arch = read_weights(FIXTURES / f"keras_{case}.keras").architecture
    lstm = torch.nn.LSTM(
        arch.input_size,
        arch.hidden_size,
        num_layers=arch.num_layers,
        bidirectional=arch.direction == "bi",
        batch_first=True,
    )
    lstm.load_state_dict(torch.load(target, weights_only=True))  # strict: every name matches
    with torch.no_grad():
        out, _ = lstm(torch.from_numpy(x))
    np.testing.assert_allclose(out.numpy(), expected, rtol=0, atol=1e-5)
