"""PyTorch .pt / .pth / .jit files read as data, without torch: no code of the file's is run.

What torch.save writes (since PyTorch 1.6) and what torch.jit.save writes (a TorchScript
archive) are zip archives: <name>/data.pkl and the tensors' bytes in <name>/data/<key>
(torch_archive.py). Before PyTorch 1.6, torch.save wrote a "legacy" file: pickles in a row
that start with torch's magic number, then the tensors' bytes (torch_legacy.py). Both are read
through an unpickler of lstm-trace's own (torch_pickle.py) that imports and calls nothing the
pickle names (a TorchScript module's code is never compiled): torch is not needed to read
any .pt file. A pickled module (torch.save(model)) and a TorchScript module are read as the
state_dict they would give; a checkpoint's other entries (an argparse.Namespace, an
optimizer's step) are named as untraced. Anything else is not a PyTorch file, and is said to
be so (a bare pickle is never unpickled).

torch is optional and imported here only, when a .pt file is written.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import FileError
from .checkpoint import Opaque, flatten
from .file_limits import ZIP_ERRORS, ZIP_MAGIC, check_torch, must_exist, optional
from .modules import Named
from .named import parse
from .targets import atomic_open
from .torch_archive import data_pickle, read_archive, script_holds
from .torch_legacy import read_legacy

#: how a legacy torch.save file starts: pickle protocol 2, then LONG1 of torch's magic number
LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


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


def read_torch(path: Path, limit: int) -> Named:
    """{dotted name: NumPy array} of every tensor in a .pt file (a state_dict, a checkpoint
    holding any number of them at any depth, a pickled module or a TorchScript archive), the
    dtypes as stored ('bfloat16', ...), and the file's other entries."""
    why = _not_torch(path)
    if why is not None:
        raise FileError(f"{path}: {why}")
    check_torch(path, limit)
    archive = read_archive(path, limit) if _is_zip(path) else read_legacy(path, limit)
    obj, stored = archive.obj, archive.stored
    try:
        arrays, untraced = flatten(obj)
    except RecursionError:
        raise FileError(f"{path}: its data is nested too deeply to name its tensors") from None
    except ValueError as exc:
        raise FileError(f"{path}: {exc}; lstm-trace cannot tell them apart") from None
    if archive.script and not any(parse(k) for k in arrays):
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


def write_torch(path: Path, state: dict[str, NDArray[Any]]) -> None:
    """A .pt/.pth state_dict of these arrays, as torch tensors (for nn.LSTM or nn.GRU)."""
    torch = optional("torch", "writing .pt/.pth files")
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
    try:
        with atomic_open(path, seekable=True) as f:  # a zip archive
            torch.save(tensors, f)
    except RuntimeError as exc:  # torch reports a full disk this way
        raise FileError(f"{path}: cannot write it ({' '.join(str(exc).split())})") from None
