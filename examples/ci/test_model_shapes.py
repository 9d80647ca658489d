"""A test a team keeps in its own suite: pin an LSTM's shapes with lstm-trace's Python API.

Run: python -m pytest examples/ci/test_model_shapes.py
"""

from lstm_trace import LSTMConfig, assert_shapes

ENCODER = LSTMConfig(input_size=32, hidden_size=70, bidirectional=True, seq_len=10, batch=4)


def test_encoder_shapes() -> None:
    assert_shapes(
        ENCODER,
        output=(4, 10, 140),  # 70 forward + 70 backward
        h_n=(2, 4, 70),
        W_f=(70, 102),  # acts on [h_(t-1), x_t]: 70 + 32
        params_keras=57_680,
        params_pytorch=58_240,
    )


def test_any_batch_size() -> None:
    assert_shapes(ENCODER, output=(None, 10, 140))  # None (or "*") matches any one dimension
