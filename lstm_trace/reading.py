"""Reading weight and input files. Files from users are data, never code.

- .npz: np.load(allow_pickle=False); PyTorch or Keras names, told apart by the keys.
- .safetensors: the optional `safetensors` package.
- .pt / .pth: torch.load(weights_only=True), a state_dict or a dict holding one.
- .weights.h5 / .keras: Keras 3 files, through the optional `h5py` package (keras_files.py).
- .npy for inputs and initial states, np.load(allow_pickle=False).

Writing is writing.py's job. Optional libraries are imported where used.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .config import DEFAULT_MAX_MEMORY, LSTMConfig
from .errors import ConfigError, FileError
from .frameworks import (
    Architecture,
    KerasLayer,
    from_keras,
    from_pytorch,
    infer_keras,
    infer_pytorch,
)
from .weights import LSTMWeights

# The readers' helpers (file_limits, dtype_policy, layer_kinds, torch_files) are imported
# where a file is read: the walkthrough, which reads none, starts without them.

_NEEDS_PICKLE = (
    "not a plain NumPy file: reading it would mean unpickling, which lstm-trace never does "
    "(allow_pickle=False)"
)


def _value_error(exc: ValueError, path: Path) -> str:
    """np.load's ValueError: a file that needs pickle, one that is not NumPy's at all (np.load
    takes anything without NumPy's magic bytes for a pickle), or a damaged one."""
    if "pickle" in str(exc):
        with path.open("rb") as f:
            pickled = f.read(1) == b"\x80"  # how a pickle of protocol 2 or later starts
        if not pickled and "Object arrays" not in str(exc):  # not NumPy's, not a pickle
            return "not a NumPy file (an .npz is a zip archive of .npy arrays)"
        return _NEEDS_PICKLE
    return f"damaged or truncated ({' '.join(str(exc).split())})"


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


def suffix_of(path: Path) -> str:
    """'.weights.h5' for Keras weight files, else the last suffix, lower case."""
    name = path.name.lower()
    return ".weights.h5" if name.endswith(".weights.h5") else path.suffix.lower()


@dataclass(frozen=True)
class WeightsFile:
    """A weights file, read: its framework's tensors and the architecture they imply."""

    path: Path
    framework: str  # "pytorch" or "keras"
    architecture: Architecture
    pytorch: dict[str, NDArray[Any]] | None = None
    keras: list[KerasLayer] | None = None
    #: facts a .keras archive's config.json adds (return_sequences, ...), else empty.
    keras_config: dict[str, Any] | None = None
    #: what the user should know about how the file was read (shown on stderr)
    notes: tuple[str, ...] = ()

    def build(self, config: LSTMConfig) -> LSTMWeights:
        """The canonical weights in config's dtype; every name and shape checked."""
        try:
            if self.pytorch is not None:
                return from_pytorch(self.pytorch, config)
            assert self.keras is not None
            return from_keras(self.keras, config)
        except ConfigError as exc:
            raise FileError(f"{self.path}: {exc.message}") from None


def read_weights(path: str | Path, *, max_memory: int = DEFAULT_MAX_MEMORY) -> WeightsFile:
    """Read any supported weights file; the kind comes from the suffix, the framework from
    the names inside. Declared sizes are checked against max_memory before reading."""
    path = Path(path)
    from .dtype_policy import half_note
    from .torch_files import is_state_key, read_torch

    must_exist(path)
    kind = suffix_of(path)
    if kind == ".npz":
        arrays, dtypes = _read_npz(path, max_memory)
    elif kind == ".safetensors":
        arrays, dtypes = read_safetensors(path, max_memory)
    elif kind in (".pt", ".pth"):
        arrays, dtypes = read_torch(path, max_memory)
    elif kind in (".weights.h5", ".h5", ".keras"):
        from .keras_files import read_keras_file

        layers, keras_config, keras_notes = read_keras_file(path, max_memory)
        return _keras_file(path, layers, keras_config, tuple(keras_notes))
    else:
        raise FileError(
            f"{path}: unknown weights file kind {kind or '(no suffix)'!r}; use .npz, "
            ".safetensors, .pt/.pth, .weights.h5 or .keras"
        )
    half = half_note(path, dtypes)
    notes: tuple[str, ...] = () if half is None else (half,)
    try:
        if any(is_state_key(k) for k in arrays):
            return _pytorch_file(path, arrays, notes)
        from .keras_files import keras_layers_with_left_out
        from .layer_kinds import left_out_note

        layers, names, left_out = keras_layers_with_left_out(arrays, ordered=kind == ".npz")
    except ConfigError as exc:
        raise FileError(f"{path}: {exc.message}") from None
    if left_out:
        notes += (left_out_note(path, ", ".join(n or "the LSTM" for n in names), left_out),)
    return _keras_file(path, layers, None, notes)


def load_weights(
    path: str | Path, dtype: str | None = None, *, max_memory: int = DEFAULT_MAX_MEMORY
) -> LSTMWeights:
    """A weights file read as the command line reads it: the architecture (sizes, layers,
    direction, projection, bias) from the file, the dtype the file's (float32 when it cannot
    say) unless given. The notes the command line would print are dropped; read_weights()
    keeps them (WeightsFile.notes)."""
    wf = read_weights(Path(path), max_memory=max_memory)
    return wf.build(wf.architecture.config(dtype))


def _pytorch_file(
    path: Path, arrays: dict[str, NDArray[Any]], notes: tuple[str, ...]
) -> WeightsFile:
    from .layer_kinds import left_out_note, pick_pytorch_lstm

    picked = pick_pytorch_lstm(arrays)
    where = picked.prefix.rstrip(".") or "the LSTM"
    if picked.cell:
        notes += (
            f"{path}: {picked.prefix.rstrip('.') or 'the state_dict'} is an nn.LSTMCell, read "
            "as a one-layer unidirectional nn.LSTM (the same step, over the whole sequence)",
        )
    if picked.left_out:
        notes += (left_out_note(path, where, picked.left_out),)
    arch = infer_pytorch(picked.state)
    return WeightsFile(path, "pytorch", arch, pytorch=picked.state, notes=notes)


def _keras_file(
    path: Path,
    layers: list[KerasLayer],
    cfg: dict[str, Any] | None,
    notes: tuple[str, ...] = (),
) -> WeightsFile:
    try:
        arch = infer_keras(layers)
    except ConfigError as exc:
        raise FileError(f"{path}: {exc.message}") from None
    return WeightsFile(path, "keras", arch, keras=layers, keras_config=cfg, notes=notes)


def must_exist(path: Path) -> None:
    if not path.exists():
        raise FileError(f"{path}: no such file")
    if path.is_dir():
        raise FileError(f"{path}: is a directory, not a file")


def _read_npz(path: Path, limit: int) -> tuple[dict[str, NDArray[Any]], list[str]]:
    from .dtype_policy import float_array
    from .file_limits import check_npy

    check_npy(path, limit)  # before np.load allocates what the headers declare
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise FileError(f"{path}: is a single .npy array, not an .npz of named weights")
            arrays = {k: float_array(path, k, data[k]) for k in data.files}
    except FileError:
        raise
    except ValueError as exc:  # object arrays or not NumPy at all (both need unpickling)
        raise FileError(f"{path}: {_value_error(exc, path)}") from None
    except Exception as exc:  # BadZipFile, truncated archives, OSError, EOFError
        raise FileError(f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})") from None
    return arrays, [str(a.dtype) for a in arrays.values()]


