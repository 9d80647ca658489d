"""A restricted unpickler for PyTorch's data.pkl: it imports nothing and calls nothing it names.

pickle.Unpickler's own find_class imports whatever module a pickle names and hands back any
attribute of it, which REDUCE then calls: os.system, builtins.eval. This one answers every
GLOBAL from a table of builders of its own, and names anything else by an Opaque stand-in:

    torch._utils._rebuild_tensor(_v2, _v3)     a LazyTensor: a view (offset, size, stride)
                                                of a storage, copied later (torch_archive)
    torch._utils._rebuild_parameter(...)        the tensor it wraps
    torch._tensor._rebuild_from_type_v2         the tensor its own builder makes
    torch.FloatStorage, ..., torch.UntypedStorage   a StorageType (the element's dtype)
    torch.float32, ...                          the dtype's name
    torch.Size, torch.device                    a tuple, 'cpu' / 'cuda:0'
    collections.OrderedDict                     a dict (its _metadata dropped)
    builtins.set / frozenset                    a list
    torch.jit._pickle.restore_type_tag, build_*list   the value itself (TorchScript's tags)
    _codecs.encode(text, 'latin1')              bytes (how protocol 2 pickles bytes)
    anything else                               a class whose instances are Opaque(name, args,
                                                state): a TorchScript module, an
                                                argparse.Namespace, os.system(...)

A stand-in is a class (NEWOBJ needs one) whose __new__ returns an Opaque recording the
arguments; BUILD hands it its state (a module's attributes) through __setstate__. Nothing
the pickle names is imported or run. persistent_load asks the archive for a storage.
"""

from __future__ import annotations

import io
import math
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from ..errors import FileError
from .checkpoint import Opaque

#: torch's typed storage classes -> the dtype of their elements (None: quantized, unread)
STORAGE_DTYPES: dict[str, str | None] = {
    "DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
    "BoolStorage": "bool", "ComplexDoubleStorage": "complex128",
    "ComplexFloatStorage": "complex64", "UntypedStorage": "uint8",
    "QInt8Storage": None, "QInt32Storage": None, "QUInt8Storage": None,
    "QUInt4x2Storage": None, "QUInt2x4Storage": None,
}  # fmt: skip
#: torch's dtype globals (torch.float32 pickles as GLOBAL 'torch float32') -> NumPy's name,
#: 'bfloat16' (read as float32), or None for a dtype NumPy cannot hold
TORCH_DTYPES: dict[str, str | None] = {
    "float64": "float64", "double": "float64", "float32": "float32", "float": "float32",
    "float16": "float16", "half": "float16", "bfloat16": "bfloat16", "int64": "int64",
    "long": "int64", "int32": "int32", "int": "int32", "int16": "int16", "short": "int16",
    "int8": "int8", "uint8": "uint8", "uint16": "uint16", "uint32": "uint32",
    "uint64": "uint64", "bool": "bool", "complex64": "complex64", "cfloat": "complex64",
    "complex128": "complex128", "cdouble": "complex128",
    **{name: None for name in (
        "float8_e5m2", "float8_e4m3fn", "float8_e5m2fnuz", "float8_e4m3fnuz", "float8_e8m0fnu",
        "float4_e2m1fn_x2", "complex32", "chalf", "qint8", "qint32", "quint8", "quint4x2",
        "quint2x4", "bits8", "bits16", "bits1x8", "bits2x4", "bits4x2",
    )},
}  # fmt: skip
#: bytes per element of each dtype a tensor is read in
ITEMSIZE = {
    "float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4,
    "int16": 2, "int8": 1, "uint8": 1, "uint16": 2, "uint32": 4, "uint64": 8, "bool": 1,
    "complex64": 8, "complex128": 16,
}  # fmt: skip


@dataclass(frozen=True)
class StorageType:
    """A storage class a pickle names: the dtype of its elements (None: one not read)."""

    name: str
    dtype: str | None


class _Frozen:
    """Attributes set once, in __init__: a pickle's BUILD sets an object's slots by setattr,
    and a storage's numel or a view's offset, size or stride changed after the view was checked
    against its storage would have the copy read memory outside it."""

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a {type(self).__name__}'s {name} cannot be set")


class Storage(_Frozen):
    """A storage of the archive: its record, its elements' dtype and how many it holds."""

    __slots__ = ("dtype", "key", "member", "numel")
    dtype: str | None
    key: str
    member: str
    numel: int

    def __init__(self, key: str, member: str, dtype: str | None, numel: int) -> None:
        for name, value in (("key", key), ("member", member), ("dtype", dtype), ("numel", numel)):
            object.__setattr__(self, name, value)


