"""The forward pass: shapes, a hand-worked example, properties, hooks, and PyTorch's numbers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lstm_trace import (
    HOOK_POINTS,
    HookError,
    HookEvent,
    LSTMConfig,
    forward,
    init_input,
    init_weights,
    weights_from_pytorch,
)
from lstm_trace.frameworks import to_torch
from lstm_trace.weights import DirectionWeights, LSTMWeights

from .conftest import tolerance


def run(cfg: LSTMConfig, **kwargs: Any) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    return forward(init_weights(cfg), init_input(cfg), **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "output", "h_n"),
    [
        ({}, (3, 70), (1, 70)),
        ({"batch": 4}, (4, 3, 70), (1, 4, 70)),
        ({"num_layers": 2, "seq_len": 5}, (5, 70), (2, 70)),
        ({"bidirectional": True}, (3, 140), (2, 70)),
        ({"bidirectional": True, "num_layers": 2, "batch": 2}, (2, 3, 140), (4, 2, 70)),
        ({"proj_size": 20, "bidirectional": True}, (3, 40), (2, 20)),
    ],
)
def test_shapes(kwargs: dict[str, Any], output: tuple[int, ...], h_n: tuple[int, ...]) -> None:
    cfg = LSTMConfig(**kwargs)
    out, (hn, cn) = run(cfg)
    assert out.shape == output and hn.shape == h_n
    assert cn.shape == (*h_n[:-1], 70)  # c_n keeps H even with a projection
    assert out.dtype == np.float32


def test_second_layer_of_bidirectional_stack_reads_140() -> None:
    cfg = LSTMConfig(bidirectional=True, num_layers=2)
    seen: dict[tuple[str, int], tuple[int, ...]] = {}

    def hook(e: HookEvent) -> None:
        seen[(e.name, e.layer)] = e.value.shape

    run(cfg, hooks=[hook])
    assert seen[("x", 1)] == (140,)
    assert seen[("concat", 1)] == (210,)
    assert init_weights(cfg).layers[1][0].gate_weight("f").shape == (70, 210)


def sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def test_hand_worked_one_unit_example() -> None:
    """I = H = 1, two steps, every number worked out with math, not NumPy."""
    cfg = LSTMConfig(input_size=1, hidden_size=1, seq_len=2, dtype="float64")
    w_ih, w_hh = [0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8]  # gate order i, f, g, o
    b_ih, b_hh = [0.01, 0.02, 0.03, 0.04], [-0.05, 0.06, -0.07, 0.08]
    weights = LSTMWeights(
        cfg,
        (
            (
                DirectionWeights(
                    np.array(w_ih).reshape(4, 1),
                    np.array(w_hh).reshape(4, 1),
                    np.array(b_ih),
                    np.array(b_hh),
                ),
            ),
        ),
    )
    xs = [1.0, -2.0]
    h = c = 0.0
    expected = []
    for x in xs:
        z = [w_ih[k] * x + w_hh[k] * h + b_ih[k] + b_hh[k] for k in range(4)]
        i, f, g, o = sigmoid(z[0]), sigmoid(z[1]), math.tanh(z[2]), sigmoid(z[3])
        c = f * c + i * g
        h = o * math.tanh(c)
        expected.append(h)
    # step 0 by hand: z_i = 0.1 - 0.04 = 0.06, z_g = 0.3 - 0.04 = 0.26, z_o = 0.52
    c0 = sigmoid(0.06) * math.tanh(0.26)
    assert expected[0] == pytest.approx(sigmoid(0.52) * math.tanh(c0), abs=1e-15)
    out, (hn, cn) = forward(weights, np.array(xs).reshape(2, 1))
    np.testing.assert_allclose(out[:, 0], expected, rtol=0, atol=1e-14)
    assert hn[0, 0] == pytest.approx(h, abs=1e-14) and cn[0, 0] == pytest.approx(c, abs=1e-14)


@settings(max_examples=25, deadline=None)
@given(
    i=st.integers(1, 12),
    h=st.integers(1, 12),
    t=st.integers(1, 5),
    batch=st.one_of(st.none(), st.integers(1, 3)),
    layers=st.integers(1, 3),
    bi=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_gates_in_open_unit_interval_and_h_bounded(
    i: int, h: int, t: int, batch: int | None, layers: int, bi: bool, seed: int
) -> None:
    cfg = LSTMConfig(
        input_size=i,
        hidden_size=h,
        seq_len=t,
        batch=batch,
        num_layers=layers,
        bidirectional=bi,
        dtype="float64",
        seed=seed,
    )
    values: dict[str, list[np.ndarray]] = {name: [] for name in HOOK_POINTS}

    def hook(e: HookEvent) -> None:
        values[e.name].append(e.value.copy())

    out, _ = run(cfg, hooks=[hook])
    for gate in ("forget_gate", "input_gate", "output_gate"):
        v = np.stack(values[gate])
        assert np.all((v > 0) & (v < 1))
    assert np.all(np.abs(np.stack(values["candidate"])) < 1)
    assert np.all(np.abs(np.stack(values["hidden_state"])) < 1)
    # every hook point fires at every layer, direction and step
    assert all(len(v) == layers * (2 if bi else 1) * t for v in values.values())
    assert out.shape[-1] == (2 if bi else 1) * h


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_observing_hook_leaves_outputs_bit_identical(dtype: str) -> None:
    cfg = LSTMConfig(batch=2, num_layers=2, bidirectional=True, proj_size=5, seq_len=4, dtype=dtype)  # type: ignore[arg-type]
    plain = run(cfg)
    calls = []
    hooked = run(cfg, hooks=[lambda e: calls.append(e.name)])
    assert len(calls) == 2 * 2 * 4 * len(HOOK_POINTS)
    assert np.array_equal(plain[0], hooked[0])
    assert np.array_equal(plain[1][0], hooked[1][0]) and np.array_equal(plain[1][1], hooked[1][1])


def test_forced_forget_gate_zero_gives_c_equals_i_times_candidate() -> None:
    cfg = LSTMConfig(input_size=5, hidden_size=4, seq_len=3, dtype="float64")
    seen: dict[tuple[str, int], np.ndarray] = {}

    def force(e: HookEvent) -> Any:
        seen[(e.name, e.step)] = e.value.copy()
        return 0.0 if e.name == "forget_gate" else None

    out, _ = run(cfg, hooks=[force])
    for t in range(3):
        np.testing.assert_array_equal(
            seen[("cell_state", t)], seen[("input_gate", t)] * seen[("candidate", t)]
        )
    assert not np.array_equal(out, run(cfg)[0])  # the replacement changed what follows


def test_replacing_x_or_concat_flows_downstream() -> None:
    cfg = LSTMConfig(input_size=3, hidden_size=2, seq_len=2, dtype="float64")
    zero_x, _ = run(cfg, hooks=[lambda e: 0.0 if e.name == "x" else None])
    zeros_in, _ = forward(init_weights(cfg), np.zeros((2, 3)))
    np.testing.assert_array_equal(zero_x, zeros_in)

    # replacing X by [h, 0] is the same as replacing x by 0
    def concat_hook(e: HookEvent) -> Any:
        if e.name == "concat":
            v = e.value.copy()
            v[2:] = 0.0
            return v
        return None

    np.testing.assert_allclose(run(cfg, hooks=[concat_hook])[0], zeros_in, atol=1e-15)


def test_hooks_see_read_only_values_and_bad_replacements_are_refused() -> None:
    cfg = LSTMConfig(input_size=3, hidden_size=2, seq_len=1)

    def mutate(e: HookEvent) -> None:
        e.value[...] = 0

    with pytest.raises(ValueError, match="read-only"):
        run(cfg, hooks=[mutate])
    with pytest.raises(HookError, match="forget_gate"):
        run(cfg, hooks=[lambda e: np.zeros(5) if e.name == "forget_gate" else None])


def test_hook_steps_limit_where_hooks_fire() -> None:
    cfg = LSTMConfig(seq_len=6, bidirectional=True)
    steps = set()
    run(cfg, hooks=[lambda e: steps.add((e.direction, e.step))], hook_steps=[0, 5])
    assert steps == {(d, t) for d in ("forward", "backward") for t in (0, 5)}


def test_backward_direction_visits_time_in_reverse() -> None:
    cfg = LSTMConfig(seq_len=4, bidirectional=True, input_size=2, hidden_size=3)
    order = []
    run(cfg, hooks=[lambda e: order.append((e.direction, e.step)) if e.name == "x" else None])
    assert order == [("forward", t) for t in range(4)] + [("backward", t) for t in (3, 2, 1, 0)]


def test_bidirectional_h_n_layout() -> None:
    """h_n[1] is the backward state after reading t = 0: output[:, 0, H:], not output[:, -1]."""
    cfg = LSTMConfig(bidirectional=True, batch=3, seq_len=5, hidden_size=6, input_size=4)
    out, (hn, _) = run(cfg)
    np.testing.assert_array_equal(hn[0], out[:, -1, :6])
    np.testing.assert_array_equal(hn[1], out[:, 0, 6:])


def test_initial_state_is_used_and_checked() -> None:
    cfg = LSTMConfig(input_size=3, hidden_size=2, seq_len=2, batch=2, dtype="float64")
    h0 = np.full((1, 2, 2), 0.5)
    c0 = np.full((1, 2, 2), -0.25)
    seen: dict[str, np.ndarray] = {}

    def hook(e: HookEvent) -> None:
        if e.step == 0:
            seen[e.name] = e.value.copy()

    run(cfg, h0=h0, c0=c0, hooks=[hook])
    np.testing.assert_array_equal(seen["h_prev"], h0[0])
    np.testing.assert_array_equal(seen["c_prev"], c0[0])
    with pytest.raises(ValueError, match="h0 must have shape"):
        run(cfg, h0=np.zeros((2, 2)))


def test_x_of_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match=r"x must be \(T, 32\)"):
        forward(init_weights(LSTMConfig()), np.zeros((3, 31)))


def test_matches_committed_torch_fixture(torch_fixture: Any) -> None:
    """The fixtures were computed by torch.nn.LSTM (tests/fixtures/make_torch_fixtures.py)."""
    cfg, weights, arrays = torch_fixture
    for k in range(cfg.num_layers):  # biases are non-zero and different, as conventions demand
        assert np.all(arrays[f"bias_ih_l{k}"] != 0)
        assert not np.allclose(arrays[f"bias_ih_l{k}"], arrays[f"bias_hh_l{k}"])
    out, (hn, cn) = forward(weights, arrays["x"], arrays.get("h0"), arrays.get("c0"))
    tol = tolerance(cfg)
    np.testing.assert_allclose(out, arrays["output"], rtol=0, atol=tol)
    np.testing.assert_allclose(hn, arrays["h_n"], rtol=0, atol=tol)
    np.testing.assert_allclose(cn, arrays["c_n"], rtol=0, atol=tol)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"dtype": "float64", "batch": 3, "num_layers": 2, "bidirectional": True},
        {"dtype": "float64", "num_layers": 3, "bidirectional": True, "proj_size": 7, "batch": 2},
        {"bidirectional": True, "seq_len": 7},
    ],
)
def test_matches_live_torch(kwargs: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    cfg = LSTMConfig(**kwargs)
    rng = np.random.default_rng(7)
    w = init_weights(cfg)
    sd = {
        k: v + rng.uniform(-0.3, 0.3, v.shape).astype(v.dtype) if k.startswith("bias") else v
        for k, v in w.to_pytorch().items()
    }  # biases made more different still
    weights = weights_from_pytorch(sd, cfg)
    x = init_input(cfg)
    lstm = to_torch(weights_from_pytorch(sd, cfg))
    with torch.no_grad():
        t_out, (t_h, t_c) = lstm(torch.from_numpy(x))
    out, (hn, cn) = forward(weights, x)
    tol = tolerance(cfg)
    np.testing.assert_allclose(out, t_out.numpy(), rtol=0, atol=tol)
    np.testing.assert_allclose(hn, t_h.numpy(), rtol=0, atol=tol)
    np.testing.assert_allclose(cn, t_c.numpy(), rtol=0, atol=tol)


def reference_forward(
    w: DirectionWeights, xs: np.ndarray, replace: dict[tuple[str, int], np.ndarray]
) -> np.ndarray:
    """One direction, unbatched, written out step by step, applying `replace` at each hook
    point: an independent check of what a replacement changes downstream."""
    h_size = w.w_ih.shape[0] // 4
    h = np.zeros(w.w_hh.shape[1])
    c = np.zeros(h_size)
    outputs = []

    def sig(v: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-v))

    for t, x in enumerate(xs):
        get = lambda name, value, t=t: replace.get((name, t), value)  # noqa: E731
        x, h, c = get("x", x), get("h_prev", h), get("c_prev", c)
        big_x = get("concat", np.concatenate([h, x]))
        n = h.shape[0]
        z = w.w_ih @ big_x[n:] + w.w_hh @ big_x[:n] + w.b_ih + w.b_hh
        i, f = sig(z[:h_size]), sig(z[h_size : 2 * h_size])
        g, o = np.tanh(z[2 * h_size : 3 * h_size]), sig(z[3 * h_size :])
        f, i, g = get("forget_gate", f), get("input_gate", i), get("candidate", g)
        c = get("cell_state", f * c + i * g)
        o = get("output_gate", o)
        h = o * np.tanh(c)
        if w.w_hr is not None:
            h = w.w_hr @ h
        h = get("hidden_state", h)
        outputs.append(h)
    return np.stack(outputs)


@pytest.mark.parametrize("point", HOOK_POINTS)
def test_every_hook_point_can_be_replaced(point: str) -> None:
    cfg = LSTMConfig(input_size=3, hidden_size=4, proj_size=2, seq_len=3, dtype="float64")
    weights, x = init_weights(cfg), init_input(cfg)
    seen: dict[str, tuple[int, ...]] = {}

    def record(e: HookEvent) -> None:
        seen[e.name] = e.value.shape

    forward(weights, x, hooks=[record])
    replacement = np.random.default_rng(5).uniform(-0.9, 0.9, seen[point])

    def replace(e: HookEvent) -> Any:
        return replacement if (e.name, e.step) == (point, 1) else None

    out, _ = forward(weights, x, hooks=[replace])
    expected = reference_forward(weights.layers[0][0], x, {(point, 1): replacement})
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-14)
    assert not np.allclose(out[1:], forward(weights, x)[0][1:])  # it did change what follows


def test_returning_an_equal_copy_is_not_a_replacement() -> None:
    cfg = LSTMConfig(batch=2, seq_len=4)  # float32: a recomputed projection would differ
    plain = run(cfg)
    copied = run(cfg, hooks=[lambda e: e.value.copy() if e.name in ("x", "concat") else None])
    assert np.array_equal(plain[0], copied[0])


def test_without_hooks_the_plain_loop_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    from lstm_trace.cells import lstm_loop

    def refuse(*args: Any) -> Any:
        raise AssertionError("the hooked step ran without hooks")

    monkeypatch.setattr(lstm_loop.LSTMRunner, "_hooked_step", refuse)
    out, _ = run(LSTMConfig(seq_len=5, bidirectional=True))
    assert out.shape == (5, 140)
    with pytest.raises(AssertionError, match="hooked step"):
        run(LSTMConfig(seq_len=5), hooks=[lambda e: None])
