"""The plain loop's layouts against an independent reference.

cells/recurrence.prepare() picks, per layer and direction, how to run the recurrence: h W_hh^T for
B = 1, W_hh h^T for B > 1 (gate by gate for large matrices), the sigmoid halving on the
weights or on the values, and blocks of steps sharing one buffer. Each layout is forced here
and checked against a written-out float64 reference, with observing hooks bit-identical and
the observer seeing every step's gates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from lstm_trace import HookEvent, LSTMConfig, forward, init_input, init_weights
from lstm_trace.cells import recurrence
from lstm_trace.cells.lstm_loop import prepare_lstm
from lstm_trace.weights import LSTMWeights

from .test_cell import reference_forward

# (name, config, patches of lstm_trace.cells.recurrence, the layout expected of layer 0 forward)
LAYOUTS: list[tuple[str, dict[str, Any], dict[str, int], dict[str, bool]]] = [
    (
        "row product, weights scaled",
        {"seq_len": 7, "input_size": 5, "hidden_size": 6},
        {},
        {"row": True, "split": False, "hh_scaled": True, "ih_scaled": True},
    ),
    (
        "column product, weights scaled",
        {"seq_len": 9, "batch": 3, "input_size": 5, "hidden_size": 6},
        {},
        {"row": False, "split": False, "hh_scaled": True, "ih_scaled": True},
    ),
    (
        "column product, values scaled (short sequence, wide weights)",
        {"seq_len": 2, "batch": 2, "input_size": 9, "hidden_size": 8},
        {},
        {"row": False, "split": False, "hh_scaled": False, "ih_scaled": False},
    ),
    (
        "gate-split product",
        {"seq_len": 6, "batch": 3, "input_size": 4, "hidden_size": 5},
        {"SPLIT_BYTES": 0},
        {"row": False, "split": True, "hh_scaled": True, "ih_scaled": True},
    ),
    (
        "gate-split product, values scaled",
        {"seq_len": 2, "batch": 2, "input_size": 9, "hidden_size": 8},
        {"SPLIT_BYTES": 0},
        {"row": False, "split": True, "hh_scaled": False, "ih_scaled": False},
    ),
    (
        "gate-split product, input values scaled, projection",
        {"seq_len": 2, "batch": 2, "input_size": 9, "hidden_size": 8, "proj_size": 3},
        {"SPLIT_BYTES": 0},
        {"row": False, "split": True, "hh_scaled": True, "ih_scaled": False},
    ),
    (
        "blocks of 3 steps, two bidirectional layers",
        {"seq_len": 10, "batch": 2, "input_size": 4, "hidden_size": 3, "num_layers": 2,
         "bidirectional": True},
        {"PROJECTION_BLOCK": 3 * 2 * 4 * 3},
        {"row": False, "split": False, "hh_scaled": True, "ih_scaled": True},
    ),
    (
        "blocks of 4 steps, B = 1, bidirectional with projection",
        {"seq_len": 11, "input_size": 4, "hidden_size": 5, "proj_size": 2,
         "bidirectional": True},
        {"PROJECTION_BLOCK": 4 * 4 * 5},
        {"row": True, "split": False, "hh_scaled": True, "ih_scaled": True},
    ),
]  # fmt: skip


@pytest.fixture(params=LAYOUTS, ids=[layout[0] for layout in LAYOUTS])
def layout(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[LSTMConfig, dict[str, bool]]]:
    _, kwargs, patches, expected = request.param
    for name, value in patches.items():
        monkeypatch.setattr(recurrence, name, value)
    yield LSTMConfig(dtype="float64", **kwargs), expected


def reference(weights: LSTMWeights, x: np.ndarray) -> np.ndarray:
    """Every layer, direction and batch row through the written-out reference step."""
    batched = x if x.ndim == 3 else x[None]
    for layer in weights.layers:
        rows = []
        for xs in batched:
            outs = [reference_forward(layer[0], xs, {})]
            if len(layer) == 2:
                outs.append(reference_forward(layer[1], xs[::-1], {})[::-1])
            rows.append(np.concatenate(outs, axis=1))
        batched = np.stack(rows)
    return batched if x.ndim == 3 else batched[0]


def test_each_layout_is_taken_and_matches_the_reference(
    layout: tuple[LSTMConfig, dict[str, bool]],
) -> None:
    cfg, expected = layout
    weights, x = init_weights(cfg), init_input(cfg)
    p = prepare_lstm(weights.layers[0][0], cfg.seq_len, cfg.batch or 1).p
    assert {key: getattr(p, key) for key in expected} == expected
    cells: dict[tuple[int, str, int], np.ndarray] = {}
    hook = lambda e: cells.__setitem__((e.layer, e.direction, e.step), e.value.copy())  # noqa: E731
    out, (h_n, c_n) = forward(weights, x)
    want = reference(weights, x)
    np.testing.assert_allclose(out, want, rtol=0, atol=1e-12)
    # h_n of the top layer: the last step going forward, the first going backward
    top, h_out = cfg.num_directions * (cfg.num_layers - 1), cfg.h_out
    np.testing.assert_allclose(h_n[top], want[..., -1, :h_out], rtol=0, atol=1e-12)
    if cfg.bidirectional:
        np.testing.assert_allclose(h_n[top + 1], want[..., 0, h_out:], rtol=0, atol=1e-12)
    # c_n: C_t of the last step each layer and direction visits, as a hook sees it
    forward(weights, x, hooks=[lambda e: hook(e) if e.name == "cell_state" else None])
    for s in range(len(c_n)):
        layer, d = divmod(s, cfg.num_directions)
        last = cfg.seq_len - 1 if d == 0 else 0
        np.testing.assert_array_equal(c_n[s], cells[(layer, ("forward", "backward")[d], last)])


def test_observing_hooks_are_bit_identical_on_each_layout(
    layout: tuple[LSTMConfig, dict[str, bool]],
) -> None:
    cfg, _ = layout
    cfg32 = dataclasses.replace(cfg, dtype="float32")
    for c in (cfg, cfg32):
        weights, x = init_weights(c), init_input(c)
        plain = forward(weights, x)
        seen: list[str] = []
        some = forward(weights, x, hooks=[lambda e, seen=seen: seen.append(e.name)], hook_steps={1})
        every = forward(weights, x, hooks=[lambda e: None])
        assert seen
        for other in (some, every):
            assert np.array_equal(plain[0], other[0])
            assert np.array_equal(plain[1][0], other[1][0])
            assert np.array_equal(plain[1][1], other[1][1])


def test_the_observer_sees_every_steps_gates_on_each_layout(
    layout: tuple[LSTMConfig, dict[str, bool]],
) -> None:
    """The block handed to the observer is reused for the next block: what it holds during
    the call must be that block's activations, in time order."""
    cfg, _ = layout
    weights, x = init_weights(cfg), init_input(cfg)
    seen: dict[tuple[int, str, int], dict[str, np.ndarray]] = {}
    order = ("input_gate", "forget_gate", "candidate", "output_gate")  # as the rows: i, f, g, o

    def keep(e: HookEvent) -> None:
        if e.name in order:
            seen.setdefault((e.layer, e.direction, e.step), {})[e.name] = e.value.ravel()

    forward(weights, x, hooks=[keep])
    hooked = {key: np.concatenate([gates[name] for name in order]) for key, gates in seen.items()}
    observed: dict[tuple[int, str, int], np.ndarray] = {}

    def observe(layer: int, direction: str, steps: Any, block: np.ndarray) -> None:
        first = min(steps)
        for t in steps:
            row = block[t - first]  # (B, 4H) as [i, f, g, o]
            gates = row.reshape(row.shape[0], 4, -1).transpose(1, 0, 2)  # (4, B, H)
            observed[(layer, direction, t)] = gates.reshape(-1).copy()

    forward(weights, x, observer=observe)
    assert observed.keys() == hooked.keys()
    for key, value in hooked.items():
        np.testing.assert_array_equal(observed[key], value)


