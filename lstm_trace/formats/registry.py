"""The kinds of weights file, by suffix: the one table of who reads and writes each.

A kind's file holds either named tensors (.npz, .safetensors, .pt/.pth/.jit and a .zip that
is a torch archive: PyTorch's state_dict names or Keras' variable paths, told apart by
reading.py from the names), a Keras model's layers (.weights.h5, .h5, .keras: read straight
into Contents by keras_archive.py) or a whole ONNX model (.onnx: its reader gives its modules,
its writer takes the weights themselves). Its row names the reader, the writer (None:
lstm-trace reads the kind but does not write it), the frameworks whose names it is written
in, and the optional library the writer needs (refused before any work when it is missing).
suffix_of tells a path's kind; --to's names for the kinds are in weight_kinds.py.

This module loads the readers and writers of every family; reading.py and writing.py, which use
it, are loaded only when a file is read or written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from numpy.typing import NDArray

from ..errors import FileError
from ..frameworks import KerasLayer
from ..weights import LSTMWeights
from .keras_archive import read_keras
from .keras_h5 import write_keras_weights
from .modules import Contents, Named
from .npz import read_npz, read_safetensors, write_npz, write_safetensors
from .onnx_read import read_onnx
from .onnx_write import write_onnx
from .targets import suffix_of
from .torch_pt import read_torch, read_zip, write_torch

#: (path, max_memory) -> ({name: float array}, the file's dtypes, what else it holds)
ReadNamed = Callable[[Path, int], Named]
#: (path, max_memory) -> every module of the file, and what else it holds
ReadContents = Callable[[Path, int], Contents]
#: (path, {name: array}): a framework's names (a state_dict, or keras_h5.keras_names)
WriteNamed = Callable[[Path, dict[str, NDArray[Any]]], None]
#: (path, Keras layers)
WriteLayers = Callable[[Path, list[KerasLayer]], None]
#: (path, the weights themselves): a kind that holds a whole model (.onnx)
WriteWeights = Callable[[Path, LSTMWeights], None]

BOTH = ("pytorch", "keras")
#: every framework whose weights lstm-trace writes
FRAMEWORKS = (*BOTH, "onnx")


@dataclass(frozen=True)
class Kind:
    """One kind of weights file. Exactly one reader is set; a writer only if it is written."""

    read_named: ReadNamed | None = None
    read_contents: ReadContents | None = None
    write_named: WriteNamed | None = None
    write_layers: WriteLayers | None = None
    write_weights: WriteWeights | None = None
    #: the frameworks whose names it is written in (empty: read only)
    frameworks: tuple[str, ...] = ()
    #: the optional module its writer imports (None: NumPy's own)
    library: str | None = None
    #: whether the names come back in the order they were written (np.savez keeps it; a
    #: safetensors file sorts them), which then orders Keras layers without numbered names
    keeps_order: bool = False


_PT = Kind(read_named=read_torch, write_named=write_torch, frameworks=("pytorch",), library="torch")
_KERAS = Kind(read_contents=read_keras)
#: a TorchScript archive (torch.jit.save) or any torch zip archive: read, never written
_JIT = Kind(read_named=read_torch)

#: suffix (as suffix_of gives it) -> kind; the order is the order messages list them in
KINDS: dict[str, Kind] = {
    ".npz": Kind(read_named=read_npz, write_named=write_npz, frameworks=BOTH, keeps_order=True),
    ".safetensors": Kind(
        read_named=read_safetensors,
        write_named=write_safetensors,
        frameworks=BOTH,
        library="safetensors.numpy",
    ),
    ".pt": _PT,
    ".pth": _PT,
    ".jit": _JIT,
    ".zip": Kind(read_named=read_zip),
    ".weights.h5": Kind(
        read_contents=read_keras,
        write_layers=write_keras_weights,
        frameworks=("keras",),
        library="h5py",
    ),
    ".h5": _KERAS,
    ".keras": _KERAS,
    ".onnx": Kind(
        read_contents=read_onnx, write_weights=write_onnx, frameworks=("onnx",), library="onnx"
    ),
}

#: suffixes of plain pickles: refused with a hint, never read
PICKLES = (".pkl", ".pickle", ".joblib")

#: the kinds a message offers for reading (.h5 is read too: a legacy Keras model file, or
#: Keras 3 weights, which Keras 3 names .weights.h5)
READABLE = ".npz, .safetensors, .pt/.pth/.jit, .weights.h5, .keras or .onnx"

#: the kinds each framework's weights can be written as
WEIGHT_KINDS = {fw: tuple(s for s, k in KINDS.items() if fw in k.frameworks) for fw in FRAMEWORKS}


def kind_to_read(path: Path) -> Kind:
    """The kind of weights file path is, by its suffix, or a FileError naming the kinds."""
    suffix = suffix_of(path)
    kind = KINDS.get(suffix)
    if suffix in PICKLES:
        raise FileError(
            f"{path}: a pickle, which lstm-trace never unpickles (unpickling runs code); load "
            "it yourself, where you trust it, and save the arrays with np.savez(path, **arrays)"
        )
    if kind is None:
        raise FileError(
            f"{path}: unknown weights file kind {suffix or '(no suffix)'!r}; use {READABLE}"
        )
    return kind
