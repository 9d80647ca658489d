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
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .config import LSTMConfig
from .errors import ConfigError, FileError
from .frameworks import (
    Architecture,
    KerasLayer,
    from_keras,
    from_pytorch,
    infer_keras,
    infer_pytorch,
    strip_pytorch_prefix,
)
from .weights import LSTMWeights

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


EXTRAS = {"safetensors.numpy": "safetensors", "torch": "torch", "h5py": "keras"}


def optional(module: str, what: str) -> ModuleType:
    """Import an optional library, or fail with the line that says how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        extra = EXTRAS.get(module, module)
        raise FileError(
            f"{what} needs the optional package {module!r}: pip install 'lstm-trace[{extra}]'"
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


def read_weights(path: Path) -> WeightsFile:
    """Read any supported weights file; the kind comes from the suffix, the framework from
    the names inside."""
    must_exist(path)
    kind = suffix_of(path)
    if kind == ".npz":
        arrays = _read_npz(path)
    elif kind == ".safetensors":
        arrays = _read_safetensors(path)
    elif kind in (".pt", ".pth"):
        arrays = _read_torch(path)
    elif kind in (".weights.h5", ".h5", ".keras"):
        from .keras_files import read_keras_file

        layers, keras_config, notes = read_keras_file(path)
        return _keras_file(path, layers, keras_config, tuple(notes))
    else:
        raise FileError(
            f"{path}: unknown weights file kind {kind or '(no suffix)'!r}; use .npz, "
            ".safetensors, .pt/.pth, .weights.h5 or .keras"
        )
    if any(_is_pytorch_key(k) for k in arrays):
        try:
            state = strip_pytorch_prefix(arrays)
            return WeightsFile(path, "pytorch", infer_pytorch(state), pytorch=state)
        except ConfigError as exc:
            raise FileError(f"{path}: {exc.message}") from None
    from .keras_files import keras_layers_from_names

    try:
        layers = keras_layers_from_names(arrays, ordered=kind == ".npz")
    except ConfigError as exc:
        raise FileError(f"{path}: {exc.message}") from None
    return _keras_file(path, layers, None)


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


def _is_pytorch_key(key: str) -> bool:
    return key.rsplit(".", 1)[-1].startswith(("weight_ih_l", "weight_hh_l"))


def must_exist(path: Path) -> None:
    if not path.exists():
        raise FileError(f"{path}: no such file")
    if path.is_dir():
        raise FileError(f"{path}: is a directory, not a file")


def _read_npz(path: Path) -> dict[str, NDArray[Any]]:
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise FileError(f"{path}: is a single .npy array, not an .npz of named weights")
            return {k: _numeric(path, k, data[k]) for k in data.files}
    except FileError:
        raise
    except ValueError as exc:  # object arrays or not NumPy at all (both need unpickling)
        raise FileError(f"{path}: {_value_error(exc, path)}") from None
    except Exception as exc:  # BadZipFile, truncated archives, OSError, EOFError
        raise FileError(f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})") from None


def _numeric(path: Path, name: str, value: Any) -> NDArray[Any]:
    a = np.asarray(value)
    if a.dtype.kind not in "biuf":
        raise FileError(f"{path}: {name} holds {a.dtype} values, not numbers")
    return a


def _read_safetensors(path: Path) -> dict[str, NDArray[Any]]:
    st = optional("safetensors.numpy", "reading .safetensors")
    try:
        data = st.load_file(str(path))
    except Exception as exc:  # SafetensorError, truncated headers
        raise FileError(f"{path}: not a readable .safetensors file ({exc})") from None
    return {k: _numeric(path, k, v) for k, v in data.items()}


def _read_torch(path: Path) -> dict[str, NDArray[Any]]:
    torch = optional("torch", "reading .pt/.pth files")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for anything but plain tensors and containers
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()  # torch colours its messages
        first = text.splitlines()[0] if text else type(exc).__name__
        raise FileError(
            f"{path}: refused: not a plain state_dict that loads with weights_only=True ({first})"
        ) from None
    state = _find_state_dict(obj)
    if state is None:
        raise FileError(
            f"{path}: holds a {type(obj).__name__}, not a state_dict of tensors "
            "(or a dict with one under 'state_dict' or 'model')"
        )
    out = {}
    for k, v in state.items():
        if not isinstance(v, torch.Tensor):
            raise FileError(f"{path}: {k} is a {type(v).__name__}, not a tensor")
        try:
            t = v.detach().cpu()
            if not t.is_floating_point() or t.is_sparse or t.is_quantized:
                raise TypeError(f"{t.dtype} {t.layout}")
            out[k] = (t if t.dtype in (torch.float32, torch.float64) else t.float()).numpy()
        except (TypeError, RuntimeError, NotImplementedError) as exc:
            raise FileError(f"{path}: {k} is not a dense floating-point tensor ({exc})") from None
    return out


def _find_state_dict(obj: Any) -> dict[str, Any] | None:
    if isinstance(obj, dict) and obj and all(isinstance(k, str) for k in obj):
        if any(_is_pytorch_key(k) for k in obj):
            return obj
        for key in ("state_dict", "model_state_dict", "model"):
            inner = obj.get(key)
            if isinstance(inner, dict):
                return _find_state_dict(inner)
    return None


def read_array(path: Path, what: str) -> NDArray[Any]:
    """A .npy array of numbers (x, h0 or c0)."""
    must_exist(path)
    try:
        a = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise FileError(f"{path}: {_value_error(exc, path)}") from None
    except Exception as exc:
        raise FileError(f"{path}: not a readable .npy file ({type(exc).__name__}: {exc})") from None
    if not isinstance(a, np.ndarray):
        a.close()
        raise FileError(f"{path}: is an .npz archive; {what} must be a single .npy array")
    return _numeric(path, what, a)
