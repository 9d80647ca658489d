"""Keras models as shipped: Functional and nested models, every Bidirectional merge_mode,
RNN(LSTMCell)/RNN(GRUCell), legacy .h5 model files (Keras 3's and tf.keras 2's layout).

Each recurrent layer is a module named as the model config names it; lstm-trace's trace of
it on its real input (committed by tests/fixtures/make_keras_model_fixtures.py) must match
Keras's own output of the layer within 1e-5. Live tests (Keras installed) build, save and
compare models here.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace import trace
from lstm_trace.formats.reading import WeightsFile, read_contents, read_weights

from .conftest import FIXTURES, edited_keras, run_cli

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

#: fixture -> its expected .npz and its recurrent modules (each layer's own, in file order)
MODELS = {
    "kmodel_functional.keras": ("functional", ["encoder", "lstm"]),
    "kmodel_functional.h5": ("functional", ["encoder", "lstm"]),
    "kmodel_functional_tf2.h5": ("functional", ["encoder", "lstm"]),
    "kmodel_sequential_gru.keras": ("sequential_gru", ["gru", "gru_1"]),
    "kmodel_nested.keras": ("nested", ["inner/lstm", "inner/lstm_1", "gru"]),
    "kmodel_bi_lstm.keras": ("bi_lstm", ["concat", "sum", "ave", "mul", "none"]),
    "kmodel_bi_gru.keras": ("bi_gru", ["concat", "sum", "ave", "mul", "none"]),
    "kmodel_rnn_cells.keras": ("rnn_cells", ["rnn", "rnn_1"]),
}
CASES = [(f, m) for f, (_, modules) in MODELS.items() for m in modules]


def expected(case: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / f"kmodel_{case}_expected.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def as_keras(output: np.ndarray, wf: WeightsFile) -> np.ndarray:
    """lstm-trace's output (B, T, D*H) as the Keras layer returns it: the halves merged as
    its merge_mode says, the last step only without return_sequences."""
    cfg = wf.keras_config or {}
    h = wf.architecture.hidden_size
    fw, bw = output[..., :h], output[..., h:]
    mode = cfg.get("merge_mode", "concat")
    merged = {
        "concat": lambda: output,
        "sum": lambda: fw + bw,
        "ave": lambda: (fw + bw) / 2,
        "mul": lambda: fw * bw,
        None: lambda: np.stack([fw, bw]),
    }[mode]()
    if not cfg.get("return_sequences", True):
        return merged[..., -1, :]
    return merged


def traced(wf: WeightsFile, x: np.ndarray) -> np.ndarray:
    result = trace(weights=wf.build(wf.architecture.config()), x=x)
    return np.asarray(result.output)


@pytest.mark.parametrize(("fixture", "module"), CASES, ids=[f"{f}:{m}" for f, m in CASES])
def test_each_recurrent_layer_matches_keras(fixture: str, module: str) -> None:
    pytest.importorskip("h5py")
    ref = expected(MODELS[fixture][0])
    wf = read_weights(FIXTURES / fixture, module=module)
    assert (wf.module, wf.framework) == (module, "keras")
    got = as_keras(traced(wf, ref[f"{module}:input"]), wf)
    np.testing.assert_allclose(got, ref[f"{module}:output"], rtol=0, atol=1e-5)


@pytest.mark.parametrize("fixture", list(MODELS))
def test_modules_are_named_as_the_config_names_them(fixture: str) -> None:
    pytest.importorskip("h5py")
    contents = read_contents(FIXTURES / fixture)
    own = [m.name for m in contents.modules if not m.parts]
    assert own == MODELS[fixture][1]


def test_a_functional_model_lists_its_other_layers_and_asks_which(capsys: Any) -> None:
    pytest.importorskip("h5py")
    path = FIXTURES / "kmodel_functional.keras"
    contents = read_contents(path)
    assert [(u.name, u.what) for u in contents.untraced] == [
        ("embedding", "Embedding (80 parameters)"),
        ("dense", "Dense (8 parameters)"),
    ]
    assert [m.parts for m in contents.modules] == [(), ()]  # LSTM(6) and LSTM(3): no stack
    code, out, err = run_cli(capsys, "--weights", path)
    assert (code, out) == (2, "")
    assert "holds 2 recurrent modules: encoder (lstm), lstm (lstm); say which with --module" in err
    code, _, err = run_cli(capsys, "--weights", path, "--module", "decoder")
    assert code == 2 and "no module 'decoder'; its modules are encoder (lstm), lstm (lstm)" in err
    wf = read_weights(path, module="lstm")
    assert wf.keras_config == {
        "return_sequences": False,
        "return_state": False,
        "units": 3,
        "seq_len": 5,
    }
    assert wf.notes == (f"{path}: traced lstm; not traced: encoder, embedding, dense",)


def test_a_nested_chain_stacks_and_a_gru_above_it_does_not_join() -> None:
    pytest.importorskip("h5py")
    path = FIXTURES / "kmodel_nested.keras"
    stack = "inner/lstm+inner/lstm_1"
    assert [m.name for m in read_contents(path).modules][-1] == stack
    wf = read_weights(path, module=stack)
    assert (wf.architecture.num_layers, wf.architecture.hidden_size) == (2, 5)
    ref = expected("nested")
    got = traced(wf, ref["inner/lstm:input"])
    np.testing.assert_allclose(got, ref["inner/lstm_1:output"], rtol=0, atol=1e-5)


def test_grus_that_differ_in_reset_after_do_not_stack_and_say_so() -> None:
    pytest.importorskip("h5py")
    path = FIXTURES / "kmodel_sequential_gru.keras"
    contents = read_contents(path)
    assert [(m.name, m.architecture.reset_after) for m in contents.modules] == [
        ("gru", True),
        ("gru_1", False),
    ]
    assert contents.notes == (
        f"{path}: gru+gru_1 is not traced as one stack: some of the layers have "
        "reset_after=True and others False",
    )


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_merge_modes_are_said_in_the_config_and_a_note(cell: str) -> None:
    pytest.importorskip("h5py")
    path = FIXTURES / f"kmodel_bi_{cell}.keras"
    modes = {"concat": "concat", "sum": "sum", "ave": "ave", "mul": "mul", "none": None}
    for name, mode in modes.items():
        wf = read_weights(path, module=name)
        cfg = wf.keras_config or {}
        assert cfg.get("merge_mode", "concat") == mode
        notes = [n for n in wf.notes if "merge_mode" in n]
        if mode == "concat":
            assert notes == []
        else:
            assert notes[0].startswith(
                f"{path}: layer {name!r} is a Bidirectional with merge_mode={mode!r}: "
                "lstm-trace's output is the two directions concatenated (forward first, H "
                "each), and Keras's is "
            )
    assert "the forward half plus the backward one" in read_weights(path, module="sum").notes[0]


def refused(capsys: Any, path: Path, *args: str) -> str:
    """The one error line, without 'lstm-trace: error: <path>: ', of a file refused."""
    code, out, err = run_cli(capsys, "--weights", path, *args)
    assert code == 1 and out == "" and err.count("\n") == 1, err
    return err.removeprefix(f"lstm-trace: error: {path}: ").rstrip("\n")


def test_only_concat_bidirectionals_stack(tmp_path: Path) -> None:
    pytest.importorskip("h5py")

    def summed(config: dict[str, Any]) -> None:
        config["config"]["layers"][1]["config"]["merge_mode"] = "sum"

    assert [m.name for m in read_contents(FIXTURES / "keras_bi_stack2.keras").modules] == [
        "bidirectional",
        "bidirectional_1",
        "bidirectional+bidirectional_1",
    ]
    path = edited_keras(tmp_path, "keras_bi_stack2.keras", summed, layers=False)
    assert [m.name for m in read_contents(path).modules] == ["bidirectional", "bidirectional_1"]


def test_a_mask_that_reaches_a_recurrent_layer_is_refused(tmp_path: Path, capsys: Any) -> None:
    pytest.importorskip("h5py")

    def mask_zero(config: dict[str, Any]) -> None:
        config["config"]["layers"][1]["config"]["mask_zero"] = True

    path = edited_keras(tmp_path, "kmodel_functional.keras", mask_zero, layers=False)
    assert refused(capsys, path) == (
        "layer 'embedding' masks the steps that layer 'encoder' reads (Masking, or Embedding "
        "with mask_zero=True): Keras skips masked steps and carries the state over them, which "
        "lstm-trace does not trace"
    )

    def masking(config: dict[str, Any]) -> None:
        layer = {"class_name": "Masking", "config": {"name": "masking", "mask_value": 0.0}}
        config["config"]["layers"].insert(1, layer)

    path = edited_keras(tmp_path, "keras_uni.keras", masking, layers=False)
    assert refused(capsys, path).startswith("layer 'masking' masks the steps that layer 'lstm'")


def test_legacy_h5_files_hold_the_weights_the_archive_does() -> None:
    pytest.importorskip("h5py")
    archive = read_weights(FIXTURES / "kmodel_functional.keras", module="encoder")
    for name in ("kmodel_functional.h5", "kmodel_functional_tf2.h5"):
        legacy = read_weights(FIXTURES / name, module="encoder")
        assert legacy.architecture == archive.architecture
        assert legacy.picked.keras is not None and archive.picked.keras is not None
        for a, b in zip(legacy.picked.keras[0], archive.picked.keras[0], strict=True):
            assert a.keys() == b.keys()
            for key in a:
                np.testing.assert_array_equal(a[key], b[key])


def test_a_weights_h5_of_a_nested_model_names_modules_by_their_groups(tmp_path: Path) -> None:
    pytest.importorskip("h5py")
    path = tmp_path / "nested.weights.h5"
    with zipfile.ZipFile(FIXTURES / "kmodel_nested.keras") as archive:
        path.write_bytes(archive.read("model.weights.h5"))
    contents = read_contents(path)
    assert [m.name for m in contents.modules] == [
        "gru",
        "sequential/lstm",
        "sequential/lstm_1",
        "sequential/lstm+sequential/lstm_1",
    ]
    assert [u.name for u in contents.untraced] == ["dense"]
    ref = expected("nested")
    wf = read_weights(path, module="sequential/lstm_1")
    got = traced(wf, ref["inner/lstm_1:input"])
    np.testing.assert_allclose(got, ref["inner/lstm_1:output"], rtol=0, atol=1e-5)


# --- Malformed files: one line each ---------------------------------------------------------


def _rename_encoder(config: dict[str, Any]) -> None:
    text = json.dumps(config).replace('"encoder"', '"renamed"')
    config.update(json.loads(text))


def _read_before_made(config: dict[str, Any]) -> None:
    layers = config["config"]["layers"]
    layers[2], layers[3] = layers[3], layers[2]  # the Dropout now before the LSTM it reads


def _constants(config: dict[str, Any]) -> None:
    node = config["config"]["layers"][4]["inbound_nodes"][0]
    node["kwargs"]["constants"] = node["args"]


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (
            _rename_encoder,
            "config.json's layer 'renamed' is stored at layers/lstm, which holds layer "
            "'encoder': not laid out as Keras 3 writes a model",
        ),
        (
            _read_before_made,
            "not laid out as a Keras file (ValueError: layer 'dropout' reads 'encoder', which "
            "comes after it)",
        ),
        (
            _constants,
            "layer 'lstm' is given constants by the model; lstm-trace traces a recurrent layer "
            "given its input sequence and initial states only",
        ),
    ],
    ids=["renamed", "order", "constants"],
)
def test_a_config_that_does_not_fit_its_weights_is_refused(
    tmp_path: Path, capsys: Any, edit: Callable[[dict[str, Any]], None], words: str
) -> None:
    pytest.importorskip("h5py")
    assert refused(
        capsys, edited_keras(tmp_path, "kmodel_functional.keras", edit, layers=False), "-m", "lstm"
    ) == (words)


def test_malformed_legacy_files_are_refused_in_one_line(tmp_path: Path, capsys: Any) -> None:
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "legacy.h5"
    path.write_bytes((FIXTURES / "kmodel_functional.h5").read_bytes())
    with h5py.File(path, "a") as f:
        del f["model_weights/encoder/encoder/lstm_cell/recurrent_kernel"]
    assert refused(capsys, path) == (
        "model_weights/encoder/encoder/lstm_cell/recurrent_kernel is listed in weight_names "
        "but is not a dataset"
    )
    with h5py.File(path, "a") as f:
        f.attrs["model_config"] = "{not json"
    assert refused(capsys, path).startswith("model_config is not JSON (")
    with h5py.File(path, "a") as f:
        del f["model_weights"]
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {}})
    assert refused(capsys, path) == "a model_config but no model_weights group"


def test_a_layer_missing_from_the_weights_is_refused(tmp_path: Path, capsys: Any) -> None:
    h5py = pytest.importorskip("h5py")
    with zipfile.ZipFile(FIXTURES / "kmodel_functional.keras") as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    blob = tmp_path / "w.h5"
    blob.write_bytes(members["model.weights.h5"])
    with h5py.File(blob, "a") as f:
        del f["layers/lstm_1"]
    members["model.weights.h5"] = blob.read_bytes()
    path = tmp_path / "missing.keras"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    assert refused(capsys, path) == "config.json's layer 'lstm' has no layers/lstm_1 weights"


# --- Live: models built, saved and compared here (Keras installed) ----------------------------


def keras_live() -> Any:
    pytest.importorskip("h5py")
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


def nonzero_biases(model: Any, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for w in model.weights:
        if w.path.endswith("/bias"):
            w.assign((rng.uniform(-0.5, 0.5, size=w.shape) + 0.1).astype("float32"))


def live_model(keras: Any) -> tuple[Any, dict[str, Any]]:
    """A Functional model around a nested Functional one: Bidirectional(GRU, sum) and
    Bidirectional(LSTM, concat) inside, RNN(GRUCell) and a shared LSTM outside."""
    keras.backend.clear_session()
    layers = keras.layers
    inner_in = keras.Input((5, 3))
    summed = layers.Bidirectional(
        layers.GRU(3, return_sequences=True, reset_after=False), merge_mode="sum", name="summed"
    )
    concat = layers.Bidirectional(layers.LSTM(2, return_sequences=True), name="concat")
    inner = keras.Model(inner_in, concat(summed(inner_in)), name="encoder")
    x_in = keras.Input((5, 3))
    cell = layers.RNN(layers.GRUCell(4), return_sequences=True, name="cells")
    shared = layers.LSTM(2, return_sequences=True, name="shared")
    hidden = cell(layers.Dropout(0.1)(inner(x_in)))
    out = layers.Concatenate()([shared(hidden), shared(hidden)])
    model = keras.Model(x_in, layers.Dense(1)(out))
    nonzero_biases(model, 7)
    owners = {"encoder/summed": (summed, inner), "encoder/concat": (concat, inner),
              "cells": (cell, model), "shared": (shared, model)}  # fmt: skip
    return model, owners


def test_live_functional_nested_model_matches_keras(tmp_path: Path) -> None:
    keras = keras_live()
    model, owners = live_model(keras)
    x = np.random.default_rng(8).standard_normal((2, 5, 3)).astype(np.float32)
    model.save(tmp_path / "m.keras")
    model.save(tmp_path / "m.h5")
    for path in (tmp_path / "m.keras", tmp_path / "m.h5"):
        contents = read_contents(path)
        # the concat Bidirectional does not stack on the summed one, nor a shared layer
        assert contents.names() == ["encoder/summed", "encoder/concat", "cells", "shared"]
        assert [u.name for u in contents.untraced] == ["concatenate", "dense"]
        for name, (layer, owner) in owners.items():
            # the nested model reads the model's input itself: x is its input too
            given = np.asarray(
                keras.ops.convert_to_numpy(keras.Model(owner.inputs, layer.input)(x))
            )
            want = np.asarray(keras.ops.convert_to_numpy(layer(given)))
            wf = read_weights(path, module=name)
            got = as_keras(traced(wf, given), wf)
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-5, err_msg=f"{path}:{name}")


def test_live_sequential_legacy_h5_and_mask(tmp_path: Path, capsys: Any) -> None:
    keras = keras_live()
    keras.backend.clear_session()
    layers = keras.layers
    a, b = layers.LSTM(4, return_sequences=True), layers.LSTM(4, return_sequences=True)
    model = keras.Sequential([keras.Input((6, 2)), a, layers.Dropout(0.3), b, layers.Dense(2)])
    nonzero_biases(model, 9)
    model.save(tmp_path / "s.h5")
    x = np.random.default_rng(10).standard_normal((3, 6, 2)).astype(np.float32)
    want = np.asarray(keras.ops.convert_to_numpy(b(a(x))))
    wf = read_weights(tmp_path / "s.h5")  # the stack of both: the default
    assert (wf.module, wf.architecture.num_layers) == ("lstm+lstm_1", 2)
    np.testing.assert_allclose(traced(wf, x), want, rtol=0, atol=1e-5)
    keras.backend.clear_session()
    masked = keras.Sequential([keras.Input((6, 2)), layers.Masking(), layers.LSTM(3)])
    masked.save(tmp_path / "masked.keras")
    assert refused(capsys, tmp_path / "masked.keras").startswith(
        "layer 'masking' masks the steps that layer 'lstm' reads"
    )


def test_a_keras_2_sequential_config_as_a_bare_list_is_read(tmp_path: Path) -> None:
    """Keras 2.2 wrote a Sequential's config as the list of its layers, each naming its own
    batch_input_shape on the first: the same groups and weights read the same."""
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "old.h5"
    path.write_bytes((FIXTURES / "kmodel_functional_tf2.h5").read_bytes())
    with h5py.File(path, "a") as f:
        layers = json.loads(f.attrs["model_config"])["config"]["layers"]
        body = [{"class_name": x["class_name"], "config": x["config"]} for x in layers[1:]]
        body[0]["config"]["batch_input_shape"] = [None, 5]
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": body})
    ref = expected("functional")
    for name in ("encoder", "lstm"):
        wf = read_weights(path, module=name)
        got = as_keras(traced(wf, ref[f"{name}:input"]), wf)
        np.testing.assert_allclose(got, ref[f"{name}:output"], rtol=0, atol=1e-5)


def test_a_model_that_is_not_sequential_or_functional_is_refused(
    tmp_path: Path, capsys: Any
) -> None:
    pytest.importorskip("h5py")

    def subclassed(config: dict[str, Any]) -> None:
        config["class_name"] = "MyModel"
        del config["config"]["layers"]

    path = edited_keras(tmp_path, "kmodel_functional.keras", subclassed, layers=False)
    assert refused(capsys, path) == (
        "only Sequential and Functional models are read from Keras model files (this is a "
        "'MyModel' without a list of layers); save its weights with save_weights as "
        ".weights.h5 instead"
    )


def test_a_layer_given_its_initial_state_by_the_model_says_so(tmp_path: Path) -> None:
    """An encoder-decoder: the decoder's initial state is the encoder's final one. It is
    traced from zeros (or --h0/--c0), and said on stderr."""
    pytest.importorskip("h5py")

    def given_state(config: dict[str, Any]) -> None:
        node = config["config"]["layers"][4]["inbound_nodes"][0]
        state = json.loads(json.dumps(node["args"][0]))
        state["config"]["keras_history"] = ["encoder", 0, 1]
        node["kwargs"]["initial_state"] = [state, state]

    path = edited_keras(tmp_path, "kmodel_functional.keras", given_state, layers=False)
    contents = read_contents(path)
    assert contents.names() == ["encoder", "lstm"]
    assert read_weights(path, module="lstm").notes[0] == (
        f"{path}: layer 'lstm' is given its initial state by the model (from encoder); "
        "lstm-trace starts it from zeros unless --h0/--c0 give that state"
    )


def test_live_encoder_decoder_layers_do_not_stack(tmp_path: Path) -> None:
    """The decoder reads the encoder's sequences and starts from its final states: two
    modules, no stack (a stack would start the decoder from zeros)."""
    keras = keras_live()
    keras.backend.clear_session()
    layers = keras.layers
    x_in = keras.Input((4, 3))
    seq, h, c = layers.LSTM(5, return_sequences=True, return_state=True, name="enc")(x_in)
    out = layers.LSTM(5, return_sequences=True, name="dec")(seq, initial_state=[h, c])
    keras.Model(x_in, out).save(tmp_path / "s2s.keras")
    contents = read_contents(tmp_path / "s2s.keras")
    assert contents.names() == ["enc", "dec"]
    assert (
        "given its initial state by the model (from enc)"
        in read_weights(tmp_path / "s2s.keras", module="dec").notes[0]
    )


def weights_only(path: Path, layers: dict[str, dict[str, np.ndarray]]) -> None:
    """A file as tf.keras 2's save_weights('w.h5') wrote it: {layer: {weight name: array}},
    in model order (a layer without weights: an empty dict)."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [n.encode() for n in layers]
        f.attrs["keras_version"] = "2.15.0"
        for name, weights in layers.items():
            group = f.create_group(name)
            group.attrs["weight_names"] = [w.encode() for w in weights]
            for w, value in weights.items():
                group.create_dataset(w, data=value)


