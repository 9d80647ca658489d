"""The GRU's recurrence over one layer and direction, laid out for speed (cells/gru.py has the
equations, recurrence.py what every cell shares).

Per step, with gi = x_t W_ih^T + b projected a block at a time (r and z columns carry the sum
of both biases, n only b_in) and the sigmoid columns pre-scaled by 0.5:

    reset_after=True:   gh = h W_hh^T (3H, pre-scaled), gh_n += b_hn
                        r, z = 0.5 tanh(gi_rz + gh_rz) + 0.5;  rh = r * gh_n
    reset_after=False:  gh = h W_hh[rz]^T (2H, pre-scaled);  r, z as above;  rh = r * h
                        gi_n += rh W_hn^T
    n = tanh(gi_n + rh);  h_t = n + z * (h_(t-1) - n)

(h_t = (1 - z) n + z h_(t-1), one multiplication fewer). The block buffer is turned into the
activations [r, z, n] in place; rh goes into a block of its own (the reset_hidden hook
point), and h_t straight into the output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import kernel
from .base import Fire, FloatArray, HealthWatch, Runner, Watch, Whole
from .recurrence import Blocks, Prepared, gains, prepare

#: the activations of the 3H rows, PyTorch's order r, z, n
ACTIVATIONS = ("sigmoid", "sigmoid", "tanh")


# eq=False: arrays have no == to compare by (compared by identity)
@dataclass(frozen=True, eq=False)
class GRUPrepared:
    """The shared layout (recurrence.Prepared) and the candidate's recurrent part."""

    p: Prepared
    b_hn: FloatArray  # (1, H) added to h W_hn^T inside the reset (reset_after=True)
    w_hn_t: FloatArray | None  # (H, H) W_hn^T, applied to r * h (reset_after=False)


def prepare_gru(
    w: Any, steps: int, batch: int, reset_after: bool, copies: bool = True
) -> GRUPrepared:
    """One direction's DirectionWeights laid out for `steps` steps of `batch` rows (copies:
    recurrence.prepare's)."""
    h, dtype = w.hidden_size, w.w_ih.dtype
    gain = gains(ACTIVATIONS, h, dtype)
    rz = slice(0, 2 * h)
    if reset_after:
        bias = np.concatenate([w.b_ih[rz] + w.b_hh[rz], w.b_ih[2 * h :]])
        p = prepare(w.w_ih, w.w_hh, bias, gain, gain, h, steps, batch, copies)
        return GRUPrepared(p, w.b_hh[None, 2 * h :].copy(), None)
    bias = w.b_ih + w.b_hh  # b_hn sits outside the reset: it joins b_in
    p = prepare(w.w_ih, w.w_hh[rz], bias, gain, gain[rz], h, steps, batch, copies)
    return GRUPrepared(p, np.zeros((1, h), dtype), np.ascontiguousarray(w.w_hh[2 * h :].T))


