"""The recurrence of one layer and direction: the arithmetic of every step, laid out for speed.

With X = [h_(t-1), x_t] (notation: ARCHITECTURE.md), per step t:

    z_t  = x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh          (B, 4H), gates [i, f, g, o]
    i, f, o = sigmoid(z)   C~ = tanh(z)                         (B, H) each
    C_t  = f * C_(t-1) + i * C~     h_t = o * tanh(C_t)        (B, H), then h_t W_hr^T

What keeps it fast: x_t W_ih^T + b of a block of steps is one matrix product, in one reused
buffer (memory stays bounded), so only h_(t-1) W_hh^T loops in Python;
sigmoid(z) = 0.5 * tanh(z / 2) + 0.5, so the sigmoid pre-activations are halved (exact in
floating point) and the four gates need one tanh; the recurrent product is laid out the way
OpenBLAS runs fastest (see Prepared); and the loop works in place in the block buffer,
writing h_t straight into the output and C_t into a block of cell states, with no allocation
per step. No I/O, nothing about how results are shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .config import PROJECTION_BLOCK
from .weights import DirectionWeights, FloatArray

#: Calls the hooks of one layer and direction at one hook point: (name, step, value (B, n))
#: -> (the value or its replacement, whether it was replaced).
Fire = Callable[[str, int, FloatArray], tuple[FloatArray, bool]]


#: recurrent matrices larger than this are multiplied gate by gate (see Prepared)
SPLIT_BYTES = 8 << 20


@dataclass(frozen=True)
class Prepared:
    """One direction's weights, laid out for the loop.

    The fused activation needs the pre-activations of the three sigmoid gates halved
    (exact in binary floating point). Each matrix is halved where it is cheaper: as a scaled
    copy of the weights when they are smaller than the values they produce over the whole
    sequence, otherwise on the values (the projected block, or each step's recurrent
    product). Either way the numbers are bit for bit the same; what is saved is copying
    (and touching fresh memory for) large weights on short sequences.

    The recurrent product is W_hh h^T into a (4H, B) buffer: OpenBLAS is often 1.5 to 2 times
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
        """h (B, H_out) -> the scaled h W_hh^T, (B, 4H), computed into out (from buffer())."""
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


