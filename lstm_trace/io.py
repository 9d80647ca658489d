"""Reading and writing weight, input and result files. Files from users are data, never code.

- .npz: np.load(allow_pickle=False); PyTorch or Keras names, told apart by the keys.
- .safetensors: the optional `safetensors` package.
- .pt / .pth: torch.load(weights_only=True), a state_dict or a dict holding one.
- .weights.h5 / .keras: Keras 3 files, through the optional `h5py` package (keras_files.py).
- .npy for inputs and initial states, np.load(allow_pickle=False).

Every write goes to a temporary file beside the target and is renamed into place, so a failed
or interrupted write never leaves a partial file. Optional libraries are imported where used.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import IO, Any

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
    to_keras,
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


# --- writing ----------------------------------------------------------------------------------


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
