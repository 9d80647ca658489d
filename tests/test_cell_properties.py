"""Properties every cell keeps, for random sizes (hypothesis).

For the LSTM (plain, with peepholes, with a projection) and the GRU (reset_after True and
False), over layers and directions (uni, bi, reverse), batched and unbatched:

- the fast loop and the hooked step (a hook that does nothing) give bit-identical results,
  also when hooks fire at some steps only, and both equal the cell's reference_step chained
  over the sequence within 1e-12 in float64, every hook point's value included;
- sigmoid gates lie in [0, 1] and tanh ones in [-1, 1]; |h| <= 1 without a projection and
  with |h0| <= 1 (LSTM: o * tanh(C); GRU: a convex mix of a tanh and h_(t-1));
- every hook point fires exactly once at every layer, direction and step, in the cell's
  hook_points order, the steps in the direction's visiting order;
- trace() records the same numbers to the last bit with and without a user hook (its block
  recorder and its hook recorder).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lstm_trace import LSTMConfig, forward, trace
from lstm_trace.cell import HookEvent
from lstm_trace.cells import recurrence
from lstm_trace.weights import LSTMWeights, init_weights

VARIANTS = {
    "lstm": {},
    "lstm_peepholes": {"peepholes": True},
    "lstm_proj": {"proj_size": 1},
    "gru": {"cell": "gru"},
    "gru_reset_before": {"cell": "gru", "reset_after": False},
}
EXAMPLES = settings(max_examples=30, deadline=None)


@dataclass(frozen=True)
class Case:
    config: LSTMConfig
    weights: LSTMWeights
    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray | None


@st.composite
def cases(draw: st.DrawFn, dtype: str = "float64") -> Case:
    variant = VARIANTS[draw(st.sampled_from(sorted(VARIANTS)))]
    hidden = draw(st.integers(2 if "proj_size" in variant else 1, 4))
    cfg = LSTMConfig(
        input_size=draw(st.integers(1, 4)),
        hidden_size=hidden,
        seq_len=draw(st.integers(1, 5)),
        batch=draw(st.none() | st.integers(1, 3)),
        num_layers=draw(st.integers(1, 2)),
        direction=draw(st.sampled_from(["uni", "bi", "reverse"])),
        dtype=dtype,  # type: ignore[arg-type]
        seed=draw(st.integers(0, 2**16)),
        **variant,  # type: ignore[arg-type]
    )
    rng = np.random.default_rng(cfg.seed)
    batch = () if cfg.batch is None else (cfg.batch,)
    states = cfg.num_layers * cfg.num_directions
    x = 2 * rng.standard_normal((*batch, cfg.seq_len, cfg.input_size))
    h0 = rng.uniform(-1, 1, (states, *batch, cfg.h_out))  # |h0| <= 1
    c0 = 2 * rng.standard_normal((states, *batch, hidden)) if cfg.cell == "lstm" else None
    return Case(cfg, init_weights(cfg), x.astype(dtype), h0.astype(dtype),
                None if c0 is None else c0.astype(dtype))  # fmt: skip


Key = tuple[int, str, int, str]  # layer, direction, step, hook point


def run(case: Case, hooks: list[Any] = [], hook_steps: Any = None) -> tuple[Any, ...]:  # noqa: B006
    """forward()'s (output, h_n, c_n or None)."""
    out, finals = forward(case.weights, case.x, case.h0, case.c0, hooks=hooks,
                          hook_steps=hook_steps)  # fmt: skip
    h_n, c_n = finals if isinstance(finals, tuple) else (finals, None)
    return out, h_n, c_n


def collect(case: Case) -> tuple[tuple[Any, ...], list[Key], dict[Key, np.ndarray]]:
    """forward() with a hook that keeps every value: (results, order fired, values)."""
    order: list[Key] = []
    values: dict[Key, np.ndarray] = {}

    def keep(e: HookEvent) -> None:
        key = (e.layer, e.direction, e.step, e.name)
        order.append(key)
        values[key] = np.array(e.value)

    return run(case, [keep]), order, values


def batched(a: np.ndarray, unbatched: bool) -> np.ndarray:
    return a[None] if unbatched else a


