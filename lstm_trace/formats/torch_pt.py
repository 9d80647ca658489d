"""PyTorch .pt / .pth / .jit files read as data: no code of the file's is ever run.

What torch.save writes (since PyTorch 1.6) and what torch.jit.save writes (a TorchScript
archive) are zip archives: <name>/data.pkl and the tensors' bytes in <name>/data/<key>.
torch_archive.py reads them without torch, through an unpickler of its own that imports and
calls nothing the pickle names (a TorchScript module's code is never compiled): torch is not
needed to read them. A pickled module (torch.save(model)) and a TorchScript module are read
as the state_dict they would give; a checkpoint's other entries (an argparse.Namespace, an
optimizer's step) are named as untraced.

A "legacy" file (before PyTorch 1.6: a pickle that starts with torch's magic number) is read
by torch.load(weights_only=True). Anything else is not a PyTorch file, and is said to be so
before torch sees it: torch's own message for a garbage file advises re-running with
weights_only=False, which would be wrong advice for a garbage file and dangerous advice for an
untrusted one. lstm-trace never passes it on.

torch is optional and imported here only, when a legacy file is read or a .pt file written.
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
from .checkpoint import Opaque, flatten
from .file_limits import ZIP_ERRORS, ZIP_MAGIC, check_torch, must_exist, optional, refuse_over
from .modules import Named
from .named import parse
from .targets import atomic_open
from .torch_archive import data_pickle, read_archive, script_holds

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
        if data_pickle(names) is None:
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
    """{dotted name: NumPy array} of every tensor in a .pt file (a state_dict, a checkpoint
    holding any number of them at any depth, a pickled module or a TorchScript archive), the
    dtypes as stored ('bfloat16', ...), and the file's other entries."""
    why = _not_torch(path)
    if why is not None:
        raise FileError(f"{path}: {why}")
    check_torch(path, limit)
    if _is_zip(path):
        archive = read_archive(path, limit)
        obj, stored = archive.obj, archive.stored
    else:
        obj, stored = _legacy(path, limit)
    try:
        arrays, untraced = flatten(obj)
    except RecursionError:
        raise FileError(f"{path}: its data is nested too deeply to name its tensors") from None
    if _is_zip(path) and archive.script and not any(parse(k) for k in arrays):
        raise FileError(f"{path}: {script_holds(obj, arrays)}")
    if not arrays:
        what = obj.cls if isinstance(obj, Opaque) else type(obj).__name__
        raise FileError(
            f"{path}: holds a {what}, not a state_dict of tensors (nor a checkpoint holding one)"
        )
    dtypes = [stored.get(id(a), str(a.dtype)) for a in arrays.values()]
    return Named(arrays, dtypes, tuple(untraced))


def read_zip(path: Path, limit: int) -> Named:
    """A .zip: read as a torch archive (torch.save's or torch.jit.save's) when it is one;
    anything else is said to be what it is."""
    must_exist(path)
    if not _is_zip(path):
        raise FileError(f"{path}: not a zip archive (a .zip is read when torch wrote it)")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except ZIP_ERRORS:
        raise FileError(f"{path}: a damaged zip archive") from None
    if data_pickle(names) is None:
        raise FileError(f"{path}: {_zip_holds(names)}")
    return read_torch(path, limit)


def _zip_holds(names: list[str]) -> str:
    """What a zip archive that torch did not write is, and what to do with it."""
    files = [n for n in names if not n.endswith("/")]
    if {"config.json", "model.weights.h5"} <= set(files):
        return "a Keras model archive, not a torch one; name it .keras"
    if files and all(n.endswith(".npy") for n in files):
        return "an archive of NumPy arrays, not a torch one; name it .npz"
    shown = ", ".join(files[:4]) + (f" and {len(files) - 4} more" if len(files) > 4 else "")
    return (
        f"a zip archive of {len(files)} files ({shown or 'none'}), not one torch wrote "
        "(torch.save and torch.jit.save write <name>/data.pkl and <name>/data/)"
    )


def _is_zip(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(len(ZIP_MAGIC)) == ZIP_MAGIC


def _legacy(path: Path, limit: int) -> tuple[Any, dict[int, str]]:
    """A legacy (before PyTorch 1.6) file, through torch.load(weights_only=True)."""
    torch = optional("torch", "reading .pt/.pth files saved before PyTorch 1.6")
    try:
        with warnings.catch_warnings():  # "Detected pickle protocol 4" and the like:
            warnings.simplefilter("ignore")  # lstm-trace reports the outcome itself
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for anything but plain tensors and containers
        raise FileError(f"{path}: {_refusal(exc)}") from None
    # What the tensors hold, not what the file stores: an expanded view (stride 0) stores
    # one number and stands for millions, which copying it would make real.
    refuse_over(path, _held(torch, obj), limit, "tensors")
    stored: dict[int, str] = {}  # id of an array -> the dtype torch stored it in
    return _as_numpy(torch, path, obj, stored), stored


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