class LazyTensor(_Frozen):
    """A tensor as the pickle describes it, not yet copied: a strided view of a storage.

    Element (i_0, ..., i_n) is storage[offset + sum(i_k * stride_k)], in elements of dtype;
    the view is checked to lie inside the storage (lazy_tensor), before any byte is read."""

    __slots__ = ("dtype", "offset", "size", "storage", "stride")
    storage: Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: str

    def __init__(
        self, storage: Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...],
        dtype: str,
    ) -> None:  # fmt: skip
        fields = {"storage": storage, "offset": offset, "size": size, "stride": stride}
        for name, value in {**fields, "dtype": dtype}.items():
            object.__setattr__(self, name, value)

    @property
    def held(self) -> int:
        """The bytes the tensor holds once copied (a stride-0 view stores one number and
        stands for all of them)."""
        return math.prod(self.size) * ITEMSIZE[self.dtype]


def _ints(value: Any, what: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
    ):
        raise ValueError(f"a tensor's {what} is {value!r}, not non-negative integers")
    return tuple(value)


def lazy_tensor(
    storage: Any, offset: Any, size: Any, stride: Any, dtype: str | None = None
) -> LazyTensor | Opaque:
    """A LazyTensor of a storage (dtype: the tensor's own, else its typed storage's), or an
    Opaque for a dtype that is not read (quantized, float8); ValueError for a view that
    reaches outside its storage."""
    if not isinstance(storage, Storage):
        raise ValueError(f"a tensor's storage is {type(storage).__name__}, not a storage")
    dtype = dtype if dtype is not None else storage.dtype
    if dtype is None or storage.dtype is None:
        return Opaque("torch.Tensor", args=(dtype or "a quantized dtype",))
    if dtype not in ITEMSIZE or storage.dtype not in ITEMSIZE:
        raise ValueError(f"a tensor of {dtype!r} in a storage of {storage.dtype!r}")
    (start,) = _ints(offset, "storage offset")
    shape, steps = _ints(size, "size"), _ints(stride, "stride")
    if len(shape) != len(steps):
        raise ValueError(f"a tensor's size {shape} and stride {steps} differ in length")
    elements = storage.numel * ITEMSIZE[storage.dtype] // ITEMSIZE[dtype]
    last = start + sum((n - 1) * s for n, s in zip(shape, steps, strict=True))
    if math.prod(shape) and last >= elements:
        raise ValueError(
            f"a tensor of size {shape}, stride {steps} at offset {start} reaches past its "
            f"storage {storage.key} of {elements} elements"
        )
    return LazyTensor(storage, start, shape, steps, dtype)


def _rebuild_v2(storage: Any, offset: Any, size: Any, stride: Any, *_: Any) -> Any:
    """torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
    backward_hooks[, metadata]) and _rebuild_tensor (the first four)."""
    return lazy_tensor(storage, offset, size, stride)


def _rebuild_v3(
    storage: Any, offset: Any, size: Any, stride: Any, _grad: Any, _hooks: Any, dtype: Any,
    *_: Any,
) -> Any:  # fmt: skip
    """torch._utils._rebuild_tensor_v3: an untyped storage and the tensor's dtype."""
    if not isinstance(dtype, TorchDtype):
        raise ValueError(f"a tensor's dtype is {dtype!r}, not a torch dtype")
    if dtype.numpy is None:
        return Opaque("torch.Tensor", args=(str(dtype),))
    return lazy_tensor(storage, offset, size, stride, dtype.numpy)


def _parameter(data: Any, *_: Any) -> Any:
    """torch._utils._rebuild_parameter(data, requires_grad, hooks[, state]): the data."""
    return data


def _from_type(func: Any, _new_type: Any, args: Any, _state: Any) -> Any:
    """torch._tensor._rebuild_from_type_v2(func, type, args, state): a tensor subclass, read
    as the tensor its own builder (one of ours) makes."""
    ours = isinstance(func, Builder) and func.fn in (_rebuild_v2, _rebuild_v3)
    if not ours or not isinstance(args, tuple):
        return Opaque("torch._tensor._rebuild_from_type_v2", args=(func, args))
    return func(*args)


class OrderedDict(dict):  # type: ignore[type-arg]
    """collections.OrderedDict as a dict; BUILD's state (a state_dict's _metadata: the
    modules' versions) is dropped."""

    def __setstate__(self, state: Any) -> None:
        pass