class GRURunner(Runner):
    """The recurrence of one GRU layer and direction over the whole sequence."""

    def __init__(self, w: Any, seq: FloatArray, out: FloatArray, reset_after: bool):
        steps, batch = seq.shape[:2]
        # compiled where built and where it pays (kernel.py)
        self.kernel = kernel.active(w.w_ih.dtype, steps, kernel.macs(w, steps, batch))
        self.gp = prepare_gru(w, steps, batch, reset_after, copies=self.kernel is None)
        self.seq, self.out = seq, out  # seq (T, B, I_k), out (T, B, H) view
        project = None
        if self.kernel is not None:
            hs, gain = w.hidden_size, self.gp.p.gain
            project = kernel.projector(self.kernel, w.w_ih, gain, self.gp.p.bias)
            rows = 3 * hs if reset_after else 2 * hs  # without: W_hn is applied to r * h
            self.k_hh = kernel.pack(w.w_hh[:rows].T, gain[:rows])
            w_hn_t = self.gp.w_hn_t
            self.k_hn = None if w_hn_t is None else kernel.pack(w_hn_t)
            self.k_bhn = np.ascontiguousarray(self.gp.b_hn[0])
        self.blocks = Blocks(self.gp.p, seq, project)
        self.resets = np.empty((self.blocks.size, batch, w.hidden_size), dtype=w.w_ih.dtype)

    def run(
        self,
        h: FloatArray,
        states: tuple[FloatArray, ...],
        *,
        backward: bool,
        fire: Fire | None,
        active: frozenset[int] | None,
        watch: Watch | None = None,
        whole: Whole | None = None,
        health: HealthWatch | None = None,
    ) -> tuple[FloatArray, tuple[FloatArray, ...]]:
        """Each block's projection becomes the activations [r, z, n] of its steps in place
        (rows in time order, a hook's replacements in), handed to `health` (with what the
        kernel counted of it, kernel.Counter) and `watch`; `whole` gets the reset_hidden
        block as well."""
        way = slice(None, None, -1) if backward else slice(None)
        for ts, block in self.blocks(backward):
            resets = self.resets[: len(ts)]
            h_before = h
            counter = kernel.Counter.of(self.kernel, health, block, ts)
            if self.kernel is None:
                h = self._loop(ts, block, resets, h, backward, fire, active)
            else:
                h = self._compiled(ts, block, resets, h, backward, fire, active, counter)
            if health is not None:
                health(ts[way], block, kernel.Counter.result(counter))
            if watch is not None:
                watch(ts[way], block)
            if whole is not None:
                x = self.seq[ts.start : ts.stop]
                hidden = self.out[ts.start : ts.stop]
                whole(ts[way], x, block, hidden, h_before, {"reset_hidden": resets}, {})
        return h, ()

    def _compiled(
        self,
        ts: range,
        block: FloatArray,
        resets: FloatArray,
        h: FloatArray,
        backward: bool,
        fire: Fire | None,
        active: frozenset[int] | None,
        counter: kernel.Counter | None,
    ) -> FloatArray:
        """A piece through the kernel: each run of unhooked steps in one call (counting gate
        health into counter, when given), each hooked step through _loop's stepwise path.
        Returns h after the piece."""
        assert self.kernel is not None
        p = self.gp.p
        for a, b, hooked in kernel.segments(ts, fire, active, backward):
            steps = range(ts.start + a, ts.start + b)
            if hooked:
                h = self._loop(steps, block[a:b], resets[a:b], h, backward, fire, active)
                if counter is not None:  # its values are final: counted now
                    counter.count(self.kernel, block, a, b)
                continue
            outs = self.out[steps.start : steps.stop]
            bad = self.kernel.gru(block[a:b], self.k_hh, kernel.state(h), outs, resets[a:b],
                                  p.gain, p.offset, self.k_bhn, self.k_hn, backward,
                                  None if counter is None else counter.args(a, b))  # fmt: skip
            if counter is not None:
                counter.bad += bad
            h = outs[0 if backward else b - a - 1]
        return h

    def _loop(
        self,
        ts: range,
        block: FloatArray,
        resets: FloatArray,
        h: FloatArray,
        backward: bool,
        fire: Fire | None,
        active: frozenset[int] | None,
    ) -> FloatArray:
        """The NumPy steps of a piece (the reference). Returns h after the piece."""
        gp, p = self.gp, self.gp.p
        hs = p.gain.shape[0] // 3
        scratch = p.buffer(h.shape[0])
        rec = scratch if p.row else scratch.T  # (B, rows) view of h W_hh^T
        rec_rz, rec_n = rec[:, : 2 * hs], rec[:, 2 * hs :]
        gain, offset = p.gain[None, : 2 * hs], p.offset[None, : 2 * hs]
        b_hn, w_hn_t = gp.b_hn, gp.w_hn_t
        tmp = np.empty(h.shape, h.dtype)
        way = slice(None, None, -1) if backward else slice(None)
        tanh, multiply = np.tanh, np.multiply
        rz_cols = block[:, :, : 2 * hs][way]
        r_cols, z_cols, n_cols = (block[:, :, k * hs : (k + 1) * hs][way] for k in range(3))
        outs = self.out[ts.start : ts.stop][way]
        for t, row, rz, r, z, n, y, rh in zip(
            ts[way], block[way], rz_cols, r_cols, z_cols, n_cols, outs, resets[way],
            strict=True,
        ):  # fmt: skip
            if fire is not None and (active is None or t in active):
                y[...], rh[...], row[...] = self._hooked_step(t, row, h, fire, scratch)
                h = y
                continue
            p.recurrent(h, scratch)
            rz += rec_rz
            tanh(rz, rz)
            rz *= gain
            rz += offset  # r and z
            if w_hn_t is None:
                rec_n += b_hn
                multiply(r, rec_n, rh)  # rh = r * (W_hn h + b_hn)
                n += rh
            else:
                multiply(r, h, rh)  # rh = r * h
                n += rh @ w_hn_t
            tanh(n, n)
            np.subtract(h, n, tmp)
            tmp *= z
            np.add(n, tmp, y)  # h_t = n + z * (h_(t-1) - n)
            h = y
        return h

    def _hooked_step(
        self, t: int, xproj: FloatArray, h: FloatArray, fire: Fire, scratch: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """The same arithmetic as the plain step, every intermediate offered to hooks.

        xproj: the step's pre-scaled x_t W_ih^T + b (B, 3H). Returns (h_t, rh_t, the gate
        activations [r, z, n] as they flowed on, replacements in)."""
        gp, p = self.gp, self.gp.p
        hs = p.gain.shape[0] // 3
        x_t, x_new = fire("x", t, self.seq[t])
        h, _ = fire("h_prev", t, h)
        concat, cat_new = fire("concat", t, np.concatenate([h, x_t], axis=1))
        if x_new or cat_new:
            n_h = h.shape[1]
            h, xproj = concat[:, :n_h], p.project(concat[:, n_h:], np.empty_like(xproj))
        k = self.kernel  # with the kernel, its arithmetic: a hooked step gives the loop's bits
        rows = p.hh_gain.shape[0]
        rec = p.recurrent(h, scratch) if k is None else kernel.product(k, h, self.k_hh, rows)
        rz: FloatArray = xproj[:, : 2 * hs] + rec[:, : 2 * hs]  # as the plain step
        if k is None:
            np.tanh(rz, rz)
        else:
            rz = kernel.tanh(k, rz)
        rz *= p.gain[None, : 2 * hs]
        rz += p.offset[None, : 2 * hs]
        r, _ = fire("reset_gate", t, rz[:, :hs])
        z, _ = fire("update_gate", t, rz[:, hs:])
        n: FloatArray
        if gp.w_hn_t is None:
            rh, _ = fire("reset_hidden", t, r * (rec[:, 2 * hs :] + gp.b_hn))
            n = xproj[:, 2 * hs :] + rh
        else:
            rh, _ = fire("reset_hidden", t, r * h)
            hn: FloatArray
            if k is None or self.k_hn is None:
                hn = rh @ gp.w_hn_t
            else:
                hn = kernel.product(k, rh, self.k_hn, hs)
            n = xproj[:, 2 * hs :] + hn
        n, _ = fire("candidate", t, np.tanh(n) if k is None else kernel.tanh(k, n))
        h_t: FloatArray = n + (h - n) * z
        h_t, _ = fire("hidden_state", t, h_t)
        return h_t, rh, np.concatenate([r, z, n], axis=1)
