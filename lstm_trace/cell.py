"""The math: one LSTM step, a sequence, layers and directions, with a hook on every gate.

Per layer, direction and step t (DESIGN.md), with X = [h_(t-1), x_t]:

    f_t  = sigmoid(W_f X + b_f)          (B, H)
    i_t  = sigmoid(W_i X + b_i)          (B, H)
    C~_t = tanh(W_c X + b_c)             (B, H)
    C_t  = f_t * C_(t-1) + i_t * C~_t    (B, H)
    o_t  = sigmoid(W_o X + b_o)          (B, H)
    h_t  = o_t * tanh(C_t)               (B, H), then W_hr h_t (B, H_out) when proj_size > 0

Two things keep the pass fast: the input projection x_t W_ih^T + b of every step is one
matrix product per layer and direction (per block of steps for very long sequences, so memory
stays bounded), so only the recurrence h_(t-1) W_hh^T loops in Python; and
sigmoid(z) = 0.5 * tanh(z / 2) + 0.5, so the rows of the three sigmoid gates are pre-scaled by
1/2 (exact in floating point) and the four gates need one tanh.

This module does no I/O and knows nothing of how results are shown.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
from numpy.typing import ArrayLike

from .config import PROJECTION_BLOCK
from .weights import DIRECTIONS, DirectionWeights, FloatArray, LSTMWeights

#: Hook points, in the order they fire within a step.
HOOK_POINTS: tuple[str, ...] = (
    "x",
    "h_prev",
    "c_prev",
    "concat",
    "forget_gate",
    "input_gate",
    "candidate",
    "cell_state",
    "output_gate",
    "hidden_state",
)


@dataclass(frozen=True)
class HookEvent:
    """What a hook sees: where it is, and the (read-only) value: unbatched (n,), batched
    (B, n), n being the size of the hook point (I_k for x, H_out + I_k for concat, H_out for
    h_prev and hidden_state, H for the rest)."""

    name: str  # one of HOOK_POINTS
    layer: int
    direction: str  # "forward" or "backward"
    step: int  # the time index t of the input the cell reads, in both directions
    value: FloatArray


#: A hook observes an event and returns None, or returns an array (anything broadcastable to
#: the value's shape) that replaces the value downstream.
Hook = Callable[[HookEvent], "ArrayLike | None"]


#: Receives, for each layer, direction and block of steps, the gate activations [i, f, g, o]
#: of those steps, (c, B, 4H), rows in time order, and the steps in visiting order: a cheap
#: way to summarise every step (gate health, heatmaps) without hooks.
BlockObserver = Callable[[int, str, Sequence[int], "FloatArray"], None]


class HookError(ValueError):
    """A hook returned something that cannot replace the value it was given."""


@dataclass(frozen=True)
class _Prepared:
    """One direction's weights, pre-scaled for the fused gate activation, seen transposed.

    The transposes are views (BLAS reads them without a copy), except the recurrent weights
    on long sequences: a contiguous copy makes each step's product about 15 % faster, which
    pays for the copy after some 60 steps.
    """

    w_ih_t: FloatArray  # (I_k, 4H) view, sigmoid rows scaled by 1/2
    w_hh_t: FloatArray  # (H_out, 4H) view, likewise
    bias: FloatArray  # (4H,) = (b_ih + b_hh), likewise
    w_hr_t: FloatArray | None  # (H, H_out)
    gain: FloatArray  # (4H,) 0.5 for sigmoid gates, 1 for the candidate
    offset: FloatArray  # (4H,) 0.5 for sigmoid gates, 0 for the candidate


#: from this many steps on, the recurrent weights are copied into the transposed layout:
#: the copy costs about as much as 60 steps save (measured with bench/run.py)
COPY_RECURRENT_FROM = 64


def _prepare(w: DirectionWeights, steps: int) -> _Prepared:
    h = w.hidden_size
    dtype = w.w_ih.dtype
    # gate order i, f, g, o: sigmoid, sigmoid, tanh, sigmoid
    scale = np.full(4 * h, 0.5, dtype=dtype)
    scale[2 * h : 3 * h] = 1.0
    recurrent = (w.w_hh * scale[:, None]).T  # used at every step: worth a copy on long runs
    return _Prepared(
        w_ih_t=(w.w_ih * scale[:, None]).T,
        w_hh_t=recurrent.copy() if steps >= COPY_RECURRENT_FROM else recurrent,
        bias=(w.b_ih + w.b_hh) * scale,
        w_hr_t=None if w.w_hr is None else w.w_hr.T,
        gain=scale,
        offset=(1.0 - scale).astype(dtype),
    )


def _activate(z: FloatArray, p: _Prepared) -> FloatArray:
    """Pre-scaled pre-activations (B, 4H) -> [i, f, g, o] activations (B, 4H), in place."""
    np.tanh(z, out=z)
    z *= p.gain
    z += p.offset
    return z


def forward(
    weights: LSTMWeights,
    x: ArrayLike,
    h0: ArrayLike | None = None,
    c0: ArrayLike | None = None,
    hooks: Sequence[Hook] = (),
    hook_steps: Collection[int] | None = None,
    observer: BlockObserver | None = None,
) -> tuple[FloatArray, tuple[FloatArray, FloatArray]]:
    """Run the LSTM over a sequence, firing hooks at every hook point.

    x: (B, T, I) batch first, or (T, I) unbatched.
    h0: (D*L, B, H_out) or (D*L, H_out); c0: (D*L, B, H) or (D*L, H); zeros when omitted.
    hooks: called in order at every hook point; hook_steps limits them to those time steps
    (all steps when None). With no hooks the loop is the plain one and pays nothing.
    observer, when given, receives every step's gate activations block by block.

    Returns (output, (h_n, c_n)) shaped as PyTorch with batch_first=True:
    output (B, T, D*H_out) or (T, D*H_out); h_n (D*L, B, H_out); c_n (D*L, B, H)
    (without the B axis when unbatched). h_n[k*D + d] is layer k, direction d.
    """
    cfg = weights.config
    dtype = np.dtype(cfg.dtype)
    xa = np.asarray(x, dtype=dtype)
    if xa.ndim not in (2, 3) or xa.shape[-1] != cfg.input_size or xa.shape[-2] == 0:
        raise ValueError(
            f"x must be (T, {cfg.input_size}) or (B, T, {cfg.input_size}) with T >= 1, "
            f"got shape {xa.shape}"
        )
    unbatched = xa.ndim == 2
    seq = xa[:, None, :] if unbatched else xa.transpose(1, 0, 2)  # (T, B, I)
    steps, batch = seq.shape[0], seq.shape[1]
    d_count, h, h_out = cfg.num_directions, cfg.hidden_size, cfg.h_out
    n_states = cfg.num_layers * d_count
    h_init = _initial_state(h0, "h0", (n_states, batch, h_out), unbatched, dtype)
    c_init = _initial_state(c0, "c0", (n_states, batch, h), unbatched, dtype)
    h_n = np.empty((n_states, batch, h_out), dtype=dtype)
    c_n = np.empty((n_states, batch, h), dtype=dtype)
    active = None if hook_steps is None else frozenset(hook_steps)  # None: every step

    layer_in = seq
    for k, layer in enumerate(weights.layers):
        # Stored batch first, the layout returned, and used through a (T, B, ...) view: the
        # output is never copied, which matters for long sequences.
        result = np.empty((batch, steps, d_count * h_out), dtype=dtype)
        layer_out = result.transpose(1, 0, 2)  # (T, B, D*H_out) view
        for d, w in enumerate(layer):
            s = k * d_count + d
            runner = _Direction(
                _prepare(w, steps), layer_in, layer_out[:, :, d * h_out : (d + 1) * h_out]
            )
            fire = _Fire(hooks, k, DIRECTIONS[d], unbatched) if hooks else None
            watch = None if observer is None else partial(observer, k, DIRECTIONS[d])
            h_n[s], c_n[s] = runner.run(
                h_init[s], c_init[s], backward=d == 1, fire=fire, active=active, watch=watch
            )
        layer_in = layer_out

    if unbatched:
        return result[0], (h_n[:, 0, :].copy(), c_n[:, 0, :].copy())
    return result, (h_n, c_n)


def _initial_state(
    value: ArrayLike | None,
    name: str,
    shape: tuple[int, int, int],
    unbatched: bool,
    dtype: np.dtype[np.floating],
) -> FloatArray:
    if value is None:
        return np.zeros(shape, dtype=dtype)
    a = np.asarray(value, dtype=dtype)
    want = (shape[0], shape[2]) if unbatched else shape
    if a.shape != want:
        raise ValueError(f"{name} must have shape {want}, got {a.shape}")
    return a[:, None, :] if unbatched else a


class _Fire:
    """Calls the hooks for one layer and direction; applies replacements."""

    def __init__(self, hooks: Sequence[Hook], layer: int, direction: str, unbatched: bool):
        self.hooks, self.layer, self.direction, self.unbatched = hooks, layer, direction, unbatched

    def __call__(self, name: str, step: int, value: FloatArray) -> tuple[FloatArray, bool]:
        """value (B, n) -> (value or its replacement (B, n), whether it was replaced)."""
        replaced = False
        for hook in self.hooks:
            shown = value[0] if self.unbatched else value.view()
            shown.flags.writeable = False  # hooks replace by returning, never in place
            result = hook(HookEvent(name, self.layer, self.direction, step, shown))
            if result is None or result is shown:
                continue
            if np.shape(result) == shown.shape and np.array_equal(result, shown):
                continue  # the same values: keep the fast path and bit-identical results
            try:
                new = np.array(np.broadcast_to(result, shown.shape), dtype=value.dtype)
            except ValueError:
                raise HookError(
                    f"hook for {name!r} returned shape {np.shape(result)}, which does not "
                    f"fit {shown.shape}"
                ) from None
            value = new[None] if self.unbatched else new
            replaced = True
        return value, replaced


class _Direction:
    """The recurrence of one layer and direction over the whole sequence."""

    def __init__(self, p: _Prepared, seq: FloatArray, out: FloatArray):
        self.p, self.seq, self.out = p, seq, out  # seq (T, B, I_k), out (T, B, H_out) view
        batch = seq.shape[1]
        self.block = max(1, PROJECTION_BLOCK // (batch * p.w_ih_t.shape[1]))

    def blocks(self, backward: bool) -> Iterator[tuple[int, range, FloatArray]]:
        """(first step, steps in visiting order, x W_ih^T + b of the steps (c, B, 4H)).

        Each block of steps is one matrix product, (c*B, I_k) @ (I_k, 4H).
        """
        seq, p = self.seq, self.p
        steps, batch = seq.shape[:2]
        starts = range(0, steps, self.block)
        for start in reversed(starts) if backward else starts:
            chunk = seq[start : start + self.block]
            block = np.matmul(chunk.reshape(-1, chunk.shape[2]), p.w_ih_t)  # (c*B, 4H)
            block += p.bias
            ts = range(start, start + len(chunk))
            yield start, (ts[::-1] if backward else ts), block.reshape(len(chunk), batch, -1)

    def run(
        self,
        h: FloatArray,
        c: FloatArray,
        *,
        backward: bool,
        fire: _Fire | None,
        active: frozenset[int] | None,
        watch: Callable[[Sequence[int], FloatArray], None] | None = None,
    ) -> tuple[FloatArray, FloatArray]:
        """Step through time (T-1 down to 0 when backward); return the final (h, c)."""
        out, w_hh_t, w_hr_t = self.out, self.p.w_hh_t, self.p.w_hr_t
        gain, offset = self.p.gain, self.p.offset
        hs = w_hh_t.shape[1] // 4
        f, i, g, o = slice(hs, 2 * hs), slice(0, hs), slice(2 * hs, 3 * hs), slice(3 * hs, None)
        for start, ts, block in self.blocks(backward):
            gates = np.empty_like(block)  # (c, B, 4H) activations, time order, for `watch`
            for t in ts:
                z = gates[t - start]  # (B, 4H), written in place: no allocation per step
                if fire is not None and (active is None or t in active):
                    h, c, z[...] = self._hooked_step(t, block[t - start], h, c, fire)
                    out[t] = h
                    continue
                np.dot(h, w_hh_t, out=z)  # np.dot: less overhead than matmul on small h
                z += block[t - start]  # + x_t W_ih^T + b
                np.tanh(z, out=z)  # the same operations as _activate, inlined
                z *= gain
                z += offset
                c = z[:, f] * c + z[:, i] * z[:, g]
                h = z[:, o] * np.tanh(c)
                if w_hr_t is not None:
                    h = h @ w_hr_t  # (B, H_out)
                out[t] = h
            if watch is not None:
                watch(ts, gates)  # rows in time order; ts says the visiting order
        return h, c

    def _hooked_step(
        self, t: int, xproj: FloatArray, h: FloatArray, c: FloatArray, fire: _Fire
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """The same arithmetic as the plain step, with every intermediate offered to hooks.

        Returns (h_t, C_t, the gate activations before any replacement)."""
        p = self.p
        hs = p.w_ih_t.shape[1] // 4
        x_t, x_new = fire("x", t, self.seq[t])
        h, _ = fire("h_prev", t, h)
        c, _ = fire("c_prev", t, c)
        concat, cat_new = fire("concat", t, np.concatenate([h, x_t], axis=1))
        if x_new or cat_new:
            # The precomputed projection no longer matches what the hooks made of x_t or X.
            n = h.shape[1]
            pre = (concat[:, n:] @ p.w_ih_t + p.bias) + concat[:, :n] @ p.w_hh_t
        else:
            pre = np.dot(h, p.w_hh_t) + xproj  # as the plain step, for bit-identical results
        z = _activate(pre, p)
        f, _ = fire("forget_gate", t, z[:, hs : 2 * hs])
        i, _ = fire("input_gate", t, z[:, :hs])
        g, _ = fire("candidate", t, z[:, 2 * hs : 3 * hs])
        c, _ = fire("cell_state", t, f * c + i * g)
        o, _ = fire("output_gate", t, z[:, 3 * hs :])
        h = o * np.tanh(c)
        if p.w_hr_t is not None:
            h = h @ p.w_hr_t
        h, _ = fire("hidden_state", t, h)
        return h, c, z
