"""Writing files: weights in a framework's names, result arrays, pictures and reports.

Every write goes to a temporary file beside the target and is renamed into place, so a failed
or interrupted write never leaves a partial file. Optional libraries are imported where used.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from .errors import ConfigError, FileError
from .frameworks import KerasLayer, to_keras
from .io import optional, suffix_of
from .weights import LSTMWeights


@contextlib.contextmanager
def atomic_open(path: Path) -> Iterator[IO[bytes]]:
    """Write to a temporary file beside path and rename it into place only on success."""
    check_target(path)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        # mkstemp makes the file private (0600); give it the mode a plain open() would
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)  # the only portable way to read it is to set it
    os.umask(mask)
    return mask


def write_npz(path: Path, arrays: dict[str, NDArray[Any]]) -> None:
    with atomic_open(path) as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]


#: the file kinds each framework's weights can be written as
WEIGHT_KINDS = {
    "pytorch": (".npz", ".safetensors", ".pt", ".pth"),
    "keras": (".npz", ".safetensors", ".weights.h5"),
}


#: the optional library each kind of weights file is written with (.npz needs none)
WRITERS = {
    ".safetensors": "safetensors.numpy",
    ".pt": "torch",
    ".pth": "torch",
    ".weights.h5": "h5py",
}


def require_writer(path: Path) -> None:
    """Refuse, before any work, a weights file whose library is not installed."""
    kind = suffix_of(path)
    if kind in WRITERS:
        _writer(kind)


def _writer(kind: str) -> ModuleType:
    """The library that writes files of this kind (a key of WRITERS)."""
    return optional(WRITERS[kind], f"writing {kind} files")


def check_target(path: Path) -> None:
    """Refuse, before any work, an output path that cannot be written: no such folder, or a
    folder where a file should go."""
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileError(f"{path}: the folder {directory} does not exist")
    if path.is_dir():
        raise FileError(f"{path}: is a directory, not a file")


def framework_for(path: Path, framework: str | None = None) -> str:
    """The framework to write path as: the one given, else the one its kind implies
    (.weights.h5: keras; .pt/.pth: pytorch); .npz and .safetensors default to pytorch
    unless given. Refuses a kind the framework cannot be written as."""
    kind = suffix_of(path)
    if framework is None:
        framework = "keras" if kind == ".weights.h5" else "pytorch"
    if kind not in WEIGHT_KINDS[framework]:
        other = "keras" if framework == "pytorch" else "pytorch"
        raise FileError(
            f"{path}: cannot write {framework} weights as {kind or '(no suffix)'}; use "
            f"{', '.join(WEIGHT_KINDS[framework])} ({other}: {', '.join(WEIGHT_KINDS[other])})"
        )
    return framework


def write_weights(path: Path, weights: LSTMWeights, framework: str) -> None:
    """Save weights in a framework's names; the format comes from the suffix.

    pytorch: .npz, .safetensors, .pt/.pth (a state_dict that nn.LSTM.load_state_dict takes).
    keras: .npz (Keras variable paths), .weights.h5 (model.load_weights on a Sequential of
    LSTM or Bidirectional(LSTM) layers), .safetensors.
    """
    framework_for(path, framework)
    check_target(path)
    kind = suffix_of(path)
    if framework == "pytorch":
        state = weights.to_pytorch()
        if kind == ".npz":
            write_npz(path, state)
        elif kind == ".safetensors":
            _write_safetensors(path, state)
        else:
            _write_torch(path, state, kind)
        return
    from .keras_files import keras_names, write_keras_weights

    layers = _to_keras(weights)
    if kind == ".weights.h5":
        write_keras_weights(path, layers)
    elif kind == ".npz":
        write_npz(path, keras_names(layers))
    else:
        _write_safetensors(path, keras_names(layers))


def _to_keras(weights: LSTMWeights) -> list[KerasLayer]:
    try:
        return to_keras(weights)
    except ConfigError as exc:
        raise FileError(exc.message) from None


def _write_safetensors(path: Path, arrays: dict[str, NDArray[Any]]) -> None:
    st = _writer(".safetensors")
    data = st.save({k: np.ascontiguousarray(v) for k, v in arrays.items()})
    with atomic_open(path) as f:
        f.write(data)


def _write_torch(path: Path, state: dict[str, NDArray[Any]], kind: str) -> None:
    torch = _writer(kind)
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
    try:
        with atomic_open(path) as f:
            torch.save(tensors, f)
    except RuntimeError as exc:  # torch reports a full disk this way
        raise FileError(f"{path}: cannot write it ({' '.join(str(exc).split())})") from None
