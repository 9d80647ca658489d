"""weights.digest: the same weights give the same digest, different weights different ones."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace import LSTMConfig, init_weights, trace
from lstm_trace.cli import main
from lstm_trace.digest import weights_digest
from lstm_trace.formats.reading import read_weights
from lstm_trace.formats.writing import write_weights
from lstm_trace.weights import DirectionWeights, LSTMWeights

SMALL = LSTMConfig(input_size=3, hidden_size=2, seq_len=2, seed=5)
BI_PROJ = LSTMConfig(input_size=4, hidden_size=3, proj_size=2, num_layers=2, bidirectional=True)


def reference_digest(state: dict[str, Any], config: LSTMConfig) -> str:
    """The documented canonical form, written out independently of digest.py."""
    h = hashlib.sha256(b"lstm-trace weights v1\n")
    for k in range(config.num_layers):
        for suffix in ("", "_reverse")[: config.num_directions]:
            s = f"_l{k}{suffix}"
            bias = np.float32(state[f"bias_ih{s}"]).astype(np.float64) + np.float32(
                state[f"bias_hh{s}"]
            )
            tensors = [
                (f"weight_ih{s}", state[f"weight_ih{s}"]),
                (f"weight_hh{s}", state[f"weight_hh{s}"]),
                (f"bias{s}", bias),
            ]
            if config.proj_size:
                tensors.append((f"weight_hr{s}", state[f"weight_hr{s}"]))
            for name, array in tensors:
                a = np.asarray(array, dtype="<f4")
                h.update(f"{name} {','.join(str(d) for d in a.shape)}\n".encode())
                h.update(a.tobytes())
    return "sha256:" + h.hexdigest()


@pytest.mark.parametrize("config", [SMALL, BI_PROJ], ids=["small", "bi_proj_stacked"])
def test_digest_is_the_documented_canonical_form(config: LSTMConfig) -> None:
    weights = init_weights(config)
    assert weights_digest(weights) == reference_digest(weights.to_pytorch(), config)


def test_float32_and_float64_runs_of_the_same_weights_agree() -> None:
    for config in (SMALL, BI_PROJ):
        d32 = weights_digest(init_weights(config))
        d64 = weights_digest(init_weights(dataclasses.replace(config, dtype="float64")))
        assert d32 == d64


def test_seed_and_one_changed_value_change_the_digest() -> None:
    base = init_weights(SMALL)
    assert weights_digest(base) != weights_digest(init_weights(SMALL, seed=6))
    w = base.layers[0][0]
    for field in ("w_ih", "w_hh", "b_ih", "b_hh"):
        changed = getattr(w, field).copy()
        # 1e-3, not one ulp: an ulp of one bias can vanish when the sum is rounded, and
        # then the cell, which adds the sum, computes the same function
        changed.flat[-1] += np.float32(1e-3)
        moved = LSTMWeights(SMALL, ((dataclasses.replace(w, **{field: changed}),),))
        assert weights_digest(moved) != weights_digest(base), field
    ulp = w.w_hh.copy()
    ulp.flat[0] = np.nextafter(ulp.flat[0], np.float32(1))  # the smallest change of a weight
    moved = LSTMWeights(SMALL, ((dataclasses.replace(w, w_hh=ulp),),))
    assert weights_digest(moved) != weights_digest(base)
    proj = init_weights(BI_PROJ)
    p = proj.layers[1][1]
    assert p.w_hr is not None
    moved_hr = dataclasses.replace(p, w_hr=p.w_hr * 2)
    other = LSTMWeights(BI_PROJ, (proj.layers[0], (proj.layers[1][0], moved_hr)))
    assert weights_digest(other) != weights_digest(proj)


def test_the_summed_bias_is_hashed_and_zero_biases_are_fine() -> None:
    w = init_weights(SMALL).layers[0][0]
    zero = np.zeros_like(w.b_ih)
    none = LSTMWeights(SMALL, ((DirectionWeights(w.w_ih, w.w_hh, zero, zero),),))
    cancelled = LSTMWeights(SMALL, ((DirectionWeights(w.w_ih, w.w_hh, w.b_ih, -w.b_ih),),))
    moved = LSTMWeights(SMALL, ((DirectionWeights(w.w_ih, w.w_hh, w.b_ih + w.b_hh, zero),),))
    assert weights_digest(none) == weights_digest(cancelled)  # b_ih + b_hh = 0 in both
    assert weights_digest(moved) == weights_digest(init_weights(SMALL))  # the same sum
    assert weights_digest(none) != weights_digest(init_weights(SMALL))


def test_a_shape_change_with_the_same_numbers_changes_the_digest() -> None:
    # (8, 3) and (8, 2) + ... hold other numbers anyway; same numbers, other layout:
    config = LSTMConfig(input_size=2, hidden_size=2)
    w = init_weights(config).layers[0][0]
    wide = LSTMConfig(input_size=4, hidden_size=2)
    # w_ih of (8, 4) made of w_ih and w_hh side by side, w_hh of zeros: the same values
    # would be hashed, but under other shapes
    joined = DirectionWeights(
        np.concatenate([w.w_ih, w.w_hh], axis=1), np.zeros_like(w.w_hh), w.b_ih, w.b_hh
    )
    assert weights_digest(LSTMWeights(wide, ((joined,),))) != weights_digest(
        LSTMWeights(config, ((w,),))
    )


@pytest.mark.parametrize("target", ["keras.npz", "keras.weights.h5"])
def test_a_pytorch_file_and_its_keras_conversion_agree(tmp_path: Path, target: str) -> None:
    config = dataclasses.replace(BI_PROJ, proj_size=0)  # Keras has no projection
    weights = init_weights(config)
    b = weights.layers[0][0]
    assert np.all(b.b_ih != b.b_hh) and np.all(b.b_hh != 0)  # two different, non-zero biases
    torch_file, keras_file = tmp_path / "torch.npz", tmp_path / target
    write_weights(torch_file, weights, "pytorch")
    write_weights(keras_file, weights, "keras")
    read_torch, read_keras = read_weights(torch_file), read_weights(keras_file)
    assert (read_torch.framework, read_keras.framework) == ("pytorch", "keras")
    built = [read_torch.build(config), read_keras.build(config)]
    assert not np.array_equal(built[0].layers[0][0].b_hh, built[1].layers[0][0].b_hh)
    assert weights_digest(built[0]) == weights_digest(built[1]) == weights_digest(weights)


def test_a_pt_file_and_its_keras_conversion_agree(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    weights = init_weights(SMALL)
    write_weights(tmp_path / "m.pt", weights, "pytorch")
    write_weights(tmp_path / "m.weights.h5", weights, "keras")
    digests = {
        weights_digest(read_weights(tmp_path / f).build(SMALL)) for f in ("m.pt", "m.weights.h5")
    }
    assert digests == {weights_digest(weights)}


def _json(capsys: Any, *args: Any) -> tuple[str, dict[str, Any]]:
    assert main([str(a) for a in args]) == 0
    out = capsys.readouterr().out
    return out, json.loads(out)


def test_the_document_names_its_weights(tmp_path: Path, capsys: Any, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    first, seeded = _json(capsys, "--json", "--seed", "3")
    again, _ = _json(capsys, "--json", "--seed", "3")
    assert first == again  # byte-identical for the same command and seed
    digest = weights_digest(init_weights(LSTMConfig(seed=3)))
    assert seeded["weights"] == {"digest": digest, "source": "seeded", "seed": 3}
    assert main(["--seed", "3", "--dtype", "float64", "--save-weights", "w64.npz"]) == 0
    capsys.readouterr()
    _, from_file = _json(capsys, "--json", "--weights", "w64.npz")
    _, as_f32 = _json(capsys, "--json", "--weights", "w64.npz", "--dtype", "float32")
    assert from_file["weights"] == {"digest": digest, "source": "w64.npz", "module": "lstm"}
    assert as_f32["weights"] == from_file["weights"]
    assert from_file["config"]["dtype"] == "float64" and as_f32["config"]["dtype"] == "float32"
    assert main(["--format", "jsonl", "--weights", "w64.npz"]) == 0
    header = json.loads(capsys.readouterr().out.splitlines()[0])
    assert header["weights"] == from_file["weights"]
    assert main(["--format", "jsonl", "--seed", "3"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0])["weights"] == seeded["weights"]


def test_library_traces_name_their_weights() -> None:
    assert trace(SMALL).to_dict()["weights"]["source"] == "seeded"
    given = trace(SMALL, init_weights(SMALL, seed=1)).to_dict()["weights"]
    assert given == {"digest": weights_digest(init_weights(SMALL, seed=1)), "source": "in memory"}
    named = trace(SMALL, init_weights(SMALL), source="encoder.pt").to_dict()["weights"]
    assert named["source"] == "encoder.pt" and "seed" not in named