def test_tf_keras_2_weights_only_h5_is_read_in_its_layer_order(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    blob = tmp_path / "nested.weights.h5"
    with zipfile.ZipFile(FIXTURES / "kmodel_nested.keras") as archive:
        blob.write_bytes(archive.read("model.weights.h5"))
    fields = ("kernel", "recurrent_kernel", "bias")
    with h5py.File(blob) as f:
        held = {
            group: {
                f"{name}/lstm_cell/{field}:0": f[f"layers/sequential/layers/{group}/cell/vars/{k}"][
                    ()
                ]
                for k, field in enumerate(fields)
            }
            for group, name in (("lstm", "lstm_1"), ("lstm_1", "lstm_2"))
        }
    path = tmp_path / "old.h5"
    weights_only(path, {"lstm_1": held["lstm"], "dropout": {}, "lstm_2": held["lstm_1"]})
    contents = read_contents(path)
    assert contents.names() == ["lstm_1", "lstm_2", "lstm_1+lstm_2"]
    wf = read_weights(path)  # the stack of both: the default
    ref = expected("nested")
    got = traced(wf, ref["inner/lstm:input"])
    np.testing.assert_allclose(got, ref["inner/lstm_1:output"], rtol=0, atol=1e-5)
    dense = {"dense/kernel:0": np.ones((5, 5), np.float32)}
    weights_only(path, {"lstm_1": held["lstm"], "dense": dense, "lstm_2": held["lstm_1"]})
    contents = read_contents(path)  # a Dense between: no stack
    assert contents.names() == ["lstm_1", "lstm_2"]
    assert [(u.name, u.what) for u in contents.untraced] == [("dense", "weights (25 parameters)")]


def test_live_other_layers_are_named_with_their_class_and_parameters(tmp_path: Path) -> None:
    keras = keras_live()
    keras.backend.clear_session()
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((6, 2)),
            layers.Conv1D(3, 2),  # 2 * 2 * 3 + 3 = 15 parameters
            layers.SimpleRNN(4, return_sequences=True),  # 3 * 4 + 4 * 4 + 4 = 32
            layers.LSTM(2),
        ]
    )
    model.save(tmp_path / "m.keras")
    contents = read_contents(tmp_path / "m.keras")
    assert contents.names() == ["lstm"]
    assert [(u.name, u.what) for u in contents.untraced] == [
        ("conv1d", "Conv1D (15 parameters)"),
        ("simple_rnn", "SimpleRNN (no gates; 32 parameters)"),
    ]
    assert read_weights(tmp_path / "m.keras").keras_config == {
        "return_sequences": False,
        "return_state": False,
        "units": 2,
        "seq_len": 5,
    }
