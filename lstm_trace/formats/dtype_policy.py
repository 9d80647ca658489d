"""One dtype policy for every reader: weights are floating-point numbers; inputs are numbers.

Weights are read as float16, float32 or float64 (and bfloat16 where the reader can decode it:
torch's, for .pt files). Bool, integer, complex, extended precision and anything else are
refused by name, in the same words whatever the file kind: an integer "weight" is a mask, a
count or an index, and tracing it as an LSTM's weights would give numbers that mean nothing.
Inputs (x, h0, c0) may also be bool or integer (one-hot tokens, counts): they are numbers
the LSTM reads, cast to the run's dtype.

float16 and bfloat16 are traced in float32 (lstm-trace computes in float32 or float64); the
reader notes that once per file (`half_note`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FileError

ACCEPTED = "floating-point numbers: float16, float32 or float64 (and bfloat16 from .pt files)"
#: what half_note says of them
WIDENED = "widened to float32 (float64 with --dtype float64)"
#: dtypes traced in float32 although the file stores fewer bits
HALF = ("float16", "bfloat16")


def refuse_dtype(path: Path, name: str, dtype: str) -> FileError:
    """The one line for a tensor of a dtype lstm-trace does not trace."""
    return FileError(f"{path}: {name} holds {dtype} values; lstm-trace reads {ACCEPTED}")


def _float(dtype: np.dtype[Any]) -> bool:
    """float16, float32 or float64: not b bool, i/u integers, c complex, O objects, V raw
    bytes, nor float128, which float64 would lose digits of."""
    return dtype.kind == "f" and dtype.itemsize <= 8


def check_dtype(path: Path, name: str, dtype: np.dtype[Any] | str) -> None:
    """Refuse anything but a floating-point dtype (by NumPy's kind, or by name)."""
    if isinstance(dtype, np.dtype):
        if not _float(dtype):
            raise refuse_dtype(path, name, str(dtype))
    elif dtype not in ("float16", "float32", "float64", "bfloat16"):
        raise refuse_dtype(path, name, dtype)


def float_array(path: Path, name: str, value: Any) -> np.ndarray[Any, Any]:
    """value as a NumPy array of floats, or the FileError that says what it holds."""
    a = np.asarray(value)
    check_dtype(path, name, a.dtype)
    return a


def number_array(path: Path, name: str, value: Any) -> np.ndarray[Any, Any]:
    """An input (x, h0, c0) as a NumPy array of numbers: bool and integers too, floats up to
    float64; else the FileError that says what it holds."""
    a = np.asarray(value)
    if a.dtype.kind not in "biu" and not _float(a.dtype):
        raise FileError(
            f"{path}: {name} holds {a.dtype} values; lstm-trace reads numbers: bool, integers "
            "or floats up to float64"
        )
    return a


def half_note(path: Path, dtypes: Iterable[str]) -> str | None:
    """'w.npz: float16 weights, traced in float32 (float64 with --dtype float64)', when the
    file stores half precision (lstm-trace computes in float32 or float64)."""
    halves = sorted({d for d in dtypes if d in HALF})
    if not halves:
        return None
    return f"{path}: {' and '.join(halves)} weights, {WIDENED}"
