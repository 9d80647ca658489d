"""The kernel's matrix product against NumPy's BLAS, on the products a pass makes.

    python bench/gemm.py            # best of 30 calls each, float32, Markdown table

Per shape: one step's recurrent product h (B, H_out) W_hh^T and one block's input projection
x (T*B, I) W_ih^T, timed as the NumPy loop calls them (np.dot into a reused buffer, with its
BLAS on all cores) and as the kernel does (lstm_trace._kernel.product / project on weights
packed once, on one thread and on OpenMP's); GFLOP/s are 2 multiply-adds' worth of the shape
over the best time. This is the measurement behind the kernel's own product: OpenBLAS packs
W again at every call and NumPy's copy of it cannot be called from C. Never run by the tests.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lstm_trace.cells import kernel

#: (label, rows, K, N): the bench's shapes, recurrent step then block projection
PRODUCTS = [
    ("T=1000 B=1 I=32 H=70, step", 1, 70, 280),
    ("T=1000 B=1 I=32 H=70, projection", 1000, 32, 280),
    ("T=50 B=8 I=1024 H=1024, step", 8, 1024, 4096),
    ("T=50 B=8 I=1024 H=1024, projection", 400, 1024, 4096),
    ("T=100 B=32 I=256 H=512, step", 32, 512, 2048),
    ("T=100 B=32 I=256 H=512, projection", 3200, 256, 2048),
    ("T=200 B=16 H=256 GRU, step", 16, 256, 768),
]


def best(fn: Callable[[], Any], calls: int = 30) -> float:
    fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def row(label: str, rows: int, k_: int, n: int) -> list[str]:
    k = kernel.built()
    assert k is not None, "no compiled kernel in this install"
    rng = np.random.default_rng(0)
    h = rng.standard_normal((rows, k_)).astype(np.float32)
    w = rng.standard_normal((n, k_)).astype(np.float32)
    packed = kernel.pack(np.ascontiguousarray(w.T))
    out = np.empty((rows, packed.shape[0] * packed.shape[2]), np.float32)
    cut = np.empty((rows, n), np.float32)
    zero = np.zeros(n, np.float32)
    blas_out = np.empty((rows, n), np.float32)
    w_t = w.T
    step = rows <= 64

    def ours() -> None:
        if step:
            k.product(h, packed, out)
        else:
            k.project(h[:, None, :], packed, zero, cut)

    times = {"numpy": best(lambda: np.dot(h, w_t, out=blas_out))}
    for threads in (1, 0):
        k.set_threads(threads)
        times["one" if threads else "all"] = best(ours)
    k.set_threads(0)
    flops = 2 * rows * k_ * n
    gf = {name: flops / t / 1e9 for name, t in times.items()}
    return [label, f"{times['numpy'] * 1e6:.0f}", f"{gf['numpy']:.0f}", f"{times['one'] * 1e6:.0f}",
            f"{gf['one']:.0f}", f"{times['all'] * 1e6:.0f}", f"{gf['all']:.0f}",
            f"{times['all'] / times['numpy']:.2f}"]  # fmt: skip


def main() -> None:
    header = ["product", "NumPy us", "GFLOP/s", "kernel 1 thread us", "GFLOP/s",
              "kernel us", "GFLOP/s", "kernel / NumPy"]  # fmt: skip
    rows = [row(*p) for p in PRODUCTS]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, ["-" * w for w in widths], *rows]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")


if __name__ == "__main__":
    main()
