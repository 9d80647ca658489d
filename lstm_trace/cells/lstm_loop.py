"""The LSTM's recurrence over one layer and direction, laid out for speed (cells/lstm.py has
the equations, recurrence.py what every cell shares).

Per step, z = x_t W_ih^T + b (projected a block at a time) + h_(t-1) W_hh^T, pre-scaled so
that one tanh over the 4H columns gives all four gates (sigmoid(z) = 0.5 tanh(z / 2) + 0.5),
then C_t = f * C_(t-1) + i * C~ and h_t = o * tanh(C_t). The loop works in place in the
block buffer, writing h_t straight into the output and C_t into a block of cell states, with
no allocation per step. With peepholes, i and f add p * C_(t-1) before their tanh and o adds
p_o * C_t after C_t is known, so the gates take two tanh calls instead of one: every step of
a peephole LSTM takes the stepwise path (_hooked_step, with no hook where none is asked for),
and the loop of the others stays as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import kernel
from .base import Fire, FloatArray, HealthWatch, Runner, Watch, Whole
from .recurrence import Blocks, Prepared, gains, prepare

#: the peephole vectors' order inside w_peep (3H,)
PEEPHOLE_ORDER = ("i", "f", "o")
#: the activations of the 4H rows, PyTorch's order i, f, g, o
ACTIVATIONS = ("sigmoid", "sigmoid", "tanh", "sigmoid")


# eq=False: arrays have no == to compare by (compared by identity)
@dataclass(frozen=True, eq=False)
class LSTMPrepared:
    """The shared layout (recurrence.Prepared), the projection and the peepholes."""

    p: Prepared
    w_hr_t: FloatArray | None  # (H, H_out)
    peep: FloatArray | None  # (3, 1, H) p_i, p_f, p_o halved: every peephole feeds a sigmoid


def prepare_lstm(w: Any, steps: int, batch: int, copies: bool = True) -> LSTMPrepared:
    """One direction's DirectionWeights laid out for `steps` steps of `batch` rows (copies:
    recurrence.prepare's)."""
    h, dtype = w.hidden_size, w.w_ih.dtype
    gain = gains(ACTIVATIONS, h, dtype)
    p = prepare(w.w_ih, w.w_hh, w.b_ih + w.b_hh, gain, gain, h, steps, batch, copies)
    peep = None if w.w_peep is None else (w.w_peep * dtype.type(0.5)).reshape(3, 1, h)
    return LSTMPrepared(p, None if w.w_hr is None else w.w_hr.T, peep)


def activate(z: FloatArray, p: Prepared) -> FloatArray:
    """Pre-scaled pre-activations (B, 4H) -> [i, f, g, o] activations (B, 4H), in place."""
    np.tanh(z, out=z)
    z *= p.gain
    z += p.offset
    return z


def peephole_gates(z: FloatArray, c_prev: FloatArray, lp: LSTMPrepared) -> None:
    """i, f and g of pre-scaled z (B, 4H) in place, the peepholes p_i, p_f reading C_(t-1)."""
    assert lp.peep is not None
    hs = c_prev.shape[-1]
    z[:, :hs] += lp.peep[0] * c_prev
    z[:, hs : 2 * hs] += lp.peep[1] * c_prev
    head = z[:, : 3 * hs]
    np.tanh(head, out=head)
    head *= lp.p.gain[: 3 * hs]
    head += lp.p.offset[: 3 * hs]


def peephole_output(o: FloatArray, c: FloatArray, lp: LSTMPrepared) -> None:
    """o of its pre-scaled pre-activation (B, H) in place, the peephole p_o reading C_t."""
    assert lp.peep is not None
    o += lp.peep[2] * c
    np.tanh(o, out=o)
    o *= 0.5
    o += 0.5


def _every_step(fire: Fire | None, active: frozenset[int] | None) -> Fire:
    """A Fire for every step of a peephole LSTM: the hooks' at their steps, elsewhere one that
    keeps every value (the stepwise arithmetic, which peepholes need: o_t reads C_t)."""

    def each(name: str, t: int, value: FloatArray) -> tuple[FloatArray, bool]:
        if fire is not None and (active is None or t in active):
            return fire(name, t, value)
        return value, False

    return each


