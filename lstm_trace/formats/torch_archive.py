"""PyTorch's zip archives read as data, without torch: torch.save's (since 1.6) and
torch.jit.save's (TorchScript).

Both are zip archives of one folder, <prefix>/ (the file's stem, or 'archive'):

    <prefix>/data.pkl        the pickled object: a state_dict, a checkpoint, a module
    <prefix>/data/<key>      each storage's bytes, in the byte order <prefix>/byteorder says
    <prefix>/code/...        TorchScript only: the module's code, which is never read or run
    <prefix>/constants.pkl   TorchScript only: the code's constants (not read)

data.pkl is read by torch_pickle.RestrictedUnpickler: nothing it names is imported or called.
A tensor is a persistent id ('storage', storage type, key, location, numel) and a strided view
of it; the storage's record must hold numel elements exactly. Before a byte of tensor data is
copied, every storage is checked against the memory limit and then the bytes all the tensors
hold (a stride-0 view of one number can stand for millions).

What comes back is plain data: dicts, lists, NumPy arrays, numbers, strings, and
checkpoint.Opaque for objects (a TorchScript module with its attributes as its state, an
argparse.Namespace with none). A module's state is made the names its state_dict has: a
pickled nn.Module's _parameters, _buffers and _modules become its attributes, so that
checkpoint.flatten names 'encoder.rnn.weight_ih_l0' in every kind of archive.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from ..errors import FileError
from .checkpoint import Opaque
from .file_limits import ZIP_ERRORS, refuse_over
from .torch_pickle import ITEMSIZE, LazyTensor, Storage, StorageType, unpickle

#: more names than this in a checkpoint's tree is a structure that refers to itself over and
#: over (a few hundred bytes of pickle can make 2**40 paths), not a model
MAX_NAMES = 1_000_000
#: the pickled nn.Module attributes that hold what its state_dict names
_MODULE_PARTS = ("_parameters", "_buffers", "_modules")


@dataclass(frozen=True)
class Archive:
    """A torch zip archive, read: the object data.pkl holds (tensors as NumPy arrays), the
    dtype each array was stored in (by id: 'bfloat16' for one read as float32), and whether
    it is a TorchScript archive."""

    obj: Any
    stored: dict[int, str]
    script: bool


def data_pickle(names: list[str]) -> str | None:
    """The archive's <prefix>/data.pkl (one folder deep), or None."""
    return next((n for n in names if n.count("/") == 1 and n.endswith("/data.pkl")), None)


class Source(Protocol):
    """Where the storages of a file are: the tensors its pickle made, and each storage's
    elements (bfloat16 as its raw uint16)."""

    tensors: list[LazyTensor]

    def read(self, storage: Storage, big_endian: bool) -> NDArray[Any]: ...


class _Reader:
    """The storages of one archive: each resolved once by key, its size checked."""

    def __init__(self, path: Path, archive: zipfile.ZipFile, prefix: str, limit: int) -> None:
        self.path, self.archive, self.prefix, self.limit = path, archive, prefix, limit
        self.sizes = {info.filename: info.file_size for info in archive.infolist()}
        self.storages: dict[str, Storage] = {}
        self.declared = 0  # bytes of every storage so far
        self.tensors: list[LazyTensor] = []

    def storage(self, pid: Any) -> Storage:
        """persistent_load: ('storage', storage type, key, location, numel) -> its Storage."""
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise FileError(f"{self.path}: a persistent id {_short(pid)} that is not a storage")
        _, kind, key, _location, numel = pid[:5]
        if not (isinstance(kind, StorageType) and isinstance(key, str)) or not (
            kind.dtype is None or kind.dtype in ITEMSIZE
        ):
            what = kind.name if isinstance(kind, StorageType) else _named(kind)
            raise FileError(f"{self.path}: storage {_short(key)} is a {what}, not a torch storage")
        if not isinstance(numel, int) or isinstance(numel, bool) or numel < 0:
            raise FileError(f"{self.path}: storage {key} has {numel!r} elements")
        known = self.storages.get(key)
        if known is not None:
            return known
        member = f"{self.prefix}data/{key}"
        if member not in self.sizes:
            raise FileError(f"{self.path}: storage {key} is missing (no {member} in the archive)")
        itemsize = ITEMSIZE[kind.dtype] if kind.dtype is not None else 1
        want = numel * itemsize
        self.declared += want
        refuse_over(self.path, self.declared, self.limit, "tensors")
        if kind.dtype is not None and self.sizes[member] != want:
            raise FileError(
                f"{self.path}: {member} holds {self.sizes[member]} bytes, but its storage of "
                f"{numel} {kind.dtype} elements is {want} bytes"
            )
        found = Storage(key, member, kind.dtype, numel)
        self.storages[key] = found
        return found

    def read(self, storage: Storage, big_endian: bool) -> NDArray[Any]:
        """The storage's elements (bfloat16 as its raw uint16), read from the archive."""
        assert storage.dtype is not None
        try:
            raw = self.archive.read(storage.member)
        except ZIP_ERRORS as exc:
            raise FileError(f"{self.path}: {storage.member} is damaged ({exc})") from None
        if len(raw) != storage.numel * ITEMSIZE[storage.dtype]:
            raise FileError(f"{self.path}: {storage.member} is truncated")
        code = "uint16" if storage.dtype == "bfloat16" else storage.dtype
        dtype = np.dtype(code).newbyteorder(">" if big_endian else "<")
        return np.frombuffer(raw, dtype=dtype)


