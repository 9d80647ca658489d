"""Writing weights in a framework's names: which kind of file (weights_format, checked
before any work) and the writing itself, by the writer registry.py names for the kind.

Every write goes through targets.atomic_open, which never destroys what is at the path: a
regular file is replaced atomically, a symlink is written through, a device or FIFO is written
in place. Optional libraries are imported where used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import LSTMConfig
from ..errors import ConfigError, FileError, LSTMTraceError
from ..frameworks import KerasLayer, to_keras
from ..weights import LSTMWeights
from .file_limits import optional
from .keras_h5 import keras_names
from .registry import KINDS, WEIGHT_KINDS
from .targets import plan, suffix_of
from .weight_kinds import KIND_OF, SaveAs

__all__ = [
    "WEIGHT_KINDS",
    "SaveAs",
    "WeightsFormat",
    "check_writable",
    "require_writer",
    "unwritable",
    "weights_format",
    "write_weights",
]


@dataclass(frozen=True)
class WeightsFormat:
    """How weights are written: in which framework's names, as which kind of file."""

    framework: str  # "pytorch", "keras" or "onnx"
    kind: str  # one of WEIGHT_KINDS[framework]


def weights_format(
    path: Path, to: str | None, option: str = "", *, need_to: bool = False
) -> WeightsFormat:
    """The format to write weights to path in, checked before any work (a usage error).

    The framework is --to's, else keras for .weights.h5, onnx for .onnx and pytorch for the
    rest (need_to:
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
        kind = KIND_OF[named] if named else (".onnx" if framework == "onnx" else ".npz")
        _need_framework(where, framework, kind, need_to)
        framework = framework or _framework_of(kind)
    else:
        kind = suffix
        if named and kind != KIND_OF[named] and not (named == "pt" and kind == ".pth"):
            raise LSTMTraceError(
                f"{where}: --to {to} writes a {KIND_OF[named]} file; name it so, or give "
                f"--to {framework}"
            )
        _need_framework(where, framework, kind, need_to)
        framework = framework or _framework_of(kind)
    _check_kind(where, framework, kind)
    require_writer(kind)  # a missing library is said now, not after the whole run
    return WeightsFormat(framework, kind)


def _framework_of(kind: str) -> str:
    """The framework a kind of file is written in when --to does not say."""
    return {".weights.h5": "keras", ".onnx": "onnx"}.get(kind, "pytorch")


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
        others = "; ".join(
            f"{fw}: {', '.join(kinds)}" for fw, kinds in WEIGHT_KINDS.items() if fw != framework
        )
        raise LSTMTraceError(
            f"{where}: cannot write {framework} weights as {kind or '(no suffix)'}; use "
            f"{', '.join(WEIGHT_KINDS[framework])} ({others})"
        )


def require_writer(kind: str) -> None:
    """Refuse, before any work, a kind of weights file whose library is not installed."""
    library = KINDS[kind].library
    if library is not None:
        optional(library, f"writing {kind} files")


def unwritable(
    config: LSTMConfig, framework: str, kind: str, subject: str = "this one"
) -> str | None:
    """Why weights of config cannot be written in framework's names as kind, or None;
    subject names the weights in the projection's message (convert: the source file).

    - Keras has no projection and no peepholes (the cell's own reasons).
    - PyTorch's names cannot hold a GRU with reset_after=False: nn.GRU has no such layer,
      and its names would be read back as reset_after=True, a different GRU.
    - Peepholes (weight_peep_l{k}) and a reverse-only layer (_reverse names only) are kept
      in lstm-trace's own .npz and .safetensors, but not as a .pt/.pth, which a torch user
      would expect nn.LSTM or nn.GRU.load_state_dict to take.
    """
    why = config.kind.unsupported(config).get(framework)
    module = f"nn.{config.kind.title}"
    if framework == "onnx":
        return None if why is None else f"{why}; write PyTorch names instead"
    if framework == "keras":
        if config.proj_size:
            size = config.proj_size
            why = f"Keras has no LSTM with a projection, and {subject} has proj_size {size}"
        return None if why is None else f"{why}; write PyTorch names instead"
    if "reset_after" in config.kind.options and not config.reset_after:
        return (
            "PyTorch's nn.GRU applies the reset gate after the recurrent product, and this "
            "GRU has reset_after=False (it resets h_(t-1) before the product), which nn.GRU "
            "cannot express; keep Keras names (--to keras)"
        )
    if kind not in (".pt", ".pth"):
        return None
    if config.peepholes:
        return (
            f"{module} has no peepholes, so {module}.load_state_dict would not take a .pt of "
            "them; write .npz or .safetensors (lstm-trace's own names, weight_peep_l0 ...)"
        )
    if config.direction == "reverse":
        return (
            f"{module} has no reverse-only layer, so {module}.load_state_dict would not take a "
            ".pt of one; write .npz or .safetensors (lstm-trace's own names, weight_ih_l0_reverse "
            "...)"
        )
    return None


def check_writable(
    where: object,
    config: LSTMConfig,
    framework: str,
    kind: str,
    error: type[LSTMTraceError] = LSTMTraceError,
    subject: str = "this one",
) -> None:
    """Refuse weights that framework's names cannot hold as kind: '<where>: <why>; ...'.
    A command checks it before any work, a usage error (exit 2); write_weights checks it
    again, as the FileError it has always raised for weights it cannot write."""
    why = unwritable(config, framework, kind, subject)
    if why is not None:
        raise error(f"{where}: {why}")


def write_weights(
    path: Path, weights: LSTMWeights, framework: str, kind: str | None = None
) -> None:
    """Save weights in a framework's names, as kind (default: the file name's suffix).

    pytorch: .npz, .safetensors, .pt/.pth (a state_dict that nn.LSTM or
    nn.GRU.load_state_dict takes; a reverse-only layer or peepholes only in .npz and
    .safetensors, under lstm-trace's own names). keras: .npz (Keras variable paths),
    .weights.h5 (model.load_weights on a Sequential of LSTM, GRU or Bidirectional layers; a
    GRU's with the same reset_after), .safetensors. onnx: .onnx (a model of one LSTM or GRU
    node per layer, onnx_write.py). What cannot be written is refused
    (check_writable) before the file is touched.
    """
    kind = suffix_of(path) if kind is None else kind
    _check_kind(str(path), framework, kind)
    check_writable(path, weights.config, framework, kind, FileError)
    plan(path)
    require_writer(kind)
    entry = KINDS[kind]
    if entry.write_weights is not None:  # .onnx: a model of the weights themselves
        entry.write_weights(path, weights)
        return
    if framework == "pytorch":
        assert entry.write_named is not None  # every kind PyTorch's names are written in
        entry.write_named(path, weights.to_pytorch())
        return
    layers = _to_keras(weights)
    if entry.write_layers is not None:
        entry.write_layers(path, layers)
    else:
        assert entry.write_named is not None
        entry.write_named(path, keras_names(layers))


def _to_keras(weights: LSTMWeights) -> list[KerasLayer]:
    try:
        return to_keras(weights)
    except ConfigError as exc:
        raise FileError(exc.message) from None
