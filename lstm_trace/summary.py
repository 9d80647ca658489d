"""One-line tensor summaries: shape, dtype, a sample of values and NaN-aware stats.

In the spirit of lovely-numpy: ``(70,) float32 in [0.02, 0.97] mu=0.51 sigma=0.12``, with
NaN and Inf counted rather than poisoning the statistics. Values are converted to Python
floats at the precision of their dtype (the shortest decimal that round-trips), so JSON is
compact and the same bytes every run; non-finite values become None.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, fields
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from .cells import kernel
from .cells.base import FloatArray


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


def to_floats(values: npt.ArrayLike, dtype: np.dtype[Any]) -> list[float | None]:
    """Values, flattened, as the shortest Python floats that round-trip in dtype; None where
    not finite.

    A float32 0.1 becomes 0.1, not 0.10000000149011612: its shortest decimal, which NumPy
    writes for a whole array in C (astype(str), the digits str() gives each scalar), two to
    three times quicker than a call per value; a record holds eight such numbers. A float64
    is already a Python float's own shortest repr."""
    a = np.asarray(values).astype(dtype, copy=False).reshape(-1)
    if dtype.itemsize == 8:
        out: list[float | None] = a.tolist()
    else:
        # legacy="1.13" would print 6 digits; the option is set only then (setting costs 4 us)
        legacy = np.get_printoptions()["legacy"] is not False
        with np.printoptions(legacy=False) if legacy else contextlib.nullcontext():
            out = [float(s) for s in a.astype(str).tolist()]
    finite = np.isfinite(a)
    if not finite.all():
        for k in np.flatnonzero(~finite).tolist():
            out[k] = None
    return out


def marks(value: FloatArray, k: int) -> tuple[str, ...]:
    """For display: 'nan', 'inf' or '-inf' where the first k values are not finite, else ''.
    Empty when they all are finite (JSON keeps null; people should see which it was)."""
    flat = value.reshape(-1)[:k]
    if np.isfinite(flat).all():
        return ()
    return tuple("" if np.isfinite(v) else str(float(v)) for v in flat)


# eq=False: arrays have no == to compare by (compared by identity)
@dataclass(frozen=True, eq=False)
class StatsRows:
    """The stats of r tensors at once, each a row of a (r, m) array: float64 columns (r,) for
    min, max, mean and std (NaN where a row has no finite value), int columns for the counts."""

    min: FloatArray
    max: FloatArray
    mean: FloatArray
    std: FloatArray
    nan: npt.NDArray[np.int64]
    inf: npt.NDArray[np.int64]

    def __getitem__(self, rows: slice) -> StatsRows:
        """These rows only."""
        return StatsRows(*(getattr(self, f.name)[rows] for f in fields(self)))

    @staticmethod
    def join(parts: Sequence[StatsRows], interleave: bool = False) -> StatsRows:
        """The rows of each part, one part after another; or, interleaved (parts of r rows
        each), row j of every part in turn: part p's row j becomes row j * len(parts) + p."""
        names = [f.name for f in fields(StatsRows)]
        if not interleave:
            return StatsRows(*(np.concatenate([getattr(p, n) for p in parts]) for n in names))
        count = len(parts)
        columns = []
        for n in names:  # each part into every count-th row: no stacked copy in between
            first = getattr(parts[0], n)
            out = np.empty(len(first) * count, dtype=first.dtype)
            for k, p in enumerate(parts):
                out[k::count] = getattr(p, n)
            columns.append(out)
        return StatsRows(*columns)


def stats_rows(values: FloatArray) -> StatsRows:
    """min, max, mean and std (population) of the finite values of each row of (r, m) values,
    plus NaN and Inf counts; sums in float64, the variance in two passes (no cancellation).

    A row's numbers do not depend on the other rows, so a trace made with hooks (a row at a
    time) and one made from whole blocks agree to the last bit. The compiled kernel, when it
    is loaded, computes the same bits (NumPy's pairwise sums, in its order) 4 to 10 x
    quicker; the rows it leaves (a NaN, an Inf, a zero extreme) come from the NumPy path."""
    k = kernel.loaded() if values.shape[1] and values.dtype in _KERNEL_TYPES else None
    return _numpy_rows(values) if k is None else _compiled_rows(k, values)


_KERNEL_TYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _compiled_rows(k: ModuleType, values: FloatArray) -> StatsRows:
    """stats_rows through the kernel's stats(); the rows it marks (NaN) through NumPy's, all
    in one call so that NumPy takes the branch (finite or not) it takes for these values."""
    out = np.empty((4, values.shape[0]))
    marked = k.stats(kernel.state(values), out)
    counts = np.zeros((2, values.shape[0]), dtype=np.int64)
    rows = StatsRows(out[0], out[1], out[2], out[3], counts[0], counts[1])
    if marked:
        redo = np.flatnonzero(np.isnan(out[2]))
        again = _numpy_rows(values[redo])
        for f in fields(StatsRows):
            getattr(rows, f.name)[redo] = getattr(again, f.name)
    return rows


def _numpy_rows(values: FloatArray) -> StatsRows:
    """stats_rows on the NumPy path (the reference)."""
    # a copy in C order, worked on in place below: each row's sum is then NumPy's pairwise
    # one along the row (the kernel's, and a single row's), whatever the layout of values (an
    # input's view of x may have its rows a smaller stride apart than their values)
    wide = values.astype(np.float64, order="C")
    rows, width = values.shape
    total = wide.sum(axis=1)
    # the common case, kept short (the hook path calls it per value): every sum finite means
    # every value is, as a NaN or Inf makes its row's sum NaN or Inf (float64 values whose
    # sum overflows take the general path below, which gives their row the same numbers)
    if width and np.isfinite(total).all():
        mean = total / width
        low, high = wide.min(axis=1), wide.max(axis=1)
        # the centred squares in place: the same numbers as (wide - mean) ** 2 made anew,
        # without two more temporaries the size of the block
        centred = np.subtract(wide, mean[:, None], out=wide)
        std = np.sqrt(np.square(centred, out=centred).sum(axis=1) / width)
        none = np.zeros(rows, dtype=np.int64)
        return StatsRows(low, high, mean, std, none, none)
    finite = np.isfinite(values)
    count = finite.sum(axis=1)
    nan = np.isnan(values).sum(axis=1)
    inf = width - count - nan
    # the extremes in float64, as above: a finite row's then come out as they do on the
    # common path, the sign of a zero extreme included (NumPy's float32 lanes may pick the
    # other of -0 and +0), so a row's numbers never depend on a NaN in another row
    low = np.where(finite, wide, np.inf).min(axis=1)
    high = np.where(finite, wide, -np.inf).max(axis=1)
    wide[~finite] = 0.0  # out of the sums
    with np.errstate(invalid="ignore", divide="ignore"):  # rows with no finite value: NaN
        mean = wide.sum(axis=1) / count
        centred = wide - mean[:, None]
        centred[~finite] = 0.0
        std = np.sqrt((centred * centred).sum(axis=1) / count)
    empty = count == 0
    low[empty] = high[empty] = np.nan
    return StatsRows(low, high, mean, std, nan.astype(np.int64), inf.astype(np.int64))


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
