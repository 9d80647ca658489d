"""NumPy and safetensors files: .npz archives of named weights, single .npy arrays (x, h0,
c0), and .safetensors files, which hold the same named tensors.

.npz and .npy are read with np.load(allow_pickle=False), after their headers' declared sizes
are checked (file_limits). safetensors is optional and imported when such a file is read or
written. Every write goes through targets.atomic_open.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..config import DEFAULT_MAX_MEMORY
from ..errors import FileError
from .dtype_policy import float_array, number_array, refuse_dtype
from .file_limits import check_npy, must_exist, optional, safetensors_header
from .modules import Named, Untraced, shape_text
from .targets import atomic_open

_NEEDS_PICKLE = (
    "not a plain NumPy file: reading it would mean unpickling, which lstm-trace never does "
    "(allow_pickle=False)"
)


def _value_error(exc: ValueError, path: Path) -> str:
    """np.load's ValueError: a file that needs pickle, one that is not NumPy's at all (np.load
    takes anything without NumPy's magic bytes for a pickle), or a damaged one."""
    if "pickle" in str(exc):
        with path.open("rb") as f:
            pickled = f.read(1) == b"\x80"  # how a pickle of protocol 2 or later starts
        if not pickled and "Object arrays" not in str(exc):  # not NumPy's, not a pickle
            return "not a NumPy file (an .npz is a zip archive of .npy arrays)"
        return _NEEDS_PICKLE
    return f"damaged or truncated ({' '.join(str(exc).split())})"


def read_npz(path: Path, limit: int) -> Named:
    """{name: float array} of an .npz, and the arrays' dtypes as they were in the file."""
    check_npy(path, limit)  # before np.load allocates what the headers declare
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise FileError(f"{path}: is a single .npy array, not an .npz of named weights")
            arrays, untraced = _numbers(path, {k: data[k] for k in data.files})
    except FileError:
        raise
    except ValueError as exc:  # object arrays or not NumPy at all (both need unpickling)
        raise FileError(f"{path}: {_value_error(exc, path)}") from None
    except Exception as exc:  # BadZipFile, truncated archives, OSError, EOFError
        raise FileError(f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})") from None
    return Named(arrays, [str(a.dtype) for a in arrays.values()], untraced)


def _recurrent_name(name: str) -> bool:
    """Whether a tensor's name is a recurrent layer's (PyTorch's, a file's own or Keras's)."""
    from .keras_modules import is_keras_name  # lazy: asked only of a tensor not of floats,
    from .named import parse  # and --x's .npy reader need not load the module finders

    return parse(name) is not None or is_keras_name(name)


def _numbers(
    path: Path, raw: dict[str, NDArray[Any]]
) -> tuple[dict[str, NDArray[Any]], tuple[Untraced, ...]]:
    """The float arrays, and the others (a BatchNorm's num_batches_tracked, an epoch count)
    as untraced; a recurrent weight that is not floating point is refused by name."""
    arrays: dict[str, NDArray[Any]] = {}
    untraced: list[Untraced] = []
    for name, value in raw.items():
        if value.dtype.kind == "f" or _recurrent_name(name):
            arrays[name] = float_array(path, name, value)
        else:
            untraced.append(Untraced(name, f"tensor {value.dtype} {shape_text(value.shape)}"))
    return arrays, tuple(untraced)


#: safetensors dtypes lstm-trace reads, as NumPy names
_SAFETENSORS_FLOATS = {"F16": "float16", "F32": "float32", "F64": "float64"}


def read_safetensors(path: Path, limit: int) -> Named:
    """A .safetensors file: its header checked (sizes, dtypes) before the tensors are read."""
    header = safetensors_header(path, limit)
    for name, entry in header.items():
        if name == "__metadata__":  # free-form strings, not a tensor
            continue
        dtype = str(entry.get("dtype"))
        if dtype not in _SAFETENSORS_FLOATS and not _recurrent_name(name):
            continue  # not a recurrent weight: untraced whatever it holds
        if dtype == "BF16":
            raise FileError(
                f"{path}: {name} is bfloat16, which the safetensors NumPy reader cannot read; "
                "save float32 tensors, or a .pt file (read through torch)"
            )
        if dtype not in _SAFETENSORS_FLOATS:
            raise refuse_dtype(path, name, dtype)
    st = optional("safetensors.numpy", "reading .safetensors")
    try:
        data = st.load_file(str(path))
    except Exception as exc:  # SafetensorError, truncated headers
        raise FileError(f"{path}: not a readable .safetensors file ({exc})") from None
    arrays, untraced = _numbers(path, data)
    return Named(arrays, [str(a.dtype) for a in arrays.values()], untraced)


def read_array(path: Path, what: str, *, max_memory: int = DEFAULT_MAX_MEMORY) -> NDArray[Any]:
    """A .npy array of numbers (x, h0 or c0); its declared size checked before it is read."""
    must_exist(path)
    check_npy(path, max_memory)
    try:
        a = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise FileError(f"{path}: {_value_error(exc, path)}") from None
    except Exception as exc:
        raise FileError(f"{path}: not a readable .npy file ({type(exc).__name__}: {exc})") from None
    if not isinstance(a, np.ndarray):
        a.close()
        raise FileError(f"{path}: is an .npz archive; {what} must be a single .npy array")
    return number_array(path, what, a)


def write_npz(path: Path, arrays: dict[str, NDArray[Any]]) -> None:
    """An .npz of these arrays (a zip archive: it seeks while it is written)."""
    with atomic_open(path, seekable=True) as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]


def write_safetensors(path: Path, arrays: dict[str, NDArray[Any]]) -> None:
    """A .safetensors file of these arrays, built whole in memory, then written."""
    st = optional("safetensors.numpy", "writing .safetensors files")
    data = st.save({k: np.ascontiguousarray(v) for k, v in arrays.items()})
    with atomic_open(path) as f:  # the bytes are whole before the file is opened
        f.write(data)
