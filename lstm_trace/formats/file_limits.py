"""What is checked before a file is read: that it is there (must_exist), the optional library
its kind needs (optional), and its declared sizes against the memory limit. This module and
targets.py import nothing else of lstm_trace.formats.

Every file kind states how large its arrays are before their bytes: an .npy header gives the
shape and dtype (np.load allocates the whole array from it before reading a byte), a zip
archive's central directory gives each member's uncompressed size (zipfile never reads past
it), a safetensors file starts with 8 bytes of little-endian header length and a JSON header of
shapes and dtypes, an HDF5 dataset has a shape and dtype that h5py tells without reading it.
A 2 MB .npz can declare 2 GB of zeros; these checks refuse it while it is still 2 MB.

The limit is --max-memory (config.DEFAULT_MAX_MEMORY unless given). A file over it is a bad
file (FileError, exit status 1) named with its declared size and the limit:

    x.npz: declares 2.0 GB of arrays, more than the limit of 1.0 GB (--max-memory)
"""

from __future__ import annotations

import importlib
import json
import math
import struct
import zipfile
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import IO, Any

import numpy as np

from ..config import format_bytes
from ..errors import FileError

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"
#: a Keras config.json is a few KB; parsed, JSON takes several times its size in objects
CONFIG_JSON_CAP = 16 * 1024**2
#: the safetensors format's own bound on its JSON header (the Rust reader refuses more)
SAFETENSORS_HEADER_CAP = 100_000_000
#: what zipfile raises for a damaged archive (RuntimeError: an encrypted member;
#: NotImplementedError, a RuntimeError: an unknown zip version or compression)
ZIP_ERRORS = (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError)
_NOT_ST = "not a readable .safetensors file"

#: optional module -> (the package that provides it, the lstm-trace extra that installs it)
EXTRAS = {
    "safetensors.numpy": ("safetensors", "safetensors"),
    "torch": ("torch", "torch"),
    "h5py": ("h5py", "keras"),
}


def optional(module: str, what: str) -> ModuleType:
    """Import an optional library, or fail with the line that says how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        package, extra = EXTRAS.get(module, (module, module))
        raise FileError(
            f"{what} needs the optional package {package!r}: pip install 'lstm-trace[{extra}]'"
        ) from None


def must_exist(path: Path) -> None:
    if not path.exists():
        raise FileError(f"{path}: no such file")
    if path.is_dir():
        raise FileError(f"{path}: is a directory, not a file")


def refuse_over(path: Path, declared: int, limit: int, what: str = "arrays") -> None:
    """FileError when a file declares more bytes than the limit allows."""
    if declared > limit:
        raise FileError(
            f"{path}: declares {format_bytes(declared)} of {what}, more than the limit of "
            f"{format_bytes(limit)} (--max-memory)"
        )


def shape_bytes(shape: Iterable[Any], itemsize: int) -> int:
    """Bytes of an array of this shape; Python ints, so no overflow for absurd shapes."""
    return math.prod(int(n) for n in shape) * int(itemsize)


def _npy_header(fp: IO[bytes]) -> tuple[tuple[int, ...], np.dtype[Any]] | None:
    """(shape, dtype) from an .npy header at fp's position, None when it is not one."""
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
        else:  # 2.0 and 3.0 share the 4-byte header length; 3.0 only allows utf-8 names
            shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
    except Exception:  # ValueError, SyntaxError, tokenize.TokenError, ... from a damaged header
        return None  # not an .npy header: np.load says what the file is
    return tuple(shape), dtype


def _magic(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(8)


def check_npy(path: Path, limit: int) -> None:
    """An .npy (or an .npz) file's declared arrays against the limit, before np.load."""
    magic = _magic(path)
    if magic.startswith(ZIP_MAGIC):
        check_npz(path, limit)
    elif magic.startswith(NPY_MAGIC):
        with path.open("rb") as f:
            header = _npy_header(f)
        if header is not None:
            shape, dtype = header
            refuse_over(path, shape_bytes(shape, dtype.itemsize), limit)


def check_npz(path: Path, limit: int) -> None:
    """Every member's declared array (or its uncompressed size, whichever is larger)."""
    try:
        archive = zipfile.ZipFile(path)
    except ZIP_ERRORS:
        return  # np.load says it is not a readable .npz
    total = 0
    with archive:
        for info in archive.infolist():
            size = info.file_size
            try:
                with archive.open(info) as member:
                    header = _npy_header(member)
            except ZIP_ERRORS:
                header = None  # damaged, encrypted or of an unknown compression: np.load says
            if header is not None:
                shape, dtype = header
                size = max(size, shape_bytes(shape, dtype.itemsize))
            total += size
            refuse_over(path, total, limit)  # stop at the first member past the limit


def check_zip_members(path: Path, limit: int, what: str = "data") -> dict[str, int]:
    """A zip archive's members' uncompressed sizes against the limit; {name: size}.

    Not a zip archive: {} (the reader refuses it in its own words)."""
    try:
        with zipfile.ZipFile(path) as archive:
            sizes = {info.filename: info.file_size for info in archive.infolist()}
    except ZIP_ERRORS:
        return {}
    refuse_over(path, sum(sizes.values()), limit, what)
    return sizes


def check_torch(path: Path, limit: int) -> None:
    """A .pt file: torch.save's zip archive (its data/ records are the tensors' bytes), or a
    legacy file, read whole."""
    if _magic(path).startswith(ZIP_MAGIC):
        check_zip_members(path, limit, "tensors")
    else:
        refuse_over(path, path.stat().st_size, limit, "data")


def safetensors_header(path: Path, limit: int) -> dict[str, Any]:
    """A .safetensors file's JSON header, its tensors' declared sizes checked against the limit.

    Format: 8 bytes little-endian header length N, N bytes of JSON {name: {dtype, shape,
    data_offsets}, "__metadata__": {...}}, then the data."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise FileError(
                f"{path}: not a readable .safetensors file (shorter than its 8-byte header)"
            )
        (n,) = struct.unpack("<Q", head)
        if n > min(size - 8, SAFETENSORS_HEADER_CAP):
            raise FileError(
                f"{path}: {_NOT_ST} (its header claims {format_bytes(n)}, "
                f"the file has {format_bytes(size)})"
            )
        refuse_over(path, n, limit, "header")
        raw = f.read(n)
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise FileError(
            f"{path}: not a readable .safetensors file (its header is not JSON)"
        ) from None
    if not isinstance(header, dict):
        raise FileError(
            f"{path}: not a readable .safetensors file (its header is not a JSON object)"
        )
    total = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            itemsize = SAFETENSORS_ITEMSIZE.get(str(entry["dtype"]), 8)
            total += shape_bytes(entry["shape"], itemsize)
        except (KeyError, TypeError, ValueError):
            raise FileError(f"{path}: tensor {name!r} has no valid dtype and shape") from None
    refuse_over(path, total, limit, "tensors")
    return header


#: bytes per element of each safetensors dtype (unknown ones count as 8)
SAFETENSORS_ITEMSIZE = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}


def check_h5_datasets(path: Path, datasets: Iterable[Any], limit: int) -> None:
    """h5py datasets' declared shapes and dtypes against the limit, before reading any."""
    total = 0
    for dataset in datasets:
        total += shape_bytes(dataset.shape or (), dataset.dtype.itemsize)
    refuse_over(path, total, limit, "weights")
