"""The live API on Keras (KERAS_BACKEND=torch here): capture(model) and trace_module(layer, x).

The reference is what Keras itself computes, read here from a sub-model that returns each
layer's output: within 1e-5 in float32 and 1e-10 in float64. Keras starts biases at zero
(and the LSTM's forget bias at one), so every bias is set to random values first: a GRU's
input and recurrent biases differ.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

import lstm_trace
from lstm_trace import ConfigError

TOL = {"float32": 1e-5, "float64": 1e-10}


@pytest.fixture
def keras() -> Any:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    return keras


def _random_biases(keras: Any, *layers: Any, seed: int = 1) -> None:
    """Every recurrent cell's bias set to random values (a GRU's two rows differ)."""
    rng = np.random.default_rng(seed)
    for layer in layers:
        halves = (
            [layer.forward_layer, layer.backward_layer]
            if hasattr(layer, "forward_layer")
            else [layer]
        )
        for half in halves:
            bias = half.cell.bias
            bias.assign(rng.uniform(-0.5, 0.5, tuple(bias.shape)).astype(bias.dtype))


def _numpy(keras: Any, value: Any) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(value))


def _outputs(keras: Any, model: Any, layers: list[Any], batch: Any) -> list[Any]:
    """What each layer returned on batch, by Keras alone (a sub-model of model)."""
    sub = keras.Model(model.input, [layer.output for layer in layers])
    return list(sub(batch))


def _close(ours: np.ndarray, theirs: Any, keras: Any, dtype: str) -> float:
    theirs = _numpy(keras, theirs)
    assert ours.shape == theirs.shape
    err = float(np.abs(ours - theirs).max())
    assert err < TOL[dtype]
    return err


def _functional(keras: Any, dtype: str = "float32") -> tuple[Any, Any, Any]:
    inp = keras.Input((6,), dtype="int32")
    x = keras.layers.Embedding(10, 4, dtype=dtype)(inp)
    first = keras.layers.LSTM(5, return_sequences=True, name="first", dtype=dtype)
    x = keras.layers.Dropout(0.3)(first(x))
    second = keras.layers.LSTM(3, return_state=True, name="second", dtype=dtype)
    out, h, c = second(x)
    y = keras.layers.Dense(2, dtype=dtype)(out)
    model = keras.Model(inp, [y, h, c])
    _random_biases(keras, first, second)
    return model, first, second


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_functional_model_with_two_lstms_of_different_sizes(keras: Any, dtype: str) -> None:
    model, first, second = _functional(keras, dtype)
    batch = np.random.default_rng(2).integers(0, 10, (3, 6)).astype("int32")
    with lstm_trace.capture(model) as traces:
        model(batch)
        model.predict(batch, verbose=0)
    assert list(traces) == ["first", "second"]
    assert len(traces.calls("first")) == 2  # model(batch), then predict's one batch
    ref = _outputs(keras, model, [first, second], batch)
    seq, (out, h, c) = ref[0], ref[1]
    a, b = traces["first"], traces["second"]
    assert a.config.hidden_size == 5 and b.config.hidden_size == 3 and b.config.dtype == dtype
    err = _close(a.output, seq, keras, dtype)
    assert a.replay_error == pytest.approx(err, abs=1e-300)
    _close(b.output[:, -1], out, keras, dtype)  # no return_sequences: the last step
    _close(b.h_n[0], h, keras, dtype)
    _close(b.c_n[0], c, keras, dtype)  # type: ignore[index]
    assert b.replay_error is not None and b.replay_error < TOL[dtype]
    assert b.to_dict()["weights"]["source"] == "captured: second"


@pytest.mark.parametrize("reset_after", [True, False])
def test_a_sequential_gru_and_a_nested_bidirectional(keras: Any, reset_after: bool) -> None:
    gru = keras.layers.GRU(4, return_sequences=True, reset_after=reset_after, name="gru")
    bi = keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True), name="bi")
    inner = keras.Sequential([keras.Input((5, 4)), bi], name="inner")
    model = keras.Sequential([keras.Input((5, 2)), gru, inner, keras.layers.Dense(1)])
    _random_biases(keras, gru, bi)
    if reset_after:
        b = gru.cell.bias
        assert not np.allclose(_numpy(keras, b)[0], _numpy(keras, b)[1])
    batch = np.random.default_rng(3).normal(size=(2, 5, 2)).astype("float32")
    with lstm_trace.capture(model) as traces:
        model(batch)
    assert list(traces) == ["gru", "inner/bi"]
    g, both = traces["gru"], traces["inner/bi"]
    assert g.config.cell == "gru" and g.config.reset_after is reset_after
    assert both.config.direction == "bi"
    keras_gru = _numpy(keras, gru(batch))
    _close(g.output, keras_gru, keras, "float32")
    _close(both.output, bi(keras_gru), keras, "float32")
    assert both.replay_error is not None and both.replay_error < 1e-5


def test_a_bidirectional_gru_returning_states(keras: Any) -> None:
    layer = keras.layers.Bidirectional(keras.layers.GRU(3, return_state=True), name="bigru")
    x = np.random.default_rng(4).normal(size=(2, 4, 3)).astype("float32")
    layer.build((2, 4, 3))
    _random_biases(keras, layer)
    done = lstm_trace.trace_module(layer, x)
    out, h_forward, h_backward = layer(x)
    _close(np.concatenate([done.h_n[0], done.h_n[1]], axis=-1), out, keras, "float32")
    _close(done.h_n[0], h_forward, keras, "float32")
    _close(done.h_n[1], h_backward, keras, "float32")
    assert done.replay_error is not None and done.replay_error < 1e-5


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rnn_of_a_cell", [False, True])
def test_go_backwards_and_an_rnn_of_a_cell_from_an_initial_state(
    keras: Any, rnn_of_a_cell: bool, dtype: str
) -> None:
    options = {"return_sequences": True, "go_backwards": True, "dtype": dtype}
    if rnn_of_a_cell:
        layer = keras.layers.RNN(keras.layers.LSTMCell(3, dtype=dtype), **options)
    else:
        layer = keras.layers.LSTM(3, **options)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 4, 2)).astype(dtype)
    h0, c0 = rng.normal(size=(1, 2, 3)).astype(dtype), rng.normal(size=(1, 2, 3)).astype(dtype)
    layer.build((2, 4, 2))
    _random_biases(keras, layer)
    done = lstm_trace.trace_module(layer, x, h0=h0, c0=c0)
    assert done.config.direction == "reverse"
    theirs = layer(x, initial_state=[h0[0], c0[0]])  # the last step first
    # Keras's step-by-step RNN loop (an RNN of a cell) agrees with its own LSTM layer only
    # to about 1e-8 in float64 (measured: 1.3e-8), so it is held to float32's 1e-5
    tolerance = "float32" if rnn_of_a_cell else dtype
    _close(done.output[:, ::-1], theirs, keras, tolerance)
    assert done.replay_error is not None and done.replay_error < TOL[tolerance]


def test_the_wrappers_go_after_the_with_and_when_it_raises(keras: Any) -> None:
    model, first, second = _functional(keras)
    batch = np.zeros((1, 6), dtype="int32")
    with lstm_trace.capture(model) as traces:
        assert "call" in vars(first)
        model(batch)
    model(batch)
    assert len(traces.calls("first")) == 1
    with pytest.raises(RuntimeError, match="boom"), lstm_trace.capture(model):
        raise RuntimeError("boom")
    assert "call" not in vars(first) and "call" not in vars(second)
    with lstm_trace.capture(model) as outer:
        with lstm_trace.capture(first) as inner:
            model(batch)
        model(batch)  # the outer capture still sees this call; the inner one does not
    assert len(outer.calls("first")) == 2 and len(inner.calls("first")) == 1
    assert "call" not in vars(first)


def test_a_mask_is_refused_in_one_line(keras: Any) -> None:
    inp = keras.Input((5,), dtype="int32")
    lstm = keras.layers.LSTM(3, name="masked")
    model = keras.Model(inp, lstm(keras.layers.Embedding(10, 4, mask_zero=True)(inp)))
    with pytest.raises(ConfigError) as caught:  # noqa: SIM117
        with lstm_trace.capture(model):
            model(np.array([[1, 2, 0, 0, 0]], dtype="int32"))
    assert str(caught.value).startswith("masked: a mask reaches this layer")
    assert "\n" not in str(caught.value) and "call" not in vars(lstm)


def test_dropout_in_training_and_what_lstm_trace_does_not_compute_are_refused(
    keras: Any,
) -> None:
    lstm = keras.layers.LSTM(3, dropout=0.2, name="dropping")
    x = np.ones((1, 4, 2), dtype="float32")
    with pytest.raises(ConfigError, match=r"dropping: dropout=0\.2.*training=False"):  # noqa: SIM117
        with lstm_trace.capture(lstm):
            lstm(x, training=True)
    with lstm_trace.capture(lstm) as traces:
        out = lstm(x)  # not training: no dropout
    _close(traces["dropping"].h_n[0], out, keras, "float32")
    relu = keras.layers.LSTM(3, activation="relu", name="relu")
    with pytest.raises(ConfigError, match="relu: activation='relu'"):
        lstm_trace.capture(relu)
    summed = keras.layers.Bidirectional(keras.layers.GRU(2), merge_mode="sum", name="summed")
    with pytest.raises(ConfigError, match="merge_mode='sum'"):
        lstm_trace.capture(summed)
    mixed = keras.layers.Bidirectional(
        keras.layers.LSTM(3), backward_layer=keras.layers.GRU(3, go_backwards=True), name="mixed"
    )
    mixed.build((1, 4, 2))
    with pytest.raises(ConfigError, match=r"mixed: .* LSTM\(3, use_bias=True\) .* GRU\(3, "):
        lstm_trace.capture(mixed)
    with pytest.raises(ConfigError, match="found no Keras LSTM"):
        lstm_trace.capture(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]))


def test_a_layer_run_where_its_values_cannot_be_read_is_refused(
    keras: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compiled function's tensors (TensorFlow's graph, JAX's tracers) have no values: made
    here by a conversion that fails as theirs does."""
    lstm = keras.layers.LSTM(3, name="compiled")
    x = np.ones((1, 4, 2), dtype="float32")
    lstm(x)  # built
    real = keras.ops.convert_to_numpy

    def graph_tensor(value: Any) -> Any:
        if tuple(np.shape(value)) == (1, 4, 2):
            raise TypeError("a symbolic tensor has no value")
        return real(value)

    monkeypatch.setattr(keras.ops, "convert_to_numpy", graph_tensor)
    with pytest.raises(ConfigError) as caught:  # noqa: SIM117
        with lstm_trace.capture(lstm):
            lstm(x)
    assert str(caught.value).startswith("compiled: the layer ran inside a compiled function")
    assert "\n" not in str(caught.value) and "call" not in vars(lstm)
