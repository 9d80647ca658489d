"""One-line tensor summaries: shape, dtype, a sample of values and NaN-aware stats.

In the spirit of lovely-numpy: ``(70,) float32 in [0.02, 0.97] mu=0.51 sigma=0.12``, with
NaN and Inf counted rather than poisoning the statistics. Values are converted to Python
floats at the precision of their dtype (the shortest decimal that round-trips), so JSON is
compact and the same bytes every run; non-finite values become None.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .weights import FloatArray


@dataclass(frozen=True)
class Stats:
    """Statistics over the finite values; None when there are none. nan/inf are counts."""

    min: float | None
    max: float | None
    mean: float | None
    std: float | None
    nan: int
    inf: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "std": self.std,
            "nan": self.nan,
            "inf": self.inf,
        }


def to_float(value: np.floating[Any] | float, dtype: np.dtype[Any]) -> float | None:
    """A scalar as the shortest Python float that round-trips in dtype; None if not finite.

    str() of a NumPy scalar is that shortest decimal (float32 0.1 is '0.1', not
    0.10000000149011612); a float64 is already a Python float's own shortest repr."""
    v = dtype.type(value)
    if not math.isfinite(v):
        return None
    return float(v) if dtype.itemsize == 8 else float(str(v))


def sample(value: FloatArray, k: int) -> list[float | None]:
    """The first k values in row-major order (batch 0 first)."""
    flat = value.reshape(-1)[:k]
    return [to_float(v, value.dtype) for v in flat]


def marks(value: FloatArray, k: int) -> tuple[str, ...]:
    """For display: 'nan', 'inf' or '-inf' where the first k values are not finite, else ''.
    Empty when they all are finite (JSON keeps null; people should see which it was)."""
    flat = value.reshape(-1)[:k]
    if np.isfinite(flat).all():
        return ()
    return tuple("" if np.isfinite(v) else str(float(v)) for v in flat)


def stats(value: FloatArray) -> Stats:
    """min, max, mean and std (population) of the finite values, plus NaN and Inf counts."""
    dtype = value.dtype
    finite = np.isfinite(value)
    if finite.all():
        data = value
        nan = inf = 0
    else:
        data = value[finite]
        nan = int(np.isnan(value).sum())
        inf = int(value.size - data.size - nan)
    if data.size == 0:
        return Stats(None, None, None, None, nan, inf)
    wide = data.astype(np.float64, copy=False).reshape(-1)  # accumulate in float64
    mean = wide.sum() / wide.size
    centred = wide - mean
    std = math.sqrt(float(np.dot(centred, centred)) / wide.size)  # two-pass: no cancellation
    return Stats(
        min=to_float(data.min(), dtype),
        max=to_float(data.max(), dtype),
        mean=to_float(mean, dtype),
        std=to_float(std, dtype),
        nan=nan,
        inf=inf,
    )


def describe(s: Stats, digits: int = 3) -> str:
    """A short human summary: '[-0.12, 0.97] mu=0.51 sd=0.12', with NaN!/Inf! flags."""
    flags = []
    if s.nan:
        flags.append(f"NaN! x{s.nan}")
    if s.inf:
        flags.append(f"Inf! x{s.inf}")
    if s.min is None or s.max is None or s.mean is None or s.std is None:
        return " ".join(flags) or "empty"
    if s.min == 0 and s.max == 0 and not flags:
        flags.insert(0, "all_zeros")
        return " ".join(flags)
    text = f"[{s.min:.{digits}g}, {s.max:.{digits}g}] mu={s.mean:.{digits}g} sd={s.std:.{digits}g}"
    return " ".join([text, *flags])
