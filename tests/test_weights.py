from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lstm_trace import ConfigError, LSTMConfig, init_input, init_weights, param_count
from lstm_trace.frameworks import weights_from_pytorch
from lstm_trace.weights import pytorch_name


@pytest.mark.parametrize(
    ("kwargs", "keras", "pytorch"),
    [
        ({}, 28_840, 29_120),
        ({"bidirectional": True}, 57_680, 58_240),
        # layer 1 of a bidirectional stack reads 140: 4 * (70 * 210 + 70) per direction
        ({"bidirectional": True, "num_layers": 2}, 57_680 + 2 * 4 * (70 * 210 + 70), None),
    ],
)
def test_param_counts(kwargs: dict[str, object], keras: int, pytorch: int | None) -> None:
    count = param_count(LSTMConfig(**kwargs))  # type: ignore[arg-type]
    assert count.keras == keras
    if pytorch is not None:
        assert count.pytorch == pytorch
    else:  # PyTorch adds a second bias of 4H per layer and direction
        assert count.pytorch == keras + 4 * 4 * 70


def test_param_count_with_projection() -> None:
    # nn.LSTM(10, 20, proj_size=5): w_ih 80x10, w_hh 80x5, two biases of 80, w_hr 5x20
    count = param_count(LSTMConfig(input_size=10, hidden_size=20, proj_size=5))
    assert count.pytorch == 80 * 10 + 80 * 5 + 160 + 5 * 20
    assert count.keras is None


@settings(max_examples=40, deadline=None)
@given(
    i=st.integers(1, 9),
    h=st.integers(2, 9),
    layers=st.integers(1, 4),
    bi=st.booleans(),
    proj=st.integers(0, 1),
)
def test_param_count_closed_form_matches_the_arrays(
    i: int, h: int, layers: int, bi: bool, proj: int
) -> None:
    cfg = LSTMConfig(
        input_size=i, hidden_size=h, num_layers=layers, bidirectional=bi, proj_size=proj
    )
    count = param_count(cfg)
    assert count.pytorch == sum(a.size for a in init_weights(cfg).to_pytorch().values())
    d = 2 if bi else 1
    keras = sum(d * 4 * (h * ((i if k == 0 else d * h) + h) + h) for k in range(layers))
    assert count.keras == (None if proj else keras)


def test_param_count_equals_sum_of_arrays() -> None:
    cfg = LSTMConfig(input_size=7, hidden_size=5, num_layers=3, bidirectional=True, proj_size=2)
    w = init_weights(cfg)
    assert sum(a.size for a in w.to_pytorch().values()) == param_count(cfg).pytorch


def test_walkthrough_gate_shapes() -> None:
    w = init_weights(LSTMConfig()).layers[0][0]
    for gate in "fico":
        assert w.gate_weight(gate).shape == (70, 102)
        assert w.gate_bias(gate).shape == (70,)


def test_gate_weight_is_hh_then_ih_rows() -> None:
    w = init_weights(LSTMConfig(input_size=3, hidden_size=2)).layers[0][0]
    # PyTorch order i, f, g, o: the forget gate is rows 2:4
    np.testing.assert_array_equal(w.gate_weight("f")[:, :2], w.w_hh[2:4])
    np.testing.assert_array_equal(w.gate_weight("f")[:, 2:], w.w_ih[2:4])
    np.testing.assert_array_equal(w.gate_bias("c"), w.b_ih[4:6] + w.b_hh[4:6])


def test_init_is_seeded_bounded_and_biases_differ() -> None:
    cfg = LSTMConfig(hidden_size=16, input_size=4, bidirectional=True)
    a, b = init_weights(cfg), init_weights(cfg)
    for (_, _, wa), (_, _, wb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(wa.w_ih, wb.w_ih)
        assert np.abs(wa.w_ih).max() <= 1 / np.sqrt(16)
        assert np.all(wa.b_ih != 0) and not np.allclose(wa.b_ih, wa.b_hh)
    c = init_weights(cfg, seed=1)
    assert not np.array_equal(a.layers[0][0].w_ih, c.layers[0][0].w_ih)


def test_input_is_seeded_and_shaped() -> None:
    assert init_input(LSTMConfig()).shape == (3, 32)
    x = init_input(LSTMConfig(batch=4, seq_len=6, dtype="float64"))
    assert x.shape == (4, 6, 32) and x.dtype == np.float64
    np.testing.assert_array_equal(x, init_input(LSTMConfig(batch=4, seq_len=6, dtype="float64")))


def test_pytorch_names_round_trip() -> None:
    assert pytorch_name("w_ih", 1, "backward") == "weight_ih_l1_reverse"
    assert pytorch_name("b_hh", 0, "forward") == "bias_hh_l0"
    cfg = LSTMConfig(num_layers=2, bidirectional=True, hidden_size=4, input_size=3, proj_size=2)
    w = init_weights(cfg)
    back = weights_from_pytorch(w.to_pytorch(), cfg)
    for (_, _, x), (_, _, y) in zip(w, back, strict=True):
        np.testing.assert_array_equal(x.w_hr, y.w_hr)


def test_state_dict_with_wrong_names_or_shapes_is_refused() -> None:
    cfg = LSTMConfig(hidden_size=4, input_size=3)
    sd = init_weights(cfg).to_pytorch()
    with pytest.raises(ConfigError, match="missing bias_hh_l0"):
        weights_from_pytorch({k: v for k, v in sd.items() if k != "bias_hh_l0"}, cfg)
    with pytest.raises(ConfigError, match=r"weight_ih_l0: expected shape \(16, 3\)"):
        weights_from_pytorch({**sd, "weight_ih_l0": np.zeros((16, 2))}, cfg)