def read_archive(path: Path, limit: int) -> Archive:
    """The object a torch zip archive's data.pkl holds, every tensor a NumPy array copied
    from its storage. FileError for a damaged archive, a data.pkl that is not a pickle, a
    storage missing or of the wrong size, and tensors over the limit."""
    try:
        archive = zipfile.ZipFile(path)
    except ZIP_ERRORS as exc:
        raise FileError(f"{path}: not a readable zip archive ({exc})") from None
    with archive:
        names = archive.namelist()
        member = data_pickle(names)
        if member is None:
            raise FileError(f"{path}: a zip archive without the <name>/data.pkl torch writes")
        prefix = member.removesuffix("data.pkl")
        reader = _Reader(path, archive, prefix, limit)
        obj = _load(path, archive, member, reader)
        big_endian = _byteorder(archive, prefix, names) == "big"
        tree, stored = materialize(path, member, obj, reader, big_endian, limit)
    return Archive(tree, stored, any(n.startswith(prefix + "code/") for n in names))


def materialize(
    path: Path, member: str, obj: Any, reader: Source, big_endian: bool, limit: int
) -> tuple[Any, dict[int, str]]:
    """(obj as plain data with its tensors copied, the stored dtype of each array by id),
    once the bytes the tensors hold are known to be within the limit."""
    refuse_over(path, sum(t.held for t in reader.tensors), limit, "tensors")
    stored: dict[int, str] = {}
    try:
        return _Copier(reader, big_endian, stored).convert(obj), stored
    except RecursionError:  # lazy_tensors walked it in fewer frames a level than this takes
        why = "is not a readable pickle (nested too deeply)"
        raise FileError(f"{path}: {member} {why}") from None


def _load(path: Path, archive: zipfile.ZipFile, member: str, reader: _Reader) -> Any:
    """data.pkl unpickled, every tensor a LazyTensor (listed in reader.tensors)."""
    try:
        data = archive.read(member)  # its size is within the limit (check_torch)
    except ZIP_ERRORS as exc:
        raise FileError(f"{path}: {member} is damaged ({exc})") from None
    try:
        obj = unpickle(data, reader.storage)
        reader.tensors.extend(lazy_tensors(obj))
    except ValueError as exc:
        raise FileError(f"{path}: {member} is not a readable pickle ({exc})") from None
    return obj


def _byteorder(archive: zipfile.ZipFile, prefix: str, names: list[str]) -> str:
    """'little' or 'big': what <prefix>/byteorder says (archives before it are little)."""
    if prefix + "byteorder" not in names:
        return "little"
    try:
        return archive.read(prefix + "byteorder").decode("ascii", "replace").strip()
    except ZIP_ERRORS:
        return "little"


def lazy_tensors(obj: Any) -> list[LazyTensor]:
    """Every LazyTensor in obj, each once; refuses a tree of more than MAX_NAMES names."""
    found: dict[int, LazyTensor] = {}
    paths: dict[int, int] = {}  # id -> names under it (0 while it is being counted)

    def count(node: Any) -> int:
        key = id(node)
        if key in paths:
            return paths[key]
        children: Any = ()
        if isinstance(node, LazyTensor):
            found[key] = node
        elif isinstance(node, dict):
            children = node.values()
        elif isinstance(node, (list, tuple)):
            children = node
        elif isinstance(node, Opaque):
            children = (node.state, node.args)
        paths[key] = 0
        paths[key] = n = max(1, sum(count(c) for c in children))
        if n > MAX_NAMES:
            raise ValueError(f"it names more than {MAX_NAMES:,} entries (its data repeats itself)")
        return n

    try:
        count(obj)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    return list(found.values())