def reference(case: Case) -> tuple[np.ndarray, dict[Key, np.ndarray], list[Key]]:
    """The cell's reference_step chained over layers, directions and steps in float64:
    (output (B, T, D*H_out), every hook point's value (B, n), the keys in visiting order)."""
    cfg, cell = case.config, case.config.kind
    unbatched = cfg.batch is None
    layer_in = batched(case.x, unbatched).astype(np.float64)  # (B, T, I)
    h0 = case.h0[:, None] if unbatched else case.h0
    c0 = None if case.c0 is None else (case.c0[:, None] if unbatched else case.c0)
    values: dict[Key, np.ndarray] = {}
    order: list[Key] = []
    for k, layer in enumerate(case.weights.layers):
        halves = []
        for d, w in enumerate(layer):
            s, name = k * cfg.num_directions + d, cfg.directions[d]
            h = h0[s].astype(np.float64)
            states = () if c0 is None else (c0[s].astype(np.float64),)
            outs: list[np.ndarray] = [h] * cfg.seq_len
            steps = range(cfg.seq_len)
            for t in reversed(steps) if name == "backward" else steps:
                h, states, step_values = cell.reference_step(cfg, w, layer_in[:, t], h, states)
                outs[t] = h
                for point in cell.hook_points:
                    order.append((k, name, t, point))
                    values[(k, name, t, point)] = step_values[point]
            halves.append(np.stack(outs, axis=1))
        layer_in = np.concatenate(halves, axis=-1)
    return (layer_in[0] if unbatched else layer_in), values, order


def noop(event: HookEvent) -> None:
    return None


@EXAMPLES
@given(case=cases(), block=st.sampled_from([None, 1, 2]), split=st.booleans(), data=st.data())
def test_fast_loop_hooked_step_and_reference_agree(
    case: Case, block: Any, split: bool, data: Any
) -> None:
    cfg = case.config
    size = recurrence.PROJECTION_BLOCK
    if block:  # blocks of one or two steps: the state crosses a block's edge
        size = block * (cfg.batch or 1) * cfg.kind.n_gates * cfg.hidden_size
    # SPLIT_BYTES 0: the recurrent product gate block by gate block, as for a large H
    split_bytes = 0 if split else recurrence.SPLIT_BYTES
    with (
        mock.patch.object(recurrence, "PROJECTION_BLOCK", size),
        mock.patch.object(recurrence, "SPLIT_BYTES", split_bytes),
    ):
        fast = run(case)
        hooked = run(case, [noop])
        some = data.draw(st.sets(st.integers(0, cfg.seq_len - 1)), label="hook_steps")
        partly = run(case, [noop], hook_steps=some)
        results, _, values = collect(case)
    for a, b, c, d in zip(fast, hooked, partly, results, strict=True):
        if a is None:
            assert b is None and c is None and d is None
            continue
        assert np.array_equal(a, b) and np.array_equal(a, c) and np.array_equal(a, d)

    want_out, want_values, _ = reference(case)
    np.testing.assert_allclose(fast[0], want_out, rtol=0, atol=1e-12)
    assert values.keys() == want_values.keys()
    for key, want in want_values.items():
        got = batched(values[key], cfg.batch is None)
        assert got.shape == want.shape, key
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12, err_msg=str(key))


@EXAMPLES
@given(case=cases())
def test_hook_points_fire_once_each_in_order(case: Case) -> None:
    _, order, _ = collect(case)
    _, _, want = reference(case)
    assert order == want  # each key once: layers, directions, visiting order, hook_points
    assert len(set(order)) == len(order)
    cfg = case.config
    assert len(order) == (
        cfg.num_layers * cfg.num_directions * cfg.seq_len * len(cfg.kind.hook_points)
    )


@EXAMPLES
@given(case=cases(dtype="float32") | cases())
def test_gates_and_h_stay_in_range(case: Case) -> None:
    (out, h_n, _), _, values = collect(case)
    cell = case.config.kind
    for gate in cell.gates:
        low = 0.0 if gate.activation == "sigmoid" else -1.0
        got = np.stack([v for k, v in values.items() if k[3] == gate.name])
        assert got.min() >= low and got.max() <= 1.0, gate.name
    if not case.config.proj_size:
        hidden = np.stack([v for k, v in values.items() if k[3] == "hidden_state"])
        for a in (hidden, out, h_n):
            assert np.abs(a).max() <= 1.0


@settings(max_examples=12, deadline=None)
@given(case=cases(), steps=st.sampled_from(["all", None, "0,-1"]), block=st.sampled_from([None, 1]))
def test_trace_records_alike_with_and_without_a_hook(case: Case, steps: Any, block: Any) -> None:
    cfg = case.config
    size = recurrence.PROJECTION_BLOCK
    if block:
        size = block * (cfg.batch or 1) * cfg.kind.n_gates * cfg.hidden_size
    kw: dict[str, Any] = {"h0": case.h0, "c0": case.c0, "steps": steps, "keep_values": True}
    with mock.patch.object(recurrence, "PROJECTION_BLOCK", size):
        fast = trace(cfg, case.weights, case.x, **kw)
        hooked = trace(cfg, case.weights, case.x, hooks=[noop], **kw)
    assert len(fast.tensors) > 0
    assert list(fast.tensors) == list(hooked.tensors)
    assert json.dumps(fast.to_dict()) == json.dumps(hooked.to_dict())
    assert fast.values is not None and hooked.values is not None
    assert fast.values.keys() == hooked.values.keys()
    assert {k[0] for k in fast.values} == set(cfg.kind.hook_points)
    for key, value in hooked.values.items():
        assert np.array_equal(fast.values[key], value), key
