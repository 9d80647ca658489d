"""The compiled kernel's plans of gate health (health.py's monitor hands them out): each
column's saturation thresholds, the extremes before any value, and each step's piece of a
block cut at the monitor's segments of time (health_segments.py). Made once per shape and
read-only: every pass of the shape shares them."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .cells.base import FloatArray, HealthPlan
from .health_segments import block_pieces

SATURATION = 0.05


def thresholds(tanh: tuple[bool, ...], dtype: np.dtype[Any]) -> tuple[FloatArray, FloatArray]:
    """(below, above) (G,): each gate's saturation thresholds in the values' precision; a
    tanh gate (tanh[g]) saturates beyond +-0.95, a sigmoid gate below 0.05 and above 0.95."""
    high = 1 - SATURATION
    below = np.array([-high if t else SATURATION for t in tanh], dtype=dtype)
    return below, np.full(len(tanh), high, dtype=dtype)


@functools.lru_cache(maxsize=64)  # the same blocks come at every pass of a shape
def block_plan(
    steps: int, hidden: int, tanh: tuple[bool, ...], dtype: np.dtype[Any], first: int, count: int
) -> HealthPlan:
    """The kernel's plan for steps first .. first + count - 1 of T = steps, H = hidden units
    per gate (HealthMonitor.plan): read-only, since every pass of the shape shares it."""
    pieces = tuple(block_pieces(steps, first, count))
    below, above = _column_thresholds(hidden, tanh, dtype)
    rows = np.array([b - a for _, a, b in pieces], dtype=np.int64)
    piece = np.repeat(np.arange(len(pieces), dtype=np.int64), rows)
    for a in (piece, rows):
        a.flags.writeable = False
    return HealthPlan(below, above, piece, pieces, rows, unset(len(below), dtype))


@functools.lru_cache(maxsize=16)
def _column_thresholds(
    hidden: int, tanh: tuple[bool, ...], dtype: np.dtype[Any]
) -> tuple[FloatArray, FloatArray]:
    """(below, above) (G*H,) each column's gate's thresholds, read-only: one pair for every
    plan of a shape (a pair each, block_plan()'s cache kept 128 MB at H = 8192 in float64)."""
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
