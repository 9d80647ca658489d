"""Writing files: weights in a framework's names, result arrays, pictures and reports.

Every write goes through targets.atomic_open, which never destroys what is at the path: a
regular file is replaced atomically, a symlink is written through, a device or FIFO is written
in place. Optional libraries are imported where used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import ConfigError, FileError, LSTMTraceError
from .frameworks import KerasLayer, to_keras
from .reading import optional, suffix_of
from .targets import atomic_open, plan
from .weight_kinds import KIND_OF, SaveAs
from .weights import LSTMWeights

__all__ = [
    "WEIGHT_KINDS",
    "SaveAs",
    "WeightsFormat",
    "atomic_open",
    "require_writer",
    "weights_format",
    "write_npz",
    "write_weights",
]


def write_npz(path: Path, arrays: dict[str, NDArray[Any]]) -> None:
    """An .npz of these arrays (a zip archive: it seeks while it is written)."""
    with atomic_open(path, seekable=True) as f:
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


@dataclass(frozen=True)
class WeightsFormat:
    """How weights are written: in which framework's names, as which kind of file."""

    framework: str  # "pytorch" or "keras"
    kind: str  # one of WEIGHT_KINDS[framework]


def weights_format(
    path: Path, to: str | None, option: str = "", *, need_to: bool = False
) -> WeightsFormat:
    """The format to write weights to path in, checked before any work (a usage error).

    The framework is --to's, else keras for .weights.h5 and pytorch for the rest (need_to:
    .npz and .safetensors, which hold either, need --to). The kind is the file name's suffix;
    a device or FIFO has none, and takes --to's (pytorch-npz, ...), .npz for a bare framework.
    Also refuses a kind whose library is not installed (FileError).
    """
    where = f"{option} {path}" if option else str(path)
    framework, _, named = (to or "").partition("-")
    target = plan(path)
    suffix = suffix_of(path)
    if suffix not in NAMED_BY and suffix_of(target.resolved) in NAMED_BY:
        suffix = suffix_of(target.resolved)  # a link named for nothing: /dev/stdout > w.npz
    if target.stream and not named and suffix in NAMED_BY:
        named = NAMED_BY[suffix]  # a FIFO linked as w.npz, stdout sent to w.pth
    if target.stream:
        if not framework and not named:
            raise LSTMTraceError(
                f"{where}: a device or FIFO has no suffix to tell the kind of file; say it "
                f"with --to ({', '.join(s.value for s in SaveAs)})"
            )
        kind = KIND_OF[named] if named else ".npz"
        _need_framework(where, framework, kind, need_to)
        framework = framework or ("keras" if kind == ".weights.h5" else "pytorch")
    else:
        kind = suffix
        if named and kind != KIND_OF[named] and not (named == "pt" and kind == ".pth"):
            raise LSTMTraceError(
                f"{where}: --to {to} writes a {KIND_OF[named]} file; name it so, or give "
                f"--to {framework}"
            )
        _need_framework(where, framework, kind, need_to)
        framework = framework or ("keras" if kind == ".weights.h5" else "pytorch")
    _check_kind(where, framework, kind)
    require_writer(kind)  # a missing library is said now, not after the whole run
    return WeightsFormat(framework, kind)


#: the --to ending each weights suffix stands for
NAMED_BY = {**{kind: named for named, kind in KIND_OF.items()}, ".pth": "pt"}


def _need_framework(where: str, framework: str, kind: str, need_to: bool) -> None:
    """convert's rule: an .npz or .safetensors holds either framework's names, so --to says
    which (the trace's --save-weights writes PyTorch's unless told)."""
    if not framework and need_to and kind in (".npz", ".safetensors"):
        raise LSTMTraceError(
            f"{where}: a {kind} file can hold PyTorch or Keras names; "
            "say which with --to pytorch or --to keras"
        )


def _check_kind(where: str, framework: str, kind: str) -> None:
    if kind not in WEIGHT_KINDS[framework]:
        other = "keras" if framework == "pytorch" else "pytorch"
        raise LSTMTraceError(
            f"{where}: cannot write {framework} weights as {kind or '(no suffix)'}; use "
            f"{', '.join(WEIGHT_KINDS[framework])} ({other}: {', '.join(WEIGHT_KINDS[other])})"
        )


def require_writer(kind: str) -> None:
    """Refuse, before any work, a kind of weights file whose library is not installed."""
    if kind in WRITERS:
        _writer(kind)


def _writer(kind: str) -> ModuleType:
    """The library that writes files of this kind (a key of WRITERS)."""
    return optional(WRITERS[kind], f"writing {kind} files")


def write_weights(
    path: Path, weights: LSTMWeights, framework: str, kind: str | None = None
) -> None:
    """Save weights in a framework's names, as kind (default: the file name's suffix).

    pytorch: .npz, .safetensors, .pt/.pth (a state_dict that nn.LSTM.load_state_dict takes).
    keras: .npz (Keras variable paths), .weights.h5 (model.load_weights on a Sequential of
    LSTM or Bidirectional(LSTM) layers), .safetensors.
    """
    kind = suffix_of(path) if kind is None else kind
    _check_kind(str(path), framework, kind)
    plan(path)
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
    with atomic_open(path) as f:  # the bytes are whole before the file is opened
        f.write(data)


def _write_torch(path: Path, state: dict[str, NDArray[Any]], kind: str) -> None:
    torch = _writer(kind)
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
    try:
        with atomic_open(path, seekable=True) as f:  # a zip archive
            torch.save(tensors, f)
    except RuntimeError as exc:  # torch reports a full disk this way
        raise FileError(f"{path}: cannot write it ({' '.join(str(exc).split())})") from None