#: safetensors dtypes lstm-trace reads, as NumPy names
_SAFETENSORS_FLOATS = {"F16": "float16", "F32": "float32", "F64": "float64"}


def read_safetensors(path: Path, limit: int) -> tuple[dict[str, NDArray[Any]], list[str]]:
    """A .safetensors file: its header checked (sizes, dtypes) before the tensors are read."""
    from .dtype_policy import float_array, refuse_dtype
    from .file_limits import safetensors_header

    header = safetensors_header(path, limit)
    for name, entry in header.items():
        if name == "__metadata__":  # free-form strings, not a tensor
            continue
        dtype = str(entry.get("dtype"))
        if dtype == "BF16":
            raise FileError(
                f"{path}: {name} is bfloat16, which the safetensors NumPy reader cannot read; "
                "save float32 tensors, or a .pt file (read through torch)"
            )
        if dtype not in _SAFETENSORS_FLOATS:
            raise refuse_dtype(path, name, dtype)
    st = optional("safetensors.numpy", "reading .safetensors")
    try:
        data = st.load_file(str(path))
    except Exception as exc:  # SafetensorError, truncated headers
        raise FileError(f"{path}: not a readable .safetensors file ({exc})") from None
    arrays = {k: float_array(path, k, v) for k, v in data.items()}
    return arrays, [str(a.dtype) for a in arrays.values()]


def read_array(path: Path, what: str, *, max_memory: int = DEFAULT_MAX_MEMORY) -> NDArray[Any]:
    """A .npy array of numbers (x, h0 or c0); its declared size checked before it is read."""
    from .dtype_policy import number_array
    from .file_limits import check_npy

    must_exist(path)
    check_npy(path, max_memory)
    try:
        a = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise FileError(f"{path}: {_value_error(exc, path)}") from None
    except Exception as exc:
        raise FileError(f"{path}: not a readable .npy file ({type(exc).__name__}: {exc})") from None
    if not isinstance(a, np.ndarray):
        a.close()
        raise FileError(f"{path}: is an .npz archive; {what} must be a single .npy array")
    return number_array(path, what, a)
