"""Framework conventions: PyTorch and Keras names and layouts, for every cell.

Pure functions over arrays; reading files is reading.py's job, writing them writing.py's.

- PyTorch nn.LSTM: weight_ih_l{k} (4H, I_k), weight_hh_l{k} (4H, H_out), bias_ih_l{k} and
  bias_hh_l{k} (4H), weight_hr_l{k} (H_out, H) with proj_size; '_reverse' marks the backward
  direction; gate order i, f, g, o. nn.LSTM(bias=False) has no bias_* at all.
- Keras LSTM: kernel (I_k, 4H), recurrent_kernel (H, 4H), bias (4H), gate order i, f, c, o:
  the same order as PyTorch, so converting is a transpose, and PyTorch's two biases become
  their sum. Keras has no projection. LSTM(use_bias=False) has no bias variable.
- ONNX LSTM: W (D, 4H, I), R (D, 4H, H), B (D, 8H), gate order i, o, f, c.
- PyTorch nn.GRU: the same names, 3H rows r, z, n. Keras GRU: kernel (I_k, 3H) and
  recurrent_kernel (H, 3H) with columns z, r, h; bias (2, 3H) with reset_after=True (row 0
  the input biases, row 1 the recurrent ones), (3H,) with reset_after=False.

Each cell's gates know their Keras position (cells/: Gate.keras), so one column permutation
converts either cell.

Where each walkthrough weight lives in each framework (the tables --frameworks shows) is
locations.py's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .cells import Cell, cell_of
from .cells.base import FloatArray, pytorch_name
from .config import LSTMConfig
from .errors import ConfigError
from .formats.layer_kinds import keras_cell, keras_reset_after
from .weights import DirectionWeights, LSTMWeights, pytorch_fields

KERAS_FIELDS: tuple[str, ...] = ("kernel", "recurrent_kernel", "bias")

_PT_KEY = re.compile(r"^(weight|bias)_(ih|hh|hr|peep)_l(\d+)(_reverse)?$")


@dataclass(frozen=True)
class Architecture:
    """What a weights file says about the LSTM; None where it cannot say (Keras dtype never)."""

    input_size: int
    hidden_size: int
    num_layers: int
    direction: str  # 'uni', 'bi' or 'reverse'
    proj_size: int
    dtype: str | None
    bias: bool = True  # False: no layer has a bias (bias=False, use_bias=False)
    cell: str = "lstm"
    reset_after: bool = True  # a GRU's (Keras reset_after; PyTorch's is always True)
    peepholes: bool = False

    def as_options(self) -> dict[str, Any]:
        """The architecture as LSTMConfig fields (dtype None: the file does not say)."""
        return asdict(self)

    def config(self, dtype: str | None = None) -> LSTMConfig:
        """The file's own configuration: in dtype if given, else the file's, else float32
        (the other fields, T and the batch, LSTMConfig's defaults)."""
        options = self.as_options()
        return LSTMConfig(**{**options, "dtype": dtype or options["dtype"] or LSTMConfig.dtype})


def _float_dtype(arrays: Mapping[str, NDArray[Any]]) -> str | None:
    kinds = {np.asarray(a).dtype for a in arrays.values()}
    if kinds == {np.dtype(np.float64)}:
        return "float64"
    if kinds == {np.dtype(np.float32)}:
        return "float32"
    return None


def infer_pytorch(state: Mapping[str, NDArray[Any]], cell: str = "lstm") -> Architecture:
    """The architecture of an nn.LSTM or nn.GRU state_dict (cell says which; names already
    stripped of any prefix). Only _reverse keys: a reverse-only layer (lstm-trace's own
    files; nn.LSTM has none)."""
    gates = cell_of(cell).n_gates
    layers: set[int] = set()
    for key in state:
        m = _PT_KEY.match(key)
        if not m:
            raise ConfigError(
                f"unexpected tensor {key!r} in a PyTorch {cell_of(cell).title} state_dict"
            )
        layers.add(int(m.group(3)))
    n = max(layers) + 1
    if layers != set(range(n)):
        raise ConfigError(f"layers {sorted(layers)} are not numbered 0 to {n - 1}")
    suffix = "" if "weight_ih_l0" in state else "_reverse"  # a reverse-only layer's
    if f"weight_ih_l0{suffix}" not in state:
        raise ConfigError("no weight_ih_l0: not a PyTorch recurrent layer's state_dict")
    w = np.asarray(state[f"weight_ih_l0{suffix}"])
    hh = np.shape(state.get(f"weight_hh_l0{suffix}", ()))
    rows = int(hh[0]) if len(hh) == 2 else 0  # G*H, as weight_hh_l0 says
    if w.ndim != 2 or w.shape[0] % gates or (rows and w.shape[0] != rows):
        want = (
            f"({rows}, input), as weight_hh_l0's {rows} rows"
            if rows
            else f"({gates}*hidden, input)"
        )
        raise ConfigError(f"weight_ih_l0: expected shape {want}, got {w.shape}")
    hr = state.get(f"weight_hr_l0{suffix}")
    if hr is not None and np.ndim(hr) != 2:
        raise ConfigError(f"weight_hr_l0: expected shape (proj, hidden), got {np.shape(hr)}")
    return Architecture(
        input_size=int(w.shape[1]),
        hidden_size=int(w.shape[0]) // gates,
        num_layers=n,
        direction=_pytorch_direction(state),
        proj_size=0 if hr is None else int(np.asarray(hr).shape[0]),
        dtype=_float_dtype(state),
        bias=_pytorch_bias(state, cell_of(cell).title),
        cell=cell,
        peepholes=any(k.startswith("weight_peep_") for k in state),
    )


def _pytorch_direction(state: Mapping[str, NDArray[Any]]) -> str:
    """'bi' with both names, 'reverse' with _reverse names only, else 'uni'."""
    backward = any(k.endswith("_reverse") for k in state)
    forward = any(not k.endswith("_reverse") for k in state)
    return ("bi" if forward else "reverse") if backward else "uni"


def _pytorch_bias(state: Mapping[str, NDArray[Any]], title: str = "LSTM") -> bool:
    """True when every layer and direction has bias_ih and bias_hh, False when none has any
    (bias=False); a mix is refused: nn.LSTM never makes one."""
    present = {k for k in state if k.startswith("bias_")}
    if not present:
        return False
    wanted = {
        k.replace("weight_ih", f"bias_{part}")
        for k in state
        if k.startswith("weight_ih_l")
        for part in ("ih", "hh")
    }  # the same for nn.GRU
    missing = sorted(wanted - present)
    if missing:
        raise ConfigError(
            f"some layers have biases and others not (missing {', '.join(missing)}); nn.{title} "
            "has bias_ih and bias_hh in every layer and direction, or none with bias=False"
        )
    return True


def from_pytorch(state: Mapping[str, NDArray[Any]], config: LSTMConfig) -> LSTMWeights:
    """LSTMWeights from an nn.LSTM or nn.GRU state_dict, checking every name and shape; one
    saved with bias=False (config.bias False) has no bias_* keys and gets zero biases, which
    the pass adds and nothing reports."""
    dtype = np.dtype(config.dtype)
    expected = {
        pytorch_name(f, k, d)
        for k in range(config.num_layers)
        for d in config.directions
        for f in pytorch_fields(config)
    }
    missing, extra = expected - set(state), set(state) - expected
    if missing or extra:
        parts = (
            f"missing {', '.join(sorted(missing))}" if missing else "",
            f"unexpected {', '.join(sorted(extra))}" if extra else "",
        )
        raise ConfigError(
            "state_dict does not match the configuration: " + "; ".join(p for p in parts if p)
        )
    layers = []
    for k in range(config.num_layers):
        shapes = config.kind.stored(config, k)
        directions = []
        for d in config.directions:
            tensors = {
                f: np.zeros(shape, dtype=dtype)
                if f.startswith("b_") and not config.bias
                else np.asarray(state[pytorch_name(f, k, d)], dtype=dtype)
                for f, shape in shapes.items()
            }
            directions.append(DirectionWeights(**tensors, cell=config.cell))
        layers.append(tuple(directions))
    return LSTMWeights(config, tuple(layers))


def weights_from_pytorch(
    state_dict: Mapping[str, Any], config: LSTMConfig | None = None, module: str | None = None
) -> LSTMWeights:
    """Build LSTMWeights from an nn.LSTM (or, with config.cell 'gru', nn.GRU) state_dict.

    The values may be NumPy arrays or CPU torch tensors (``model.state_dict()`` as it is).
    config None: inferred from the names and shapes, as the command line does (a prefix such
    as 'encoder.lstm.' is found and dropped; the dtype is the tensors', float32 if mixed).
    With config.bias False the state_dict has no bias_* keys (bias=False), and the weights
    get zero biases. A state_dict of several modules needs module, the prefix of one
    ('decoder.gru')."""
    state = {k: _as_array(v) for k, v in state_dict.items()}
    if config is None:
        from .formats.named import one_module  # lazy: it imports this module

        found = one_module(state, module)  # nn.LSTM or nn.GRU, told by weight_hh's rows
        assert found.pytorch is not None
        state, config = found.pytorch, found.architecture.config()
    return from_pytorch(state, config)


def _as_array(value: Any) -> NDArray[Any]:
    """A NumPy array from an array or a torch tensor (detached and moved to the CPU first, so
    that parameters with requires_grad and tensors on a GPU are read too)."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


# --- Keras ------------------------------------------------------------------------------------

#: One Keras LSTM layer's variables per direction: [{kernel, recurrent_kernel, bias}, ...]
KerasLayer = list[dict[str, NDArray[Any]]]


def infer_keras(
    layers: list[KerasLayer], cell: str | None = None, reset_after: bool | None = None
) -> Architecture:
    """The architecture of stacked Keras LSTM or GRU (or Bidirectional) layers; cell None:
    told by the recurrent_kernel (H, G*H). A GRU's reset_after is the given one (a .keras
    config's), else it follows from its bias, (2, 3H) True or (3H,) False; a bias-free GRU
    that is not told is taken as reset_after=True (Keras's default)."""
    if not layers:
        raise ConfigError("no Keras LSTM or GRU weights found (no kernel, recurrent_kernel, bias)")
    found = keras_cell(layers)  # a SimpleRNN named, a mixed stack refused
    cell = found if cell is None else cell
    if cell != found:
        raise ConfigError(f"these are Keras {found.upper()} weights, not {cell.upper()} ones")
    kind = cell_of(cell)
    first = layers[0][0]
    kernel, recurrent = np.asarray(first["kernel"]), np.asarray(first["recurrent_kernel"])
    if kernel.ndim != 2 or kernel.shape[1] % kind.n_gates:
        raise ConfigError(
            f"kernel: expected shape (input, {kind.n_gates}*units), got {kernel.shape}"
        )
    units = [int(np.shape(layer[0]["recurrent_kernel"])[0]) for layer in layers]
    if len(set(units)) > 1:
        raise ConfigError(
            f"the Keras layers have different units ({', '.join(map(str, units))}); like "
            "nn.LSTM, lstm-trace traces stacks whose layers share one hidden size"
        )
    directions = {len(layer) for layer in layers}
    if len(directions) != 1:
        raise ConfigError("some Keras layers are bidirectional and others are not")
    biased = {"bias" in variables for layer in layers for variables in layer}
    if len(biased) != 1:
        raise ConfigError(
            "some Keras layers have a bias and others not (use_bias differs); like nn.LSTM, "
            "lstm-trace traces stacks whose layers all have biases or all have none"
        )
    has_reset = "reset_after" in kind.options  # only a GRU has the choice
    return Architecture(
        input_size=int(kernel.shape[0]),
        hidden_size=int(recurrent.shape[0]),
        num_layers=len(layers),
        direction="bi" if directions == {2} else "uni",
        proj_size=0,
        dtype=_float_dtype({k: v for layer in layers for d in layer for k, v in d.items()}),
        bias=biased == {True},
        cell=cell,
        reset_after=keras_reset_after(layers, units[0], reset_after) if has_reset else True,
    )


def _keras_rows(cell: Cell, hidden: int) -> NDArray[np.intp]:
    """The Keras columns of each PyTorch row: kernel[:, rows].T is w_ih (G*H, I)."""
    blocks = [np.arange(g.keras * hidden, (g.keras + 1) * hidden) for g in cell.gates]
    return np.concatenate(blocks)


def from_keras(layers: list[KerasLayer], config: LSTMConfig) -> LSTMWeights:
    """LSTMWeights from Keras variables: w_ih = kernel^T and w_hh = recurrent_kernel^T, the
    columns put in PyTorch's gate order. An LSTM's one bias (and a GRU's with
    reset_after=False) is b_ih, with b_hh = 0; a GRU's (2, 3H) bias is b_ih (row 0) and b_hh
    (row 1). With config.bias False (use_bias=False) both biases are zero."""
    h, dtype, cell = config.hidden_size, np.dtype(config.dtype), config.kind
    rows = _keras_rows(cell, h)
    out = []
    for k, layer in enumerate(layers):
        expect = cell.keras_shapes(config, k)
        directions = []
        for d, variables in enumerate(layer):
            where = f"layer {k} {config.directions[d]}"
            _check_keras(variables, expect, where, config.bias)
            bias = np.asarray(variables.get("bias", np.zeros(cell.n_gates * h)), dtype=dtype)
            b_ih, b_hh = (bias[0], bias[1]) if bias.ndim == 2 else (bias, np.zeros_like(bias))

            def rows_of(a: Any) -> FloatArray:
                taken: FloatArray = np.ascontiguousarray(np.asarray(a, dtype=dtype)[..., rows])
                return taken

            directions.append(
                DirectionWeights(
                    w_ih=np.ascontiguousarray(rows_of(variables["kernel"]).T),
                    w_hh=np.ascontiguousarray(rows_of(variables["recurrent_kernel"]).T),
                    b_ih=rows_of(b_ih),
                    b_hh=rows_of(b_hh),
                    cell=config.cell,
                )
            )
        out.append(tuple(directions))
    return LSTMWeights(config, tuple(out))


def _check_keras(
    variables: dict[str, NDArray[Any]], expect: dict[str, tuple[int, ...]], where: str, bias: bool
) -> None:
    if ("bias" in variables) != bias:
        has = "has a bias" if "bias" in variables else "has no bias (use_bias=False)"
        wanted = "with biases" if bias else "without biases"
        raise ConfigError(f"{where} {has}, but the layer is configured {wanted}")
    for name, shape in expect.items():
        got = np.shape(variables[name]) if name in variables else "missing"
        if got != shape:
            raise ConfigError(f"{where} {name}: expected shape {shape}, got {got}")


def to_keras(weights: LSTMWeights) -> list[KerasLayer]:
    """Keras variables per layer and direction, the columns in Keras's gate order. An LSTM's
    two biases are summed (and a GRU's with reset_after=False); a GRU with reset_after=True
    keeps both, as rows of its (2, 3H) bias. Without biases there is no bias variable, as in
    use_bias=False."""
    cfg = weights.config
    why = cfg.kind.unsupported(cfg).get("keras")
    if why:
        raise ConfigError(
            f"{why}; these weights cannot be converted to Keras",
            option="proj_size" if cfg.proj_size else None,
        )
    order = np.argsort(_keras_rows(cfg.kind, cfg.hidden_size))  # PyTorch rows of each column
    apart = cfg.kind.biases_apart(cfg)  # a (2, G*H) bias; else their sum
    out = []
    for layer in weights.layers:
        directions = []
        for w in layer:
            bias = np.stack([w.b_ih, w.b_hh]) if apart else w.b_ih + w.b_hh
            variables = {
                "kernel": np.ascontiguousarray(w.w_ih[order].T),
                "recurrent_kernel": np.ascontiguousarray(w.w_hh[order].T),
            }
            if cfg.bias:
                variables["bias"] = np.ascontiguousarray(bias[..., order])
            directions.append(variables)
        out.append(directions)
    return out


def to_torch(weights: LSTMWeights) -> Any:
    """A torch.nn.LSTM or nn.GRU (batch_first=True) holding these weights, for comparing
    with PyTorch. Refused (ConfigError) for what PyTorch cannot hold: peepholes, a GRU with
    reset_after=False, a reverse-only layer.

    Needs torch (an optional extra), imported here only; raises ImportError without it."""
    cfg = weights.config
    why = cfg.kind.unsupported(cfg).get("pytorch")
    if why is None and cfg.direction == "reverse":
        why = "PyTorch has no reverse-only layer (run a forward one on the flipped input)"
    if why:
        raise ConfigError(f"{why}; these weights have no torch module")
    import torch

    kwargs: dict[str, Any] = {"proj_size": cfg.proj_size} if cfg.proj_size else {}
    module = getattr(torch.nn, cfg.kind.title)(  # nn.LSTM or nn.GRU
        cfg.input_size,
        cfg.hidden_size,
        num_layers=cfg.num_layers,
        bidirectional=cfg.bidirectional,
        bias=cfg.bias,
        batch_first=True,
        dtype=getattr(torch, cfg.dtype),
        **kwargs,
    )
    module.load_state_dict({k: torch.from_numpy(v) for k, v in weights.to_pytorch().items()})
    return module
