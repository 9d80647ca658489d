"""Numbers as json.dumps writes them, a whole array in one call: the fast path of the JSONL
stream, with orjson when it is installed (the `fast` extra).

What is written is exactly what ``json.dumps(summary.to_floats(values, dtype))`` writes: each
value as the shortest decimal that round-trips in its dtype (a float32 0.1 is ``0.1``), in the
form of Python's ``float.__repr__``, and ``null`` where it is not finite. orjson's
OPT_SERIALIZE_NUMPY writes the same shortest digits (float32 as float32, float64 as float64)
and ``null`` for NaN and Inf, but not always in repr's form: repr writes a decimal exponent e
in fixed notation only for -4 <= e <= 15, and then as ``1e-05`` / ``1e+16``; orjson writes
``0.00001``, ``1e-7``, ``1e13`` (or ``1e+13``, by version). So the values whose exponent lies
near or outside that range (found with NumPy, a generous superset) have their tokens
rewritten as ``repr(float(token))``, which keeps the digits and changes the form only.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

#: |x| below this or at or above _BIG may be written in a form other than repr's; both bounds
#: leave a margin (any value flagged is rewritten to the same text if it was already right)
_SMALL, _BIG = 2e-4, 1e12


def orjson_module() -> ModuleType | None:
    """orjson, or None when it is not installed or too old to write NumPy arrays (the callers
    then take the plain path). Imported here, when a stream first writes numbers, not when
    the package is."""
    try:
        import orjson
    except ImportError:
        return None
    return orjson if hasattr(orjson, "OPT_SERIALIZE_NUMPY") else None


def json_rows(orjson: ModuleType, values: npt.NDArray[Any], dtype: np.dtype[Any]) -> list[bytes]:
    """Each row of values (r, m), cast to dtype, as its m numbers joined by commas (no
    brackets): ``b"0.1,-2.5,null"``, in one orjson call for the whole array."""
    a = np.ascontiguousarray(values, dtype=dtype)
    if a.shape[0] == 0:
        return []
    text = orjson.dumps(a, option=orjson.OPT_SERIALIZE_NUMPY)
    rows: list[bytes] = text[2:-2].split(b"],[")  # b"[[..],[..]]"; one empty row: b"[[]]"
    for r in np.flatnonzero(_unlike_repr(a).any(axis=1)).tolist():
        rows[r] = b",".join(map(_as_repr, rows[r].split(b",")))
    return rows


def json_column(orjson: ModuleType, values: npt.NDArray[Any], dtype: np.dtype[Any]) -> list[bytes]:
    """Each value of values (r,), cast to dtype, as its own token: ``[b"0.1", b"null"]``."""
    a = np.ascontiguousarray(values, dtype=dtype)
    if a.shape[0] == 0:
        return []
    tokens: list[bytes] = orjson.dumps(a, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1].split(b",")
    if a.dtype.kind == "f":
        for r in np.flatnonzero(_unlike_repr(a)).tolist():
            tokens[r] = _as_repr(tokens[r])
    return tokens


def _unlike_repr(a: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    """Where orjson's text of a value may differ in form from repr's: finite, non-zero and
    outside [_SMALL, _BIG) in magnitude (NaN and Inf are null in both)."""
    with np.errstate(invalid="ignore"):
        size = np.abs(a)
        small = (size < _SMALL) & (size > 0)
        big = (size >= _BIG) & np.isfinite(a)
    unlike: npt.NDArray[np.bool_] = small | big
    return unlike


def _as_repr(token: bytes) -> bytes:
    """One number's token in repr's form, its digits kept: b"1e-7" -> b"1e-07"."""
    if token == b"null":
        return token
    return float.__repr__(float(token)).encode("ascii")
