"""What every cell's recurrence shares, laid out for speed: the weights prepared once per
layer and direction, and the input projection of a block of steps as one matrix product.

For any cell (notation: ARCHITECTURE.md) a step starts from

    x_t W_ih^T + b      (B, G*H)     of a whole block of steps at once: one product, in one
                                     reused buffer, so memory stays bounded
    h_(t-1) W_hh^T      (B, rows)    per step: the product the loop cannot batch

and applies the cell's activations (lstm_loop.py, gru_loop.py). The sigmoid is
0.5 * tanh(z / 2) + 0.5, so the pre-activations of the sigmoid gates are halved (exact in
binary floating point, a `gain` of 0.5 per row) and every gate of a step needs one tanh.
No I/O, nothing about how results are shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from .base import PROJECTION_BLOCK, FloatArray

#: x (c, B, I_k), out (c*B, G*H) -> scaled x W_ih^T + b in out (Prepared.project's, or the
#: kernel's, which reads x in place whatever its strides)
Project = Callable[[FloatArray, FloatArray], FloatArray]

#: recurrent matrices larger than this are multiplied gate by gate (see Prepared)
SPLIT_BYTES = 8 << 20
#: a piece of a block (Blocks) holds about this many multiply-adds of the recurrent product
REPORT_MACS = 1 << 28
#: and, when the compiled kernel runs the piece (3 to 5 times quicker a multiply-add), this
#: many: a piece is again 15 to 75 ms of work, and the kernel is called a quarter as often
KERNEL_REPORT_MACS = 1 << 30
#: and at most this many steps
REPORT_STEPS = 4096


# eq=False: arrays have no == to compare by (compared by identity)
@dataclass(frozen=True, eq=False)
class Prepared:
    """One direction's weights, laid out for the loop.

    Each matrix is halved (its sigmoid rows) where it is cheaper: as a scaled copy of the
    weights when they are smaller than the values they produce over the whole sequence,
    otherwise on the values (the projected block, or each step's recurrent product). Either
    way the numbers are bit for bit the same; what is saved is copying (and touching fresh
    memory for) large weights on short sequences.

    The recurrent product is W_hh h^T into a (rows, B) buffer: OpenBLAS is often 1.5 to 2
    times faster with the long side first than h W_hh^T; for B = 1 it is h W_hh^T, the
    quicker vector product. A matrix of more than SPLIT_BYTES is multiplied gate by gate (one
    stacked matmul), 5 to 25 % faster once it no longer fits the caches.
    """

    w_ih_t: FloatArray  # (I_k, G*H) view of W_ih or of its scaled copy
    ih_scaled: bool
    w_hh: FloatArray  # (rows, H_out) for B > 1, (blocks, H, H_out) split; (H_out, rows) B = 1
    hh_scaled: bool
    row: bool  # B == 1: the product is h W_hh^T
    split: bool  # B > 1 and w_hh is (blocks, H, H_out)
    bias: FloatArray  # (G*H,) the projection's bias, scaled
    gain: FloatArray  # (G*H,) 0.5 for sigmoid gates, 1 for tanh ones
    offset: FloatArray  # (G*H,) 0.5 for sigmoid gates, 0 for tanh ones
    hh_gain: FloatArray  # (rows,) the gain of w_hh's rows

    def recurrent(self, h: FloatArray, out: FloatArray) -> FloatArray:
        """h (B, H_out) -> the scaled h W_hh^T, (B, rows), computed into out (from buffer())."""
        if self.row:
            np.dot(h, self.w_hh, out=out)
        else:
            if self.split:
                np.matmul(self.w_hh, h.T, out=out.reshape(self.w_hh.shape[0], -1, out.shape[1]))
            else:
                np.dot(self.w_hh, h.T, out=out)
            if not self.hh_scaled:
                out *= self.hh_gain[:, None]
        return out if self.row else out.T

    def buffer(self, batch: int) -> FloatArray:
        """Scratch for recurrent(): (1, rows) for B = 1, (rows, B) otherwise."""
        n = self.hh_gain.shape[0]
        return np.empty((1, n) if self.row else (n, batch), dtype=self.gain.dtype)

    def project(self, x: FloatArray, out: FloatArray) -> FloatArray:
        """x (n, I_k) -> scaled x W_ih^T + b (n, G*H), computed into out."""
        np.dot(x, self.w_ih_t, out=out)
        if not self.ih_scaled:
            out *= self.gain
        out += self.bias
        return out


def gains(activations: tuple[str, ...], hidden: int, dtype: np.dtype[np.floating]) -> FloatArray:
    """(len(activations) * H,) 0.5 for each sigmoid gate's rows, 1 for each tanh gate's."""
    per_gate = np.array([0.5 if a == "sigmoid" else 1.0 for a in activations], dtype=dtype)
    return np.repeat(per_gate, hidden)


def prepare(
    w_ih: FloatArray,
    w_hh: FloatArray,
    bias: FloatArray,
    gain: FloatArray,
    hh_gain: FloatArray,
    hidden: int,
    steps: int,
    batch: int,
    copies: bool = True,
) -> Prepared:
    """Weights laid out for a run of `steps` steps of `batch` rows: w_ih (G*H, I_k), w_hh
    (rows, H_out) of rows // H gate blocks, bias (G*H,) unscaled, gain (G*H,) and hh_gain
    (rows,) from gains(). copies=False leaves the weights as they are (views; the NumPy
    loop's layouts are not made): the compiled kernel packs its own, and one copy is what
    the memory estimate allows for."""
    uses = steps * batch if copies else 0  # how many times each weight is used
    ih_scaled = w_ih.shape[1] < uses
    row = batch == 1 and copies
    hh_scaled = row or w_hh.shape[1] < uses  # B = 1 copies the matrix anyway
    hh = w_hh * hh_gain[:, None] if hh_scaled else np.ascontiguousarray(w_hh)
    split = not row and hh.nbytes > SPLIT_BYTES and copies
    if row:
        hh = np.ascontiguousarray(hh.T)
    elif split:
        hh = hh.reshape(hh.shape[0] // hidden, hidden, -1)
    return Prepared(
        w_ih_t=(w_ih * gain[:, None] if ih_scaled else w_ih).T,
        ih_scaled=ih_scaled,
        w_hh=hh,
        hh_scaled=hh_scaled,
        row=row,
        split=split,
        bias=bias * gain,
        gain=gain,
        offset=(1.0 - gain).astype(gain.dtype),
        hh_gain=hh_gain,
    )


class Blocks:
    """The input projection of a sequence, a block of steps at a time, in one reused buffer
    (fresh memory costs a page fault per page): at most PROJECTION_BLOCK numbers a block.

    Each block is handed out in pieces of at most `piece` steps (pieces()), so that the
    pass's observers, a progress bar among them, hear from a long run every few tens of
    milliseconds even where a block holds seconds of work (T = 5000, H = 256 is two blocks).
    The pieces are views of the block's one product: the arithmetic, and so every bit of
    the results, is that of whole blocks."""

    def __init__(self, p: Prepared, seq: FloatArray, compiled: Project | None = None):
        self.p, self.seq = p, seq  # seq (T, B, I_k)
        project = compiled  # the kernel's projection, when the kernel runs the pass
        if project is None:  # the NumPy path: one product of the block's rows
            project = lambda x, out: p.project(x.reshape(-1, x.shape[-1]), out)  # noqa: E731
        self.project = project
        steps, batch = seq.shape[:2]
        width = batch * p.gain.shape[0]
        self.size = min(steps, max(1, PROJECTION_BLOCK // width))
        macs = REPORT_MACS if compiled is None else KERNEL_REPORT_MACS
        self.piece = piece_steps(self.size, batch, p.w_hh.size, macs)
        self.work = np.empty(self.size * width, dtype=p.gain.dtype)

    def __call__(self, backward: bool) -> Iterator[tuple[range, FloatArray]]:
        """(the piece's steps in time order, x W_ih^T + b of those steps (c, B, G*H)), the
        last first when backward. Each block is one product, (c*B, I_k) @ (I_k, G*H),
        written into the same buffer: a piece is only valid until the next one is handed out."""
        way = -1 if backward else 1
        for ts, block in self._blocks(backward):
            starts = range(0, len(ts), self.piece)
            for start in starts[::way]:
                stop = min(start + self.piece, len(ts))
                yield ts[start:stop], block[start:stop]

    def _blocks(self, backward: bool) -> Iterator[tuple[range, FloatArray]]:
        """Whole blocks: (steps in time order, the projection (c, B, G*H))."""
        seq, p = self.seq, self.p
        steps, batch, _ = seq.shape
        n = p.gain.shape[0]
        starts = range(0, steps, self.size)
        for start in reversed(starts) if backward else starts:
            chunk = seq[start : start + self.size]
            rows = len(chunk) * batch
            block = self.project(chunk, self.work[: rows * n].reshape(rows, n))
            yield range(start, start + len(chunk)), block.reshape(len(chunk), batch, n)


def piece_steps(block: int, batch: int, recurrent: int, macs: int = REPORT_MACS) -> int:
    """Steps of a piece of a block (Blocks): about REPORT_MACS multiply-adds of the recurrent
    product, B * rows * H_out a step (`recurrent` = rows * H_out), and at most REPORT_STEPS,
    because a step also costs a few microseconds whatever its size. Measured on a 2-core
    machine: 3.7 us a step at H = 8 (a piece of 4096 steps, 15 ms), 7.7 us at H = 64 (4096,
    32 ms), 20 us at H = 256 (1024, 20 ms), 680 us at H = 1024 (64, 44 ms), 4.6 ms at
    H = 256, B = 64 (16, 74 ms); a piece costs the pass about 45 us (gate health's
    observer, the loop's set-up), so at most 0.3 % of its time."""
    return max(1, min(block, REPORT_STEPS, macs // max(1, batch * recurrent)))