class TorchDtype(str):
    """torch.float32 and the like, as its name; numpy: NumPy's dtype for it (None: none)."""

    numpy: str | None = None


def _dtype(name: str) -> TorchDtype:
    out = TorchDtype(name)
    out.numpy = TORCH_DTYPES[name]
    return out


def _device(kind: Any, index: Any = None) -> str:
    return f"{kind}:{index}" if index is not None else str(kind)


def _type_tag(value: Any, _tag: Any) -> Any:
    return value


def _items(values: Any = ()) -> list[Any]:
    return list(values) if isinstance(values, (list, tuple)) else [values]


def _encode(text: Any, encoding: Any = "latin1") -> bytes:
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise ValueError("_codecs.encode of anything but text in latin1")
    return text.encode("latin1")


class Builder:
    """One of the builders, as find_class hands it out: callable, and immutable, so that a
    pickle's BUILD cannot set attributes on it (a function's __defaults__, a class's
    __setstate__) for the files read after it."""

    __slots__ = ("fn",)
    fn: Callable[..., Any]

    def __init__(self, fn: Callable[..., Any]) -> None:
        object.__setattr__(self, "fn", fn)

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a builder's {name} cannot be set")


_JIT = "torch.jit._pickle"
_FUNCTIONS: dict[tuple[str, str], Callable[..., Any]] = {
    ("torch._utils", "_rebuild_tensor"): _rebuild_v2,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_v2,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_v3,
    ("torch._utils", "_rebuild_parameter"): _parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _from_type,
    ("collections", "OrderedDict"): OrderedDict,
    ("torch", "Size"): tuple,
    ("torch", "device"): _device,
    (_JIT, "restore_type_tag"): _type_tag,
    **{(_JIT, f"build_{kind}list"): _items for kind in ("int", "double", "bool", "tensor")},
    **{(m, n): _items for m in ("builtins", "__builtin__") for n in ("set", "frozenset")},
    ("_codecs", "encode"): _encode,
}
BUILDERS = {key: Builder(fn) for key, fn in _FUNCTIONS.items()}


class Stub(Opaque):
    """An object of a class never built: BUILD's state (a module's attributes) is kept."""

    def __setstate__(self, state: Any) -> None:
        pair = isinstance(state, tuple) and len(state) == 2
        if pair and isinstance(state[0], (dict, type(None))):
            merged = dict(state[0] or {})  # (state, slot state), as pickle's BUILD takes it
            if isinstance(state[1], dict):
                merged.update(state[1])
            state = merged
        self.state = state


def _stand_in(qualname: str) -> type:
    """A class standing for qualname: making one (REDUCE, NEWOBJ, INST) gives a Stub."""

    def new(cls: type, *args: Any, **kwargs: Any) -> Stub:
        return Stub(qualname, args=args + ((kwargs,) if kwargs else ()))

    return type(qualname.rsplit(".", 1)[-1], (), {"__new__": new, "__qualname__": qualname})


class RestrictedUnpickler(pickle.Unpickler):
    """pickle.Unpickler whose globals are BUILDERS, storages, dtypes and stand-ins only;
    storage(pid) answers persistent ids ('storage', type, key, location, numel)."""

    def __init__(self, data: bytes | IO[bytes], storage: Callable[[Any], Storage]) -> None:
        super().__init__(io.BytesIO(data) if isinstance(data, bytes) else data)
        self._storage = storage
        self._stand_ins: dict[str, type] = {}

    def find_class(self, module: str, name: str) -> Any:
        built = BUILDERS.get((module, name))
        if built is not None:
            return built
        if module in ("torch", "torch.storage") and name in STORAGE_DTYPES:
            return StorageType(name, STORAGE_DTYPES[name])
        if module == "torch" and name in TORCH_DTYPES:
            return _dtype(name)
        qualname = f"{module}.{name}"
        return self._stand_ins.setdefault(qualname, _stand_in(qualname))

    def persistent_load(self, pid: Any) -> Any:
        return self._storage(pid)


def unpickle(data: bytes | IO[bytes], storage: Callable[[Any], Storage]) -> Any:
    """What the pickle data describes (a file: the next pickle in it), built by
    RestrictedUnpickler; FileError from the
    storages passes, anything else the pickle makes go wrong is a ValueError."""
    try:
        return RestrictedUnpickler(data, storage).load()
    except FileError:
        raise
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except Exception as exc:  # UnpicklingError, EOFError, TypeError of a misused builder, ...
        said = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise ValueError(said) from None