@pytest.mark.parametrize("proj_size", [0, 8])
def test_the_layout_of_h0_and_c0_does_not_change_a_bit(proj_size: int) -> None:
    """Fortran-ordered or strided initial states (np.load keeps a file's order) give the same
    numbers as C-ordered ones, with and without hooks; the caller's arrays are not touched."""
    cfg = LSTMConfig(
        input_size=5, hidden_size=64, proj_size=proj_size, seq_len=3, batch=2, dtype="float64"
    )
    weights, x = init_weights(cfg), init_input(cfg)
    rng = np.random.default_rng(0)
    h0 = rng.standard_normal((1, 2, cfg.h_out))
    c0 = rng.standard_normal((1, 2, 64))
    plain = forward(weights, x, h0=h0, c0=c0)
    for layout in (np.asfortranarray, lambda a: np.ascontiguousarray(a[:, ::-1])[:, ::-1]):
        h0_other, c0_other = layout(h0), layout(c0)
        kept = c0_other.copy()
        for hooks in ([], [lambda e: None]):
            other = forward(weights, x, h0=h0_other, c0=c0_other, hooks=hooks)
            assert np.array_equal(plain[0], other[0])
            assert np.array_equal(plain[1][1], other[1][1])
        assert np.array_equal(c0_other, kept)


def test_blocks_handed_out_are_read_only() -> None:
    cfg = LSTMConfig(seq_len=3)
    weights, x = init_weights(cfg), init_input(cfg)
    with pytest.raises(ValueError, match="read-only"):
        forward(weights, x, observer=lambda layer, direction, steps, block: block.fill(0))
    with pytest.raises(ValueError, match="read-only"):
        forward(weights, x, on_block=lambda block: block.extra["cell_state"].fill(0))


def test_on_block_cannot_be_combined_with_hooks() -> None:
    cfg = LSTMConfig(seq_len=3)
    with pytest.raises(ValueError, match="on_block"):
        forward(init_weights(cfg), init_input(cfg), hooks=[lambda e: None], on_block=print)
