"""The math: one LSTM step, a sequence, layers and directions, with a hook on every gate.

Per layer, direction and step t (DESIGN.md), with X = [h_(t-1), x_t]:

    f_t  = sigmoid(W_f X + b_f)          (B, H)
    i_t  = sigmoid(W_i X + b_i)          (B, H)
    C~_t = tanh(W_c X + b_c)             (B, H)
    C_t  = f_t * C_(t-1) + i_t * C~_t    (B, H)
    o_t  = sigmoid(W_o X + b_o)          (B, H)
    h_t  = o_t * tanh(C_t)               (B, H), then W_hr h_t (B, H_out) when proj_size > 0

What keeps the pass fast: the input projection x_t W_ih^T + b of every step is one matrix
product per layer and direction (per block of steps for long sequences, in one reused buffer,
so memory stays bounded), so only the recurrence h_(t-1) W_hh^T loops in Python;
sigmoid(z) = 0.5 * tanh(z / 2) + 0.5, so the sigmoid pre-activations are halved (exact in
floating point) and the four gates need one tanh; the recurrent product is laid out the way
OpenBLAS runs fastest (see _Prepared); and the loop works in place in that buffer, writing h_t
straight into the output, with no allocation per step.

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


#: recurrent matrices larger than this are multiplied gate by gate (see _Prepared)
SPLIT_BYTES = 8 << 20


@dataclass(frozen=True)
class _Prepared:
    """One direction's weights, laid out for the loop.

    The fused activation needs the pre-activations of the three sigmoid gates halved
    (exact in binary floating point). Each matrix is halved where it is cheaper: as a scaled
    copy of the weights when they are smaller than the values they produce over the whole
    sequence, otherwise on the values (the projected block, or each step's recurrent
    product). Either way the numbers are bit for bit the same; what is saved is copying
    (and touching fresh memory for) large weights on short sequences.

    The recurrent product is W_hh h^T into a (4H, B) buffer: OpenBLAS is 1.3 to 2 times
    faster with the long side first than h W_hh^T; for B = 1 it is h W_hh^T, the quicker
    vector product. A matrix of more than SPLIT_BYTES is multiplied gate by gate (one
    stacked matmul), 5 to 25 % faster once it no longer fits the caches.
    """

    w_ih_t: FloatArray  # (I_k, 4H) view of W_ih or of its scaled copy
    ih_scaled: bool
    w_hh: FloatArray  # (4H, H_out) for B > 1, (4, H, H_out) when split; (H_out, 4H) for B = 1
    hh_scaled: bool
    row: bool  # B == 1: the product is h W_hh^T
    split: bool  # B > 1 and w_hh is (4, H, H_out)
    bias: FloatArray  # (4H,) = (b_ih + b_hh), scaled
    w_hr_t: FloatArray | None  # (H, H_out)
    gain: FloatArray  # (4H,) 0.5 for sigmoid gates, 1 for the candidate
    offset: FloatArray  # (4H,) 0.5 for sigmoid gates, 0 for the candidate

    def recurrent(self, h: FloatArray, out: FloatArray) -> FloatArray:
        """h (B, H_out) -> the scaled h W_hh^T, (B, 4H), computed into out (see _buffer)."""
        if self.row:
            np.dot(h, self.w_hh, out=out)
        else:
            if self.split:
                np.matmul(self.w_hh, h.T, out=out.reshape(self.w_hh.shape[0], -1, out.shape[1]))
            else:
                np.dot(self.w_hh, h.T, out=out)
            if not self.hh_scaled:
                out *= self.gain[:, None]
        return out if self.row else out.T

    def buffer(self, batch: int) -> FloatArray:
        """Scratch for recurrent(): (1, 4H) for B = 1, (4H, B) otherwise."""
        n = self.gain.shape[0]
        return np.empty((1, n) if self.row else (n, batch), dtype=self.gain.dtype)

    def project(self, x: FloatArray, out: FloatArray) -> FloatArray:
        """x (n, I_k) -> scaled x W_ih^T + b (n, 4H), computed into out."""
        np.dot(x, self.w_ih_t, out=out)
        if not self.ih_scaled:
            out *= self.gain
        out += self.bias
        return out


def _prepare(w: DirectionWeights, steps: int, batch: int) -> _Prepared:
    h, dtype = w.hidden_size, w.w_ih.dtype
    rows = steps * batch  # how many times each weight is used
    # gate order i, f, g, o: sigmoid, sigmoid, tanh, sigmoid
    gain = np.full(4 * h, 0.5, dtype=dtype)
    gain[2 * h : 3 * h] = 1.0
    ih_scaled = w.w_ih.shape[1] < rows
    row = batch == 1
    hh_scaled = row or w.w_hh.shape[1] < rows  # B = 1 copies the matrix anyway
    w_hh = w.w_hh * gain[:, None] if hh_scaled else np.ascontiguousarray(w.w_hh)
    split = not row and w_hh.nbytes > SPLIT_BYTES
    if row:
        w_hh = np.ascontiguousarray(w_hh.T)
    elif split:
        w_hh = w_hh.reshape(4, h, -1)
    return _Prepared(
        w_ih_t=(w.w_ih * gain[:, None] if ih_scaled else w.w_ih).T,
        ih_scaled=ih_scaled,
        w_hh=w_hh,
        hh_scaled=hh_scaled,
        row=row,
        split=split,
        bias=(w.b_ih + w.b_hh) * gain,
        w_hr_t=None if w.w_hr is None else w.w_hr.T,
        gain=gain,
        offset=(1.0 - gain).astype(dtype),
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
                _prepare(w, steps, batch), layer_in, layer_out[:, :, d * h_out : (d + 1) * h_out]
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
        steps, batch = seq.shape[:2]
        width = batch * p.gain.shape[0]
        self.block = min(steps, max(1, PROJECTION_BLOCK // width))
        # One buffer for every block, reused: fresh memory costs a page fault per page.
        self.work = np.empty(self.block * width, dtype=p.gain.dtype)

    def blocks(self, backward: bool) -> Iterator[tuple[range, FloatArray]]:
        """(the block's steps in time order, x W_ih^T + b of those steps (c, B, 4H)).

        Each block of steps is one matrix product, (c*B, I_k) @ (I_k, 4H), written into the
        same buffer: a block is only valid until the next one is made.
        """
        seq, p = self.seq, self.p
        steps, batch, _ = seq.shape
        n4 = p.gain.shape[0]
        starts = range(0, steps, self.block)
        for start in reversed(starts) if backward else starts:
            chunk = seq[start : start + self.block]
            rows = len(chunk) * batch
            block = p.project(chunk.reshape(rows, -1), self.work[: rows * n4].reshape(rows, n4))
            yield range(start, start + len(chunk)), block.reshape(len(chunk), batch, n4)

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
        """Step through time (T-1 down to 0 when backward); return the final (h, c).

        Each block's projection is turned into the gate activations in place, so the block
        handed to `watch` holds the activations [i, f, g, o] of its steps, rows in time order.
        """
        p = self.p
        hs = p.gain.shape[0] // 4
        w_hh, row, split, rescale = p.w_hh, p.row, p.split, not p.hh_scaled
        gain, offset, column_gain, w_hr_t = p.gain, p.offset, p.gain[:, None], p.w_hr_t
        c = c.copy()  # C_t, (B, H), updated in place
        tmp, h_full = np.empty_like(c), np.empty_like(c)
        scratch = p.buffer(c.shape[0])
        recurrent = scratch if row else scratch.T  # (B, 4H) view of h W_hh^T
        parts = scratch.reshape(4, -1, scratch.shape[1]) if split else scratch
        way = slice(None, None, -1) if backward else slice(None)
        for ts, block in self.blocks(backward):
            # Per-step views come from iterating pre-sliced arrays: no indexing in the loop.
            gates = [block[:, :, k * hs : (k + 1) * hs][way] for k in range(4)]
            outs = self.out[ts.start : ts.stop][way]
            for t, z, i, f, g, o, y in zip(ts[way], block[way], *gates, outs, strict=True):
                if fire is not None and (active is None or t in active):
                    h_t, c[...], z[...] = self._hooked_step(t, z, h, c, fire, scratch)
                    y[...] = h_t
                    h = y
                    continue
                # the same operations as _Prepared.recurrent and _activate, inlined
                if row:
                    np.dot(h, w_hh, out=scratch)
                elif split:
                    np.matmul(w_hh, h.T, out=parts)
                else:
                    np.dot(w_hh, h.T, out=scratch)
                    if rescale:
                        scratch *= column_gain
                z += recurrent  # (x_t W_ih^T + b) + h_(t-1) W_hh^T, pre-scaled
                np.tanh(z, out=z)
                z *= gain
                z += offset
                np.multiply(f, c, out=c)
                np.multiply(i, g, out=tmp)
                c += tmp  # C_t = f * C_(t-1) + i * C~
                np.tanh(c, out=tmp)
                if w_hr_t is None:
                    np.multiply(o, tmp, out=y)  # h_t = o * tanh(C_t), straight into the output
                else:
                    np.multiply(o, tmp, out=h_full)
                    np.matmul(h_full, w_hr_t, out=y)
                h = y
            if watch is not None:
                watch(ts[way], block)  # rows in time order; the steps in visiting order
        return h, c

    def _hooked_step(
        self,
        t: int,
        xproj: FloatArray,
        h: FloatArray,
        c: FloatArray,
        fire: _Fire,
        scratch: FloatArray,
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """The same arithmetic as the plain step, with every intermediate offered to hooks.

        xproj: the step's pre-scaled x_t W_ih^T + b (B, 4H). Returns (h_t, C_t, the gate
        activations before any replacement). Every value shown to a hook is one nothing
        overwrites later."""
        p = self.p
        hs = p.gain.shape[0] // 4
        x_t, x_new = fire("x", t, self.seq[t])
        h, _ = fire("h_prev", t, h)
        c, _ = fire("c_prev", t, c.copy())  # the caller updates its C in place
        concat, cat_new = fire("concat", t, np.concatenate([h, x_t], axis=1))
        if x_new or cat_new:
            # The precomputed projection no longer matches what the hooks made of x_t or X.
            n = h.shape[1]
            h, xproj = concat[:, :n], p.project(concat[:, n:], np.empty_like(xproj))
        z = _activate(p.recurrent(h, scratch) + xproj, p)  # as the plain step: bit-identical
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