def prepare(w: DirectionWeights, steps: int, batch: int) -> Prepared:
    """One direction's weights laid out for a run of `steps` steps of `batch` rows (see
    Prepared for the choices, made here from the sizes alone)."""
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
    return Prepared(
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


def activate(z: FloatArray, p: Prepared) -> FloatArray:
    """Pre-scaled pre-activations (B, 4H) -> [i, f, g, o] activations (B, 4H), in place."""
    np.tanh(z, out=z)
    z *= p.gain
    z += p.offset
    return z


class Recurrence:
    """The recurrence of one layer and direction over the whole sequence."""

    def __init__(self, p: Prepared, seq: FloatArray, out: FloatArray):
        self.p, self.seq, self.out = p, seq, out  # seq (T, B, I_k), out (T, B, H_out) view
        steps, batch = seq.shape[:2]
        width = batch * p.gain.shape[0]
        self.block = min(steps, max(1, PROJECTION_BLOCK // width))
        # One buffer for every block, reused: fresh memory costs a page fault per page.
        self.work = np.empty(self.block * width, dtype=p.gain.dtype)
        self.cells = np.empty((self.block, batch, p.gain.shape[0] // 4), dtype=p.gain.dtype)

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
        fire: Fire | None,
        active: frozenset[int] | None,
        watch: Callable[[Sequence[int], FloatArray], None] | None = None,
        whole: Callable[..., None] | None = None,
    ) -> tuple[FloatArray, FloatArray]:
        """Step through time (T-1 down to 0 when backward); return the final (h, c).

        Each block's projection is turned into the gate activations in place, so the block
        handed to `watch` holds the activations [i, f, g, o] of its steps, rows in time order;
        `whole` receives the rest of a StepBlock's fields too. C_t goes into a block of cell
        states (as cheap as one buffer, and what `whole` needs).
        """
        p = self.p
        hs = p.gain.shape[0] // 4
        w_hh, row, split, rescale = p.w_hh, p.row, p.split, not p.hh_scaled
        # (1, 4H) rather than (4H,): a ufunc whose operands have the same number of dimensions
        # skips NumPy's broadcasting set-up, 0.3 instead of 0.8 us a call on a small step
        gain, offset, column_gain = p.gain[None, :], p.offset[None, :], p.gain[:, None]
        w_hr_t = p.w_hr_t
        c_prev = c  # C_(t-1), (B, H): the initial state, then a row of self.cells
        tmp, h_full = np.empty(c.shape, c.dtype), np.empty(c.shape, c.dtype)  # C order
        scratch = p.buffer(c.shape[0])
        recurrent = scratch if row else scratch.T  # (B, 4H) view of h W_hh^T
        parts = scratch.reshape(4, -1, scratch.shape[1]) if split else scratch
        way = slice(None, None, -1) if backward else slice(None)
        dot, tanh, multiply = np.dot, np.tanh, np.multiply
        for ts, block in self.blocks(backward):
            # Per-step views come from iterating pre-sliced arrays: no indexing in the loop.
            gates = [block[:, :, k * hs : (k + 1) * hs][way] for k in range(4)]
            outs = self.out[ts.start : ts.stop][way]
            cells = self.cells[: len(ts)]
            h_before, c_before = h, None if whole is None else c_prev.copy()
            for t, z, i, f, g, o, y, c in zip(
                ts[way], block[way], *gates, outs, cells[way], strict=True
            ):
                if fire is not None and (active is None or t in active):
                    h_t, c[...], z[...] = self._hooked_step(t, z, h, c_prev, fire, scratch)
                    y[...] = h_t
                    h, c_prev = y, c
                    continue
                # the same operations as Prepared.recurrent and activate, inlined; positional
                # out= and local names: this loop is the floor of the pass on small shapes
                if row:
                    dot(h, w_hh, scratch)
                else:
                    if split:
                        np.matmul(w_hh, h.T, parts)
                    else:
                        dot(w_hh, h.T, scratch)
                    if rescale:
                        scratch *= column_gain
                z += recurrent  # (x_t W_ih^T + b) + h_(t-1) W_hh^T, pre-scaled
                tanh(z, z)
                z *= gain
                z += offset
                multiply(f, c_prev, c)
                multiply(i, g, tmp)
                c += tmp  # C_t = f * C_(t-1) + i * C~
                tanh(c, tmp)
                if w_hr_t is None:
                    multiply(o, tmp, y)  # h_t = o * tanh(C_t), straight into the output
                else:
                    multiply(o, tmp, h_full)
                    np.matmul(h_full, w_hr_t, y)
                h, c_prev = y, c
            if watch is not None:
                watch(ts[way], block)  # rows in time order; the steps in visiting order
            if whole is not None:
                x = self.seq[ts.start : ts.stop]
                whole(ts[way], x, block, cells, self.out[ts.start : ts.stop], h_before, c_before)
        return h, c_prev

    def _hooked_step(
        self,
        t: int,
        xproj: FloatArray,
        h: FloatArray,
        c: FloatArray,
        fire: Fire,
        scratch: FloatArray,
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """The same arithmetic as the plain step, with every intermediate offered to hooks.

        xproj: the step's pre-scaled x_t W_ih^T + b (B, 4H). Returns (h_t, C_t, the gate
        activations [i, f, g, o] as they flowed on, after any replacement: what observers, and
        so gate health and heatmaps, must see). Every value shown to a hook is one nothing
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
        z = activate(p.recurrent(h, scratch) + xproj, p)  # as the plain step: bit-identical
        f, _ = fire("forget_gate", t, z[:, hs : 2 * hs])
        i, _ = fire("input_gate", t, z[:, :hs])
        g, _ = fire("candidate", t, z[:, 2 * hs : 3 * hs])
        c, _ = fire("cell_state", t, f * c + i * g)
        o, _ = fire("output_gate", t, z[:, 3 * hs :])
        h = o * np.tanh(c)
        if p.w_hr_t is not None:
            h = h @ p.w_hr_t
        h, _ = fire("hidden_state", t, h)
        return h, c, np.concatenate([i, f, g, o], axis=1)  # PyTorch's order, replacements in