class LSTMRunner(Runner):
    """The recurrence of one LSTM layer and direction over the whole sequence."""

    def __init__(self, w: Any, seq: FloatArray, out: FloatArray):
        steps, batch = seq.shape[:2]
        # the compiled loop where it is built and pays (kernel.py); peepholes keep NumPy's
        peep, macs = w.w_peep is not None, kernel.macs(w, steps, batch)
        self.kernel = None if peep else kernel.active(w.w_ih.dtype, steps, macs)
        self.lp = prepare_lstm(w, steps, batch, copies=self.kernel is None)
        self.seq, self.out = seq, out  # seq (T, B, I_k), out (T, B, H_out) view
        project = None
        if self.kernel is not None:
            gain = self.lp.p.gain
            project = kernel.projector(self.kernel, w.w_ih, gain, self.lp.p.bias)
            self.k_hh = kernel.pack(w.w_hh.T, gain)
            w_hr_t = self.lp.w_hr_t
            self.k_hr = None if w_hr_t is None else kernel.pack(w_hr_t)
        self.blocks = Blocks(self.lp.p, seq, project)
        self.cells = np.empty((self.blocks.size, batch, w.hidden_size), dtype=w.w_ih.dtype)

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
        """Each block's projection is turned into the gate activations in place, so the block
        handed to `health` and `watch` holds the activations [i, f, g, o] of its steps, rows
        in time order (a hook's replacements in); C_t goes into a block of cell states (as
        cheap as one buffer, and what `whole` needs). With the kernel, gate health is counted
        in its loop while each step is in cache (kernel.Counter)."""
        if self.lp.peep is not None:  # every step takes the stepwise path, so the loop
            fire, active = _every_step(fire, active), None  # stays as fast as it was
        (c_last,) = states  # C_(t-1), (B, H): the initial state, then a row of self.cells
        way = slice(None, None, -1) if backward else slice(None)
        for ts, block in self.blocks(backward):
            cells = self.cells[: len(ts)]
            h_before, c_before = h, None if whole is None else c_last.copy()
            counter = kernel.Counter.of(self.kernel, health, block, ts)
            if self.kernel is None:
                h, c_last = self._loop(ts, block, cells, h, c_last, backward, fire, active)
            else:
                h, c_last = self._compiled(ts, block, cells, h, c_last, backward, fire, active,
                                           counter)  # fmt: skip
            if health is not None:
                health(ts[way], block, kernel.Counter.result(counter))
            if watch is not None:
                watch(ts[way], block)  # rows in time order; the steps in visiting order
            if whole is not None:
                x = self.seq[ts.start : ts.stop]
                hidden = self.out[ts.start : ts.stop]
                whole(ts[way], x, block, hidden, h_before, {"cell_state": cells},
                      {"c_prev": c_before})  # fmt: skip
        return h, (c_last,)

    def _compiled(
        self,
        ts: range,
        block: FloatArray,
        cells: FloatArray,
        h: FloatArray,
        c_last: FloatArray,
        backward: bool,
        fire: Fire | None,
        active: frozenset[int] | None,
        counter: kernel.Counter | None,
    ) -> tuple[FloatArray, FloatArray]:
        """A piece through the kernel: each run of unhooked steps in one call (counting gate
        health into counter, when given), each hooked step through _loop's stepwise path.
        Returns (h, C) after the piece."""
        assert self.kernel is not None
        p = self.lp.p
        for a, b, hooked in kernel.segments(ts, fire, active, backward):
            steps = range(ts.start + a, ts.start + b)
            if hooked:
                h, c_last = self._loop(steps, block[a:b], cells[a:b], h, c_last, backward,
                                       fire, active)  # fmt: skip
                if counter is not None:  # its values are final: counted now
                    counter.count(self.kernel, block, a, b)
                continue
            outs = self.out[steps.start : steps.stop]
            bad = self.kernel.lstm(block[a:b], self.k_hh, kernel.state(h),
                                   kernel.state(c_last), outs, cells[a:b], p.gain, p.offset,
                                   self.k_hr, backward,
                                   None if counter is None else counter.args(a, b))  # fmt: skip
            if counter is not None:
                counter.bad += bad
            last = 0 if backward else b - a - 1
            h, c_last = outs[last], cells[a + last]
        return h, c_last

    def _loop(
        self,
        ts: range,
        block: FloatArray,
        cells: FloatArray,
        h: FloatArray,
        c_last: FloatArray,
        backward: bool,
        fire: Fire | None,
        active: frozenset[int] | None,
    ) -> tuple[FloatArray, FloatArray]:
        """The NumPy steps of a piece (the reference). Returns (h, C) after the piece."""
        lp, p = self.lp, self.lp.p
        hs = p.gain.shape[0] // 4
        w_hh, row, split, rescale = p.w_hh, p.row, p.split, not p.hh_scaled
        # (1, 4H) rather than (4H,): a ufunc whose operands have the same number of dimensions
        # skips NumPy's broadcasting set-up, 0.3 instead of 0.8 us a call on a small step
        gain, offset, column_gain = p.gain[None, :], p.offset[None, :], p.gain[:, None]
        w_hr_t = lp.w_hr_t
        tmp, h_full = np.empty(c_last.shape, c_last.dtype), np.empty(c_last.shape, c_last.dtype)
        scratch = p.buffer(c_last.shape[0])
        recurrent = scratch if row else scratch.T  # (B, 4H) view of h W_hh^T
        parts = scratch.reshape(w_hh.shape[0], -1, scratch.shape[1]) if split else scratch
        way = slice(None, None, -1) if backward else slice(None)
        dot, tanh, multiply = np.dot, np.tanh, np.multiply
        # Per-step views come from iterating pre-sliced arrays: no indexing in the loop.
        gates = [block[:, :, k * hs : (k + 1) * hs][way] for k in range(4)]
        outs = self.out[ts.start : ts.stop][way]
        for t, z, i, f, g, o, y, c in zip(
            ts[way], block[way], *gates, outs, cells[way], strict=True
        ):
            if fire is not None and (active is None or t in active):
                h_t, c[...], z[...] = self._hooked_step(t, z, h, c_last, fire, scratch)
                y[...] = h_t
                h, c_last = y, c
                continue
            # the same operations as Prepared.recurrent and activate, inlined; positional
            # out= and local names: this loop is the floor of the NumPy path on small shapes
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
            multiply(f, c_last, c)
            multiply(i, g, tmp)
            c += tmp  # C_t = f * C_(t-1) + i * C~
            tanh(c, tmp)
            if w_hr_t is None:
                multiply(o, tmp, y)  # h_t = o * tanh(C_t), straight into the output
            else:
                multiply(o, tmp, h_full)
                np.matmul(h_full, w_hr_t, y)
            h, c_last = y, c
        return h, c_last

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
        lp, p = self.lp, self.lp.p
        hs = p.gain.shape[0] // 4
        x_t, x_new = fire("x", t, self.seq[t])
        h, _ = fire("h_prev", t, h)
        c, _ = fire("c_prev", t, c.copy())  # the caller updates its C in place
        concat, cat_new = fire("concat", t, np.concatenate([h, x_t], axis=1))
        if x_new or cat_new:
            # The precomputed projection no longer matches what the hooks made of x_t or X.
            n = h.shape[1]
            h, xproj = concat[:, :n], p.project(concat[:, n:], np.empty_like(xproj))
        z: FloatArray
        if self.kernel is None:
            z = p.recurrent(h, scratch) + xproj  # as the plain step: bit-identical
            if lp.peep is None:
                activate(z, p)
            else:
                peephole_gates(z, c, lp)
        else:  # the kernel's arithmetic, so that a hooked step gives the loop's bits
            z = kernel.product(self.kernel, h, self.k_hh, 4 * hs) + xproj
            z = kernel.activate(self.kernel, z, p.gain, p.offset)
        f, _ = fire("forget_gate", t, z[:, hs : 2 * hs])
        i, _ = fire("input_gate", t, z[:, :hs])
        g, _ = fire("candidate", t, z[:, 2 * hs : 3 * hs])
        c, _ = fire("cell_state", t, f * c + i * g)
        o: FloatArray = z[:, 3 * hs :]
        if lp.peep is not None:
            o = o.copy()
            peephole_output(o, c, lp)
        o, _ = fire("output_gate", t, o)
        if self.kernel is None:
            h = o * np.tanh(c)
            if lp.w_hr_t is not None:
                h = h @ lp.w_hr_t
        else:
            h = o * kernel.tanh(self.kernel, c)
            if self.k_hr is not None:
                h = kernel.product(self.kernel, h, self.k_hr, self.out.shape[-1])
        h, _ = fire("hidden_state", t, h)
        return h, c, np.concatenate([i, f, g, o], axis=1)  # PyTorch's order, replacements in
