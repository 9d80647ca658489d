"""Reading weights files. Files from users are data, never code.

- .npz: np.load(allow_pickle=False); PyTorch or Keras names, told apart by the keys.
- .safetensors: the optional `safetensors` package.
- .pt / .pth: torch.load(weights_only=True), a state_dict (nn.LSTM, nn.GRU or their cells)
  or a dict holding one.
- .weights.h5 / .keras: Keras 3 files, through the optional `h5py` package (keras_h5.py).

registry.py finds the reader by suffix; this module turns what it read into a WeightsFile.
The .npy inputs (x, h0, c0) are npz.read_array's. Writing is writing.py's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from numpy.typing import NDArray

from ..cells import cell_of
from ..config import DEFAULT_MAX_MEMORY, LSTMConfig
from ..errors import ConfigError, FileError
from ..frameworks import (
    Architecture,
    KerasLayer,
    from_keras,
    from_pytorch,
    infer_keras,
    infer_pytorch,
)
from ..weights import LSTMWeights
from .checkpoint import is_state_key
from .dtype_policy import half_note
from .file_limits import must_exist
from .keras_h5 import H5_ASSUMPTIONS, keras_layers_with_left_out
from .layer_kinds import left_out_note, pick_pytorch_lstm
from .registry import kind_to_read

#: what a bias-free Keras GRU without a config cannot say
ASSUMED_RESET_AFTER = (
    "a GRU without biases does not show its reset_after (the (2, 3H) or (3H,) bias would); "
    "taken as reset_after=True, Keras's default (--no-reset-after says otherwise); a .keras "
    "file would say"
)
#: how a go_backwards layer's output lines up with Keras's
GO_BACKWARDS_NOTE = (
    "go_backwards=True: read as a reverse-only layer (direction reverse); lstm-trace's output "
    "is time-aligned, output[:, t] is h after reading x[:, t], while Keras returns the steps "
    "in reading order: its output[:, s] is lstm-trace's output[:, T-1-s]"
)


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
    #: facts the file cannot tell, only assumed, with the values an option may give them
    #: instead: a Keras file without a config cannot show go_backwards ({"direction": ("uni",
    #: "reverse")}), nor a bias-free GRU its reset_after ({"reset_after": (True, False)})
    assumed: dict[str, tuple[Any, ...]] = field(default_factory=dict)

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
    must_exist(path)
    kind = kind_to_read(path)
    if kind.read_layers is not None:
        layers, keras_config, keras_notes = kind.read_layers(path, max_memory)
        return _keras_file(path, layers, keras_config, tuple(keras_notes))
    assert kind.read_named is not None
    arrays, dtypes = kind.read_named(path, max_memory)
    half = half_note(path, dtypes)
    notes: tuple[str, ...] = () if half is None else (half,)
    try:
        if any(is_state_key(k) for k in arrays):
            return _pytorch_file(path, arrays, notes)
        layers, names, left_out = keras_layers_with_left_out(arrays, ordered=kind.keeps_order)
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
    picked = pick_pytorch_lstm(arrays)
    where = picked.prefix.rstrip(".") or f"the {picked.kind.upper()}"
    if picked.cell:
        notes += (
            f"{path}: {picked.prefix.rstrip('.') or 'the state_dict'} is an {picked.module}, "
            f"read as a one-layer unidirectional {picked.module.removesuffix('Cell')} "
            "(the same step, over the whole sequence)",
        )
    if picked.left_out:
        notes += (left_out_note(path, where, picked.left_out),)
    arch = infer_pytorch(picked.state, picked.kind)
    return WeightsFile(path, "pytorch", arch, pytorch=picked.state, notes=notes)


#: what Keras names in an .npz or .safetensors cannot say, said once on stderr
KERAS_NAMES_DIRECTION = (
    "Keras names hold no layer settings: read forward in time, go_backwards=False "
    "(--direction reverse for a stack whose first layer has go_backwards=True)"
)


def _keras_file(
    path: Path,
    layers: list[KerasLayer],
    cfg: dict[str, Any] | None,
    notes: tuple[str, ...] = (),
) -> WeightsFile:
    told = None if cfg is None else cfg.get("reset_after")
    try:
        arch = infer_keras(layers, reset_after=told)
    except ConfigError as exc:
        raise FileError(f"{path}: {exc.message}") from None
    assumed: dict[str, tuple[Any, ...]] = {}
    if cfg is not None and cfg.get("go_backwards"):
        arch = replace(arch, direction="reverse")
        notes += (f"{path}: {GO_BACKWARDS_NOTE}",)
    elif cfg is None and arch.direction == "uni":
        assumed["direction"] = ("uni", "reverse")  # go_backwards is not in the weights
        if not any(H5_ASSUMPTIONS in n for n in notes):  # a .weights.h5's note says it too
            notes += (f"{path}: {KERAS_NAMES_DIRECTION}",)
    if "reset_after" in cell_of(arch.cell).options and not arch.bias and told is None:
        notes += (f"{path}: {ASSUMED_RESET_AFTER}",)
        assumed["reset_after"] = (True, False)
    return WeightsFile(
        path, "keras", arch, keras=layers, keras_config=cfg, notes=notes, assumed=assumed
    )