class _Copier:
    """The unpickled tree rebuilt as plain data, each LazyTensor copied into an array once."""

    def __init__(self, reader: Source, big_endian: bool, stored: dict[int, str]) -> None:
        self.reader, self.big_endian, self.stored = reader, big_endian, stored
        self.memo: dict[int, Any] = {}
        self.buffers: dict[str, NDArray[Any]] = {}

    def convert(self, obj: Any) -> Any:
        key = id(obj)
        if key in self.memo:
            return self.memo[key]
        if isinstance(obj, LazyTensor):
            out: Any = self.tensor(obj)
        elif isinstance(obj, dict):
            out = self.memo[key] = {}
            out.update((k, self.convert(v)) for k, v in obj.items())
        elif isinstance(obj, (list, tuple)):
            out = self.memo[key] = []
            out.extend(self.convert(v) for v in obj)
        elif isinstance(obj, Opaque):
            out = self.memo[key] = Opaque(obj.cls)
            out.args = tuple(self.convert(a) for a in obj.args)
            out.state = _module_state(self.convert(obj.state))
            if not _holds_arrays(out.state, {}):
                out.state = None  # an object of settings (argparse.Namespace): named, untraced
        else:
            out = obj
        self.memo[key] = out
        return out

    def tensor(self, t: LazyTensor) -> NDArray[Any]:
        storage = t.storage
        flat = self.buffers.get(storage.key)
        if flat is None:
            flat = self.buffers[storage.key] = self.reader.read(storage, self.big_endian)
        itemsize = ITEMSIZE[t.dtype]
        code = "uint16" if t.dtype == "bfloat16" else t.dtype
        # an untyped storage (bytes) is read in the tensor's own dtype
        dtype = np.dtype(code).newbyteorder(">" if self.big_endian else "<")
        base = np.frombuffer(flat, dtype=dtype, count=flat.nbytes // itemsize)
        view = np.lib.stride_tricks.as_strided(
            base[t.offset :] if base.size else base,
            shape=t.size,
            strides=tuple(s * itemsize for s in t.stride),
            writeable=False,
        )
        out: NDArray[Any] = view.astype(np.dtype(code).newbyteorder("="), copy=True)
        if t.dtype == "bfloat16":  # NumPy has none: its 16 bits are float32's top half
            out = (out.astype(np.uint32) << 16).view(np.float32)
        self.stored[id(out)] = t.dtype
        return out


def _module_state(state: Any) -> Any:
    """A pickled nn.Module's attributes as its state_dict names them: its _parameters,
    _buffers and _modules merged into the attributes, its other private ones dropped
    (_flat_weights repeats the parameters; hooks are functions)."""
    if not (isinstance(state, dict) and all(isinstance(state.get(p), dict) for p in _MODULE_PARTS)):
        return state
    merged = {k: v for k, v in state.items() if not str(k).startswith("_")}
    for part in _MODULE_PARTS:
        merged.update((k, v) for k, v in state[part].items() if v is not None)
    return merged


def _holds_arrays(obj: Any, memo: dict[int, bool]) -> bool:
    """Whether obj holds an array anywhere (memo: by id; False while being looked into)."""
    if isinstance(obj, np.ndarray):
        return True
    if id(obj) in memo:
        return memo[id(obj)]
    memo[id(obj)] = False
    children: Any = ()
    if isinstance(obj, dict):
        children = obj.values()
    elif isinstance(obj, (list, tuple)):
        children = obj
    elif isinstance(obj, Opaque):
        children = (obj.state,)
    memo[id(obj)] = found = any(_holds_arrays(c, memo) for c in children)
    return found


def _named(value: Any) -> str:
    """What the pickle named: a stand-in's class name, else the type of the value."""
    return getattr(value, "__qualname__", None) or type(value).__name__


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def script_holds(obj: Any, arrays: dict[str, Any]) -> str:
    """What a TorchScript archive without a recurrent module holds, for its error line:
    'a TorchScript archive of Net holding no recurrent module: its modules are head (Linear),
    ...; its tensors head.weight, head.bias'."""
    top = _class_name(obj.cls) if isinstance(obj, Opaque) else type(obj).__name__
    modules = [f"{name} ({_class_name(o.cls)})" for name, o in _submodules(obj, "", set())]
    more = f" and {len(arrays) - 6} more" if len(arrays) > 6 else ""
    shown = ", ".join(list(arrays)[:6]) + more
    parts = [f"its modules are {', '.join(modules[:8])}"] if modules else []
    parts += [f"its tensors {shown}"] if arrays else ["no tensors"]
    return f"a TorchScript archive of {top} holding no recurrent module: " + "; ".join(parts)


def _submodules(obj: Any, prefix: str, seen: set[int]) -> list[tuple[str, Opaque]]:
    """(dotted name, module) of every TorchScript module under obj, depth first."""
    found: list[tuple[str, Opaque]] = []
    if not isinstance(obj, Opaque) or not isinstance(obj.state, dict) or id(obj) in seen:
        return found
    seen.add(id(obj))
    for key, value in obj.state.items():
        if isinstance(value, Opaque) and value.cls.startswith("__torch__."):
            name = f"{prefix}{key}"
            found.append((name, value))
            found.extend(_submodules(value, name + ".", seen))
    return found


def _class_name(cls: str) -> str:
    """'__torch__.torch.nn.modules.rnn.___torch_mangle_0.LSTM' -> 'LSTM'."""
    return cls.rsplit(".", 1)[-1]
