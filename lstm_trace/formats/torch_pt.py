"""PyTorch .pt / .pth files: torch.load(weights_only=True), never an unrestricted unpickle.

What torch.save writes is a zip archive (<name>/data.pkl, <name>/data/0, ...) or, before
PyTorch 1.6, a "legacy" file: a pickle that starts with torch's magic number. Anything else is
not a PyTorch file, and is said to be so before torch sees it: torch's own message for a
garbage file advises re-running with weights_only=False, which would be wrong advice for a
garbage file and dangerous advice for an untrusted one. lstm-trace never passes it on.

torch is optional and imported here only, when a .pt file is read or written.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import FileError
from .checkpoint import flatten
from .file_limits import ZIP_ERRORS, ZIP_MAGIC, check_torch, optional, refuse_over
from .modules import Named
from .targets import atomic_open

#: how a legacy torch.save file starts: pickle protocol 2, then LONG1 of torch's magic number
LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def _not_torch(path: Path) -> str | None:
    """Why the file is not a PyTorch file, or None when it may be one."""
    with path.open("rb") as f:
        head = f.read(len(LEGACY_MAGIC))
    if head.startswith(ZIP_MAGIC):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except ZIP_ERRORS:
            return "not a PyTorch file (a damaged zip archive)"
        if not any(n.endswith("/data.pkl") for n in names):
            return "not a PyTorch file (a zip archive without the data.pkl torch.save writes)"
        return None
    if head == LEGACY_MAGIC:
        return None
    if head.startswith(b"\x80"):
        return (
            "not a PyTorch file but a bare pickle, which lstm-trace never unpickles; "
            "save the weights with torch.save(model.state_dict(), path)"
        )
    return "not a PyTorch file (torch.save writes a zip archive or a legacy torch pickle)"


def _pickle_protocol(path: Path) -> int:
    """The pickle protocol of a torch.save archive's data.pkl (0 when it cannot be told)."""
    try:
        with zipfile.ZipFile(path) as archive:
            name = next(n for n in archive.namelist() if n.endswith("/data.pkl"))
            with archive.open(name) as f:
                head = f.read(2)
    except (*ZIP_ERRORS, StopIteration):
        return 0
    return head[1] if len(head) == 2 and head[0] == 0x80 else 0


def _refusal(exc: Exception) -> str:
    """torch.load's error as what the file is, without torch's advice to unpickle it."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))  # torch colours its messages
    found = _GLOBAL.search(text)
    if found:
        name = found.group(1)
        if name.startswith("torch.nn.modules."):
            return (
                f"holds a whole pickled module ({name.rsplit('.', 1)[-1]}), not a state_dict; "
                "save model.state_dict() instead"
            )
        return (
            f"refused: it pickles {name}, which lstm-trace never loads (weights_only=True); "
            "save a state_dict of tensors"
        )
    detail = text.split("WeightsUnpickler error:", 1)[-1] if "WeightsUnpickler" in text else text
    lines = [line.strip() for line in detail.splitlines() if line.strip()]
    first = lines[0] if lines else type(exc).__name__
    return f"refused: not a plain state_dict that loads with weights_only=True ({first})"


def read_torch(path: Path, limit: int) -> Named:
    """{dotted name: NumPy array} of every tensor in a .pt file (a state_dict, or a
    checkpoint holding any number of them at any depth), the dtypes as stored ('bfloat16',
    ...), and the checkpoint's other entries."""
    why = _not_torch(path)
    if why is not None:
        raise FileError(f"{path}: {why}")
    check_torch(path, limit)
    torch = optional("torch", "reading .pt/.pth files")
    try:
        with warnings.catch_warnings():  # "Detected pickle protocol 4" and the like:
            warnings.simplefilter("ignore")  # lstm-trace reports the outcome itself
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for anything but plain tensors and containers
        protocol = _pickle_protocol(path)
        if protocol > 2 and "Unsupported operand" in str(exc):
            raise FileError(
                f"{path}: refused: pickled with protocol {protocol}, which torch.load cannot "
                "read with weights_only=True; save it again with torch.save's default protocol"
            ) from None
        raise FileError(f"{path}: {_refusal(exc)}") from None
    # What the tensors hold, not what the archive stores: an expanded view (stride 0) stores
    # one number and stands for millions, which copying it would make real.
    refuse_over(path, _held(torch, obj), limit, "tensors")
    stored: dict[int, str] = {}  # id of an array -> the dtype torch stored it in
    tree = _as_numpy(torch, path, obj, stored)
    arrays, untraced = flatten(tree)
    if not arrays:
        raise FileError(
            f"{path}: holds a {type(obj).__name__}, not a state_dict of tensors "
            "(nor a checkpoint holding one)"
        )
    dtypes = [stored.get(id(a), str(a.dtype)) for a in arrays.values()]
    return Named(arrays, dtypes, tuple(untraced))


def _held(torch: Any, obj: Any) -> int:
    """The bytes the tensors in what torch.load returned hold."""
    if isinstance(obj, torch.Tensor):
        return int(obj.numel() * obj.element_size())
    if isinstance(obj, dict):
        return sum(_held(torch, v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_held(torch, v) for v in obj)
    return 0


def _as_numpy(torch: Any, path: Path, obj: Any, stored: dict[int, str]) -> Any:
    """What torch.load returned, with every tensor a NumPy array (bfloat16 as float32,
    stored noting the dtype it was) and containers rebuilt as plain ones."""
    if isinstance(obj, torch.Tensor):
        out = _tensor(torch, path, obj)
        stored[id(out)] = str(obj.dtype).removeprefix("torch.")
        return out
    if isinstance(obj, dict):
        return {k: _as_numpy(torch, path, v, stored) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_as_numpy(torch, path, v, stored) for v in obj]
    return obj


def _tensor(torch: Any, path: Path, v: Any) -> NDArray[Any]:
    """A dense tensor as a NumPy array (bfloat16 as float32); integer tensors (a step count,
    num_batches_tracked) as they are, for the readers to leave untraced."""
    try:
        t = v.detach().cpu()
        if t.is_sparse or t.is_quantized or t.layout != torch.strided:
            raise TypeError(f"{t.dtype} {t.layout}")
        keep = (torch.float16, torch.float32, torch.float64)
        if t.is_floating_point() and t.dtype not in keep:
            t = t.float()  # bfloat16 (NumPy has none): float32 holds every value
        out: NDArray[Any] = t.numpy()
        return out
    except (TypeError, RuntimeError, NotImplementedError) as exc:
        raise FileError(f"{path}: a tensor of {v.dtype} is not a dense tensor ({exc})") from None


def write_torch(path: Path, state: dict[str, NDArray[Any]]) -> None:
    """A .pt/.pth state_dict of these arrays, as torch tensors (for nn.LSTM or nn.GRU)."""
    torch = optional("torch", "writing .pt/.pth files")
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
    try:
        with atomic_open(path, seekable=True) as f:  # a zip archive
            torch.save(tensors, f)
    except RuntimeError as exc:  # torch reports a full disk this way
        raise FileError(f"{path}: cannot write it ({' '.join(str(exc).split())})") from None
