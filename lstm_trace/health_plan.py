"""What the compiled kernel counts gate health with (health.py's monitor hands it over): each
column's saturation thresholds and the extremes before any value. Made once per shape and
read-only: every pass of the shape shares them."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .cells.base import FloatArray

SATURATION = 0.05


def thresholds(tanh: tuple[bool, ...], dtype: np.dtype[Any]) -> tuple[FloatArray, FloatArray]:
    """(below, above) (G,): each gate's saturation thresholds in the values' precision; a
    tanh gate (tanh[g]) saturates beyond +-0.95, a sigmoid gate below 0.05 and above 0.95."""
    high = 1 - SATURATION
    below = np.array([-high if t else SATURATION for t in tanh], dtype=dtype)
    return below, np.full(len(tanh), high, dtype=dtype)


@functools.lru_cache(maxsize=16)
def column_thresholds(
    hidden: int, tanh: tuple[bool, ...], dtype: np.dtype[Any]
) -> tuple[FloatArray, FloatArray]:
    """(below, above) (G*H,) each column's gate's thresholds, H = hidden columns a gate,
    read-only: one pair for every pass of a shape (a pair each kept 128 MB at H = 8192 in
    float64 when every block had its own)."""
    below, above = (np.repeat(t, hidden) for t in thresholds(tanh, dtype))
    for a in (below, above):
        a.flags.writeable = False
    return below, above


@functools.lru_cache(maxsize=16)
def unset(width: int, dtype: np.dtype[Any]) -> FloatArray:
    """(2, width) the running extremes before any value: +inf, then -inf (read-only: copy)."""
    extremes = np.empty((2, width), dtype=dtype)
    extremes[0], extremes[1] = np.inf, -np.inf
    extremes.flags.writeable = False
    return extremes
