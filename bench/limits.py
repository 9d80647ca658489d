"""The arithmetic limit of a forward pass: its matrix products' FLOPs over the machine's own
measured float32 matrix-product (sgemm) peak.

Per layer k and direction, with G gates (LSTM 4, GRU 3), H hidden units, H_out the size of h
(proj_size when projecting, else H) and I_k the layer's input (I, then D x H_out above):

    input projection   2 T B I_k G H      (x_t W_ih^T for every step)
    recurrence         2 T B H_out G H    (h_(t-1) W_hh^T)
    projection         2 T B H H_out      (W_hr h_t, only with proj_size)

A multiply-add is two FLOPs. The gates' elementwise arithmetic and the biases are left out:
they are O(T B G H), against O(T B G H (I + H)) for the products, and a product runs near the
peak while elementwise work does not, so the limit is a floor no implementation goes under.
"""

from __future__ import annotations

import numpy as np
from shapes import Shape
from timing import CLOCKS

GATES = {"lstm": 4, "gru": 3}


def pass_flops(shape: Shape, gates: int, proj_size: int = 0) -> int:
    """FLOPs of the matrix products of one forward pass over `shape` (T, B, I, H, layers,
    bidirectional), with `gates` gates per cell."""
    t, b, i, h, layers, bi = shape
    directions = 2 if bi else 1
    h_out = proj_size or h
    total = 0
    for layer in range(layers):
        inputs = i if layer == 0 else directions * h_out
        per_direction = 2 * t * b * gates * h * (inputs + h_out)
        if proj_size:
            per_direction += 2 * t * b * h * h_out
        total += directions * per_direction
    return total


def sgemm_peak(
    sizes: tuple[int, ...] = (1024, 2048, 4096), repeats: int = 5, clock: str = "wall"
) -> tuple[float, int]:
    """The machine's float32 matrix-product peak in FLOP/s, and the n that reached it: the
    best of `repeats` n x n by n x n products (2 n^3 FLOPs) for each n, NumPy on all its BLAS
    threads, into a preallocated output so that no allocation is timed. clock: "wall" or
    "cpu", as timing.take_turns."""
    now = CLOCKS[clock]
    best, best_n = 0.0, sizes[0]
    rng = np.random.default_rng(0)
    for n in sizes:
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        out = np.empty((n, n), dtype=np.float32)
        np.matmul(a, b, out=out)  # the threads woken, the pages touched
        for _ in range(repeats):
            start = now()
            np.matmul(a, b, out=out)
            rate = 2 * n**3 / max(now() - start, 1e-9)
            if rate > best:
                best, best_n = rate, n
    return best, best_n


def limit_seconds(shape: Shape, gates: int, peak: float) -> float:
    """The time the pass's products take at the peak: no forward pass can be faster."""
    return pass_flops(shape, gates) / peak
