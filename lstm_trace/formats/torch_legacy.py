"""PyTorch's legacy files (torch.save before PyTorch 1.6, or _use_new_zipfile_serialization=
False) read as data, without torch, by the same restricted unpickler as the zip archives.

A legacy file is five pickles in a row, then the storages' bytes:

    the magic number 0x1950a86a20f9469cfc6c, the protocol version 1001, a dict of system
    facts (little_endian, type sizes), the object (storages as persistent ids ('storage',
    storage type, key, location, numel, view), classes as ('module', cls, file, source)),
    the list of storage keys; then for each key in that order: numel as an 8-byte
    little-endian integer and numel elements, little-endian.

A storage view (a view of another storage: PyTorch before 1.0) is refused. Every storage's
numel is checked against the memory limit before it is read, and against the numel its
record repeats.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import FileError
from .file_limits import refuse_over
from .torch_archive import Archive, lazy_tensors, materialize
from .torch_pickle import ITEMSIZE, LazyTensor, Storage, StorageType, unpickle

MAGIC = 0x1950A86A20F9469CFC6C
PROTOCOL = 1001


class _Legacy:
    """The storages of a legacy file: declared by the pickle, then found in the bytes after."""

    def __init__(self, path: Path, raw: bytes, limit: int) -> None:
        self.path, self.raw, self.limit = path, raw, limit
        self.storages: dict[str, Storage] = {}
        self.offsets: dict[str, int] = {}  # key -> where its elements start in raw
        self.declared = 0
        self.tensors: list[LazyTensor] = []

    def no_storage(self, pid: Any) -> Storage:
        raise FileError(f"{self.path}: a persistent id where the file's header should be")

    def storage(self, pid: Any) -> Any:
        """persistent_load: a storage's or a class's persistent id."""
        if isinstance(pid, tuple) and len(pid) == 4 and pid[0] == "module":
            return pid[1]  # the class (a stand-in); its source text is never read
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise FileError(f"{self.path}: a persistent id that is not a storage")
        _, kind, key, _location, numel, view = pid
        if not isinstance(kind, StorageType) or kind.dtype not in ITEMSIZE:
            raise FileError(f"{self.path}: storage {key!r} is not of a torch storage type")
        if not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
            raise FileError(f"{self.path}: storage {key!r} has {numel!r} elements")
        if view is not None:
            raise FileError(
                f"{self.path}: storage {key!r} is a view of another (PyTorch before 1.0), "
                "which lstm-trace does not read; save it again with a newer torch"
            )
        if key not in self.storages:
            self.declared += numel * ITEMSIZE[kind.dtype]
            refuse_over(self.path, self.declared, self.limit, "tensors")
            self.storages[key] = Storage(key, f"storage {key}", kind.dtype, numel)
        return self.storages[key]

    def locate(self, keys: Any, at: int) -> None:
        """Where each storage's elements start, walking the records from offset at."""
        strings = isinstance(keys, list) and all(isinstance(k, str) for k in keys)
        if not strings or set(keys) != set(self.storages):
            raise FileError(f"{self.path}: its list of storages does not match its tensors")
        for key in keys:
            storage = self.storages[key]
            head = self.raw[at : at + 8]
            size = struct.unpack("<q", head)[0] if len(head) == 8 else -1
            assert storage.dtype is not None
            end = at + 8 + storage.numel * ITEMSIZE[storage.dtype]
            if size != storage.numel or end > len(self.raw):
                raise FileError(f"{self.path}: storage {key} is truncated or damaged")
            self.offsets[key] = at + 8
            at = end

    def read(self, storage: Storage, big_endian: bool) -> NDArray[Any]:
        assert storage.dtype is not None
        start = self.offsets[storage.key]
        code = "uint16" if storage.dtype == "bfloat16" else storage.dtype
        return np.frombuffer(
            self.raw, dtype=np.dtype(code).newbyteorder("<"), count=storage.numel, offset=start
        )


def read_legacy(path: Path, limit: int) -> Archive:
    """The object a legacy torch file holds, its tensors NumPy arrays (the file's size is
    within the limit: file_limits.check_torch)."""
    raw = path.read_bytes()
    legacy = _Legacy(path, raw, limit)
    f = io.BytesIO(raw)
    try:
        magic, protocol = unpickle(f, legacy.no_storage), unpickle(f, legacy.no_storage)
        if magic != MAGIC or protocol != PROTOCOL:
            raise ValueError(f"magic number {magic!r}, protocol {protocol!r}")
        unpickle(f, legacy.no_storage)  # the system's facts: the data is little-endian regardless
        obj = unpickle(f, legacy.storage)
        keys = unpickle(f, legacy.no_storage)
        legacy.tensors.extend(lazy_tensors(obj))
    except ValueError as exc:
        raise FileError(f"{path}: not a readable legacy torch file ({exc})") from None
    legacy.locate(keys, f.tell())
    tree, stored = materialize(path, "its pickle", obj, legacy, False, limit)
    return Archive(tree, stored, False)
