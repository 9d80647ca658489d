"""The GRU's numbers against independent references.

A one-unit step worked out by hand (both reset_after values); PyTorch's nn.GRU through the
committed fixtures (fixtures/make_gru_fixtures.py) and live; Keras's GRU through its
committed fixtures (fixtures/make_keras_gru_fixtures.py: reset_after True and False, uni, bi,
a stack of two, go_backwards) and live; and the GRU's parameter counts and refusals.

The weights are built here from the fixtures' arrays (the readers of files are tested
elsewhere): Keras's kernels are (I, 3H) with columns z, r, h, so they are transposed and
their blocks moved to PyTorch's rows r, z, n.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace import LSTMConfig, forward, weights_from_pytorch
from lstm_trace.cell import HookEvent
from lstm_trace.cells import GRU
from lstm_trace.errors import ConfigError
from lstm_trace.weights import DirectionWeights, LSTMWeights, init_weights, param_count

FIXTURES = Path(__file__).parent / "fixtures"
TORCH_FIXTURES = sorted(FIXTURES.glob("gru_torch_*.npz"))


def load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def tolerance(dtype: str) -> float:
    return 1e-5 if dtype == "float32" else 1e-10


# --- a one-unit step, worked by hand -------------------------------------------------------

# I = 1, H = 1; rows r, z, n. Every weight and bias differs, no bias is zero.
W_IH = [0.5, -0.4, 0.8]  # w_ir, w_iz, w_in
W_HH = [0.3, 0.6, -0.7]  # w_hr, w_hz, w_hn
B_IH = [0.1, -0.2, 0.25]  # b_ir, b_iz, b_in
B_HH = [-0.05, 0.15, 0.4]  # b_hr, b_hz, b_hn
X_0, H_0 = 1.5, 0.6


def sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def hand_worked(reset_after: bool) -> dict[str, float]:
    """The step as arithmetic, x = 1.5 and h_(t-1) = 0.6:

    r  = sigmoid(0.5*1.5 + 0.1 + 0.3*0.6 - 0.05)  = sigmoid(0.98)  = 0.72710821634...
    z  = sigmoid(-0.4*1.5 - 0.2 + 0.6*0.6 + 0.15) = sigmoid(-0.29) = 0.42800386706...
    reset_after=True (PyTorch's):
        rh = r * (-0.7*0.6 + 0.4) = r * -0.02                   = -0.01454216432...
        n  = tanh(0.8*1.5 + 0.25 + rh) = tanh(1.45 + rh)        =  0.89277964920...
    reset_after=False (Keras's other form; b_hn joins b_in outside the reset):
        rh = r * 0.6                                            =  0.43626492980...
        n  = tanh(0.8*1.5 + 0.25 - 0.7*rh + 0.4) = tanh(1.85 - 0.7*rh) = 0.91289252607...
    h  = (1 - z) * n + z * 0.6: 0.76746882714... (True), 0.77897331493... (False)
    """
    r = sigmoid(0.5 * 1.5 + 0.1 + 0.3 * 0.6 - 0.05)
    z = sigmoid(-0.4 * 1.5 - 0.2 + 0.6 * 0.6 + 0.15)
    if reset_after:
        rh = r * (-0.7 * 0.6 + 0.4)
        n = math.tanh(0.8 * 1.5 + 0.25 + rh)
    else:
        rh = r * 0.6
        n = math.tanh(0.8 * 1.5 + 0.25 - 0.7 * rh + 0.4)
    h = (1 - z) * n + z * 0.6
    return {"reset_gate": r, "update_gate": z, "reset_hidden": rh, "candidate": n,
            "hidden_state": h}  # fmt: skip


def one_unit(reset_after: bool) -> LSTMWeights:
    cfg = LSTMConfig(input_size=1, hidden_size=1, seq_len=1, dtype="float64", cell="gru",
                     reset_after=reset_after)  # fmt: skip
    w = DirectionWeights(
        np.array(W_IH).reshape(3, 1), np.array(W_HH).reshape(3, 1), np.array(B_IH),
        np.array(B_HH), cell="gru",
    )  # fmt: skip
    return LSTMWeights(cfg, ((w,),))


@pytest.mark.parametrize("reset_after", [True, False])
def test_one_unit_step_worked_by_hand(reset_after: bool) -> None:
    want = hand_worked(reset_after)
    assert want["hidden_state"] == pytest.approx(
        0.7674688271459043 if reset_after else 0.7789733149366658, abs=1e-15
    )  # the figures of hand_worked's docstring
    weights = one_unit(reset_after)
    out, h_n = forward(weights, [[X_0]], h0=[[H_0]])
    assert out.shape == (1, 1) and h_n.shape == (1, 1)
    assert out[0, 0] == pytest.approx(want["hidden_state"], abs=1e-14)
    assert h_n[0, 0] == pytest.approx(want["hidden_state"], abs=1e-14)

    seen: dict[str, np.ndarray] = {}

    def hook(event: HookEvent) -> None:
        seen[event.name] = np.array(event.value)

    hooked, hooked_h = forward(weights, [[X_0]], h0=[[H_0]], hooks=[hook])
    assert list(seen) == list(GRU.hook_points)
    want = {**want, "x": X_0, "h_prev": H_0}
    for name in GRU.hook_points:
        if name == "concat":
            np.testing.assert_allclose(seen[name], [H_0, X_0], rtol=0, atol=1e-15)
        else:
            assert seen[name].shape == (1,)
            assert seen[name][0] == pytest.approx(want[name], abs=1e-14), name
    assert np.array_equal(hooked, out) and np.array_equal(hooked_h, h_n)


def test_the_two_reset_forms_differ_on_the_hand_worked_step() -> None:
    # the test above would pass for both values if reset_after were ignored, were the
    # numbers equal: they are not
    a, _ = forward(one_unit(True), [[X_0]], h0=[[H_0]])
    b, _ = forward(one_unit(False), [[X_0]], h0=[[H_0]])
    assert abs(a[0, 0] - b[0, 0]) > 1e-2


# --- PyTorch: the committed fixtures -----------------------------------------------------


def torch_config(a: dict[str, np.ndarray]) -> LSTMConfig:
    batch = int(a["meta_batch"])
    return LSTMConfig(
        input_size=int(a["meta_input_size"]),
        hidden_size=int(a["meta_hidden_size"]),
        num_layers=int(a["meta_num_layers"]),
        bidirectional=bool(a["meta_bidirectional"]),
        bias=bool(a["meta_bias"]),
        batch=None if batch < 0 else batch,
        seq_len=int(a["meta_seq_len"]),
        dtype=str(a["meta_dtype"]),  # type: ignore[arg-type]
        cell="gru",
    )


@pytest.mark.parametrize("path", TORCH_FIXTURES, ids=lambda p: p.stem)
def test_torch_gru_fixtures(path: Path) -> None:
    a = load(path)
    cfg = torch_config(a)
    state = {k: v for k, v in a.items() if k.startswith(("weight_", "bias_"))}
    weights = weights_from_pytorch(state, cfg)
    out, h_n = forward(weights, a["x"], h0=a.get("h0"))
    tol = tolerance(cfg.dtype)
    assert out.shape == a["output"].shape and h_n.shape == a["h_n"].shape
    np.testing.assert_allclose(out, a["output"], rtol=0, atol=tol)
    np.testing.assert_allclose(h_n, a["h_n"], rtol=0, atol=tol)
    assert param_count(cfg).pytorch == int(a["meta_param_count"])


def test_torch_gru_fixtures_cover_every_case() -> None:
    cases = [load(p) for p in TORCH_FIXTURES]
    assert len(cases) == 4
    assert any("h0" in a for a in cases)  # a given initial state
    assert any(int(a["meta_batch"]) < 0 for a in cases)  # unbatched
    assert any(not bool(a["meta_bias"]) for a in cases)  # bias-free
    assert any(bool(a["meta_bidirectional"]) and int(a["meta_num_layers"]) > 1 for a in cases)
    assert {str(a["meta_dtype"]) for a in cases} == {"float32", "float64"}


# --- PyTorch, live ---------------------------------------------------------------------

LIVE_TORCH = [
    # input, hidden, layers, bidirectional, batch (None: unbatched), T, with h0, seed
    (3, 4, 1, False, 2, 5, False, 0),
    (5, 3, 2, True, 3, 4, True, 1),
    (2, 6, 3, False, None, 6, True, 2),
    (4, 5, 2, True, None, 3, False, 3),
    (7, 2, 1, True, 1, 7, True, 4),
    (1, 1, 2, False, 4, 2, True, 5),
]


@pytest.mark.parametrize("case", LIVE_TORCH, ids=lambda c: "-".join(map(str, c)))
def test_live_against_torch_gru(case: tuple[Any, ...]) -> None:
    torch = pytest.importorskip("torch")
    i, h, layers, bi, batch, t, with_h0, seed = case
    torch.manual_seed(100 + seed)
    gru = torch.nn.GRU(i, h, num_layers=layers, bidirectional=bi, batch_first=True,
                       dtype=torch.float64)  # fmt: skip
    with torch.no_grad():
        for name, p in gru.named_parameters():
            if name.startswith("bias"):  # non-zero and different between b_ih and b_hh
                p.copy_(torch.rand_like(p) - (0.2 if "ih" in name else 0.7))
    d = 2 if bi else 1
    shape = () if batch is None else (batch,)
    x = torch.randn(*shape, t, i, dtype=torch.float64)
    h0 = torch.randn(d * layers, *shape, h, dtype=torch.float64) if with_h0 else None
    with torch.no_grad():
        want_out, want_h = gru(x, h0)
    cfg = LSTMConfig(input_size=i, hidden_size=h, num_layers=layers, bidirectional=bi,
                     batch=batch, seq_len=t, dtype="float64", cell="gru")  # fmt: skip
    weights = weights_from_pytorch(gru.state_dict(), cfg)
    out, h_n = forward(weights, x.numpy(), h0=None if h0 is None else h0.numpy())
    np.testing.assert_allclose(out, want_out.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(h_n, want_h.numpy(), rtol=0, atol=1e-10)
    assert param_count(cfg).pytorch == sum(p.numel() for p in gru.parameters())


# --- Keras: the committed fixtures -------------------------------------------------------


def rzn(v: np.ndarray) -> np.ndarray:
    """Keras's blocks z, r, h along the last axis -> PyTorch's r, z, n (same axis)."""
    z, r, n = np.split(v, 3, axis=-1)
    return np.concatenate([r, z, n], axis=-1)


def keras_direction(a: dict[str, np.ndarray], prefix: str, reset_after: bool) -> DirectionWeights:
    """kernel (I, 3H), recurrent_kernel (H, 3H) columns z, r, h; bias (2, 3H) rows input,
    recurrent (reset_after=True) or (3H,) the input bias only -> DirectionWeights."""
    kernel, rec, bias = (a[f"{prefix}/{k}"] for k in ("kernel", "recurrent_kernel", "bias"))
    b_ih, b_hh = (bias[0], bias[1]) if reset_after else (bias, np.zeros_like(bias))
    return DirectionWeights(
        rzn(kernel).T.copy(), rzn(rec).T.copy(), rzn(b_ih), rzn(b_hh), cell="gru"
    )


def keras_prefixes(a: dict[str, np.ndarray]) -> Iterator[list[str]]:
    """The variable paths of each layer's cells, forward before backward."""
    cells = sorted({k.rsplit("/", 1)[0] for k in a if k.endswith("/kernel")})
    if bool(a["meta_bidirectional"]):
        forward_, backward_ = (
            sorted(c for c in cells if f"/{d}_" in c) for d in ("forward", "backward")
        )
        yield from ([f, b] for f, b in zip(forward_, backward_, strict=True))
    else:
        # 'sequential/gru/...' sorts before 'sequential/gru_1/...': layer order
        yield from ([c] for c in cells)


def keras_weights(a: dict[str, np.ndarray]) -> LSTMWeights:
    reset_after = bool(a["meta_reset_after"])
    batch, t, i = a["x"].shape
    direction = "bi" if bool(a["meta_bidirectional"]) else "uni"
    if bool(a["meta_go_backwards"]):
        direction = "reverse"
    cfg = LSTMConfig(input_size=i, hidden_size=int(a["meta_units"]), seq_len=t, batch=batch,
                     num_layers=int(a["meta_num_layers"]), cell="gru", direction=direction,
                     reset_after=reset_after)  # fmt: skip
    layers = tuple(
        tuple(keras_direction(a, p, reset_after) for p in layer) for layer in keras_prefixes(a)
    )
    return LSTMWeights(cfg, layers)


KERAS_CASES = [f"keras_gru_{s}_ra{r}" for s in ("uni", "bi", "stack2") for r in (1, 0)]


@pytest.mark.parametrize("name", KERAS_CASES)
def test_keras_gru_fixtures(name: str) -> None:
    a = load(FIXTURES / f"{name}_expected.npz")
    assert bool(a["meta_reset_after"]) == name.endswith("ra1")
    weights = keras_weights(a)
    out, h_n = forward(weights, a["x"])
    np.testing.assert_allclose(out, a["output"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(h_n, a["h_n"], rtol=0, atol=1e-5)
    assert param_count(weights.config).keras == int(a["meta_param_count"])


def test_keras_backwards_gru_fixture() -> None:
    # go_backwards returns the outputs in the order it computed them: output[:, s] is h
    # after reading x[:, T-1-s]; lstm-trace's reverse direction keeps time order
    a = load(FIXTURES / "keras_backwards_gru_expected.npz")
    weights = keras_weights(a)
    assert weights.config.directions == ("backward",)
    out, h_n = forward(weights, a["x"])
    np.testing.assert_allclose(out[:, ::-1], a["output"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(h_n, a["h_n"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(out[:, 0], a["h_n"][0], rtol=0, atol=1e-6)  # x[:, 0] read last
    assert param_count(weights.config).keras == int(a["meta_param_count"])


# --- Keras, live -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras() -> Any:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("torch")
    module = pytest.importorskip("keras")
    if module.backend.backend() != "torch":
        pytest.skip("the live Keras comparison runs on the torch backend")
    return module


LIVE_KERAS = [
    # reset_after, bidirectional, go_backwards, units, input, T, batch, seed
    (True, True, False, 3, 4, 5, 2, 0),
    (False, False, True, 4, 2, 4, 3, 1),
    (False, True, False, 2, 3, 3, 1, 2),
]


@pytest.mark.parametrize("case", LIVE_KERAS, ids=lambda c: "-".join(map(str, c)))
def test_live_against_keras_gru(keras: Any, case: tuple[Any, ...]) -> None:
    reset_after, bi, backwards, units, i, t, batch, seed = case
    keras.backend.clear_session()
    keras.utils.set_random_seed(300 + seed)
    layer = keras.layers.GRU(units, reset_after=reset_after, return_sequences=True,
                             go_backwards=backwards)  # fmt: skip
    model = keras.Sequential(
        [keras.Input((t, i)), keras.layers.Bidirectional(layer) if bi else layer]
    )
    rng = np.random.default_rng(400 + seed)
    for w in model.weights:
        if w.path.endswith("/bias"):  # non-zero, different per gate and row
            w.assign((rng.uniform(-0.5, 0.5, size=w.shape) + 0.2).astype("float32"))
    x = rng.standard_normal((batch, t, i)).astype(np.float32)
    want = keras.ops.convert_to_numpy(model(x))
    a = {w.path: keras.ops.convert_to_numpy(w.value) for w in model.weights}
    a |= {"x": x, "meta_reset_after": np.array(reset_after), "meta_bidirectional": np.array(bi),
          "meta_go_backwards": np.array(backwards), "meta_units": np.array(units),
          "meta_num_layers": np.array(1)}  # fmt: skip
    weights = keras_weights(a)
    out, _ = forward(weights, x)
    np.testing.assert_allclose(out[:, ::-1] if backwards else out, want, rtol=0, atol=1e-5)
    assert param_count(weights.config).keras == model.count_params()


# --- counts and refusals ---------------------------------------------------------------


def test_walkthrough_gru_counts() -> None:
    counts = param_count(LSTMConfig(cell="gru", input_size=32, hidden_size=70))
    # 3*70*(32 + 70) + 6*70 = 21,420 + 420
    assert (counts.pytorch, counts.keras, counts.onnx) == (21_840, 21_840, 21_840)
    before = param_count(LSTMConfig(cell="gru", input_size=32, hidden_size=70, reset_after=False))
    # one bias: 21,420 + 3*70; PyTorch cannot hold it, ONNX's linear_before_reset=0 keeps two
    assert (before.pytorch, before.keras, before.onnx) == (None, 21_630, 21_840)


def test_stacked_bidirectional_gru_counts() -> None:
    cfg = LSTMConfig(cell="gru", input_size=5, hidden_size=4, num_layers=2, bidirectional=True)
    # layer 0: 3*4*(5 + 4) + 24 = 132; layer 1 reads 8: 3*4*(8 + 4) + 24 = 168; two directions
    assert param_count(cfg).pytorch == 2 * (132 + 168) == 600
    nobias = LSTMConfig(cell="gru", input_size=5, hidden_size=4, bias=False)
    assert param_count(nobias).pytorch == 3 * 4 * 9 == 108


def test_c0_on_a_gru_is_refused() -> None:
    cfg = LSTMConfig(cell="gru", input_size=3, hidden_size=2, seq_len=2)
    weights = init_weights(cfg)
    with pytest.raises(ValueError, match="c0: a GRU has no cell state"):
        forward(weights, np.zeros((2, 3)), c0=np.zeros((1, 2)))


def test_gru_returns_h_n_alone() -> None:
    cfg = LSTMConfig(cell="gru", input_size=3, hidden_size=2, seq_len=2, batch=2)
    out, h_n = forward(init_weights(cfg), np.ones((2, 2, 3)))
    assert isinstance(h_n, np.ndarray) and h_n.shape == (1, 2, 2)
    assert np.array_equal(out[:, -1], h_n[0])


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("proj_size", 3, "a GRU has no projection (proj_size); that is an LSTM option"),
        ("peepholes", True, "a GRU has no peepholes; that is an LSTM option"),
    ],
)
def test_lstm_options_on_a_gru_are_refused(option: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        LSTMConfig(cell="gru", hidden_size=8, **{option: value})  # type: ignore[arg-type]
    assert caught.value.option == option
    assert str(caught.value) == message
