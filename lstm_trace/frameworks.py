"""Framework conventions: PyTorch and Keras names, layouts, counts and return values.

Pure functions over arrays; reading files is reading.py's job, writing them writing.py's.

- PyTorch nn.LSTM: weight_ih_l{k} (4H, I_k), weight_hh_l{k} (4H, H_out), bias_ih_l{k} and
  bias_hh_l{k} (4H), weight_hr_l{k} (H_out, H) with proj_size; '_reverse' marks the backward
  direction; gate order i, f, g, o. nn.LSTM(bias=False) has no bias_* at all.
- Keras LSTM: kernel (I_k, 4H), recurrent_kernel (H, 4H), bias (4H), gate order i, f, c, o:
  the same order as PyTorch, so converting is a transpose, and PyTorch's two biases become
  their sum. Keras has no projection. LSTM(use_bias=False) has no bias variable.
- ONNX LSTM: W (D, 4H, I), R (D, 4H, H), B (D, 8H), gate order i, o, f, c.

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

from .config import LSTMConfig
from .errors import ConfigError
from .weights import (
    DIRECTIONS,
    DirectionWeights,
    LSTMWeights,
)

ONNX_GATE_ORDER: tuple[str, ...] = ("i", "o", "f", "c")
KERAS_FIELDS: tuple[str, ...] = ("kernel", "recurrent_kernel", "bias")

_PT_KEY = re.compile(r"^(weight|bias)_(ih|hh|hr)_l(\d+)(_reverse)?$")


@dataclass(frozen=True)
class Architecture:
    """What a weights file says about the LSTM; None where it cannot say (Keras dtype never)."""

    input_size: int
    hidden_size: int
    num_layers: int
    bidirectional: bool
    proj_size: int
    dtype: str | None
    bias: bool = True  # False: no layer has a bias (bias=False, use_bias=False)

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


def strip_pytorch_prefix(state: Mapping[str, NDArray[Any]]) -> dict[str, NDArray[Any]]:
    """Find the nn.LSTM inside a larger state_dict ('encoder.lstm.weight_ih_l0' -> prefix).

    A bare nn.LSTM state_dict is returned as is, an nn.LSTMCell's under nn.LSTM's names
    (weight_ih -> weight_ih_l0). Several LSTMs are ambiguous: refused, listed. A GRU or RNN
    without an LSTM is named (layer_kinds.pick_pytorch_lstm, which also lists what is left out).
    """
    from .formats.layer_kinds import pick_pytorch_lstm

    return pick_pytorch_lstm(state).state


def infer_pytorch(state: Mapping[str, NDArray[Any]]) -> Architecture:
    """The architecture of an nn.LSTM state_dict (names already stripped of any prefix)."""
    layers: set[int] = set()
    for key in state:
        m = _PT_KEY.match(key)
        if not m:
            raise ConfigError(f"unexpected tensor {key!r} in a PyTorch LSTM state_dict")
        layers.add(int(m.group(3)))
    n = max(layers) + 1
    if layers != set(range(n)):
        raise ConfigError(f"layers {sorted(layers)} are not numbered 0 to {n - 1}")
    w = np.asarray(state["weight_ih_l0"])
    hh = np.shape(state.get("weight_hh_l0", ()))
    rows = int(hh[0]) if len(hh) == 2 else 0  # 4H, as weight_hh_l0 says
    if w.ndim != 2 or w.shape[0] % 4 or (rows and w.shape[0] != rows):
        want = f"({rows}, input), as weight_hh_l0's {rows} rows" if rows else "(4*hidden, input)"
        raise ConfigError(f"weight_ih_l0: expected shape {want}, got {w.shape}")
    hr = state.get("weight_hr_l0")
    if hr is not None and np.ndim(hr) != 2:
        raise ConfigError(f"weight_hr_l0: expected shape (proj, hidden), got {np.shape(hr)}")
    return Architecture(
        input_size=int(w.shape[1]),
        hidden_size=int(w.shape[0]) // 4,
        num_layers=n,
        bidirectional=any(k.endswith("_reverse") for k in state),
        proj_size=0 if hr is None else int(np.asarray(hr).shape[0]),
        dtype=_float_dtype(state),
        bias=_pytorch_bias(state),
    )


def _pytorch_bias(state: Mapping[str, NDArray[Any]]) -> bool:
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
    }
    missing = sorted(wanted - present)
    if missing:
        raise ConfigError(
            f"some layers have biases and others not (missing {', '.join(missing)}); nn.LSTM has "
            "bias_ih and bias_hh in every layer and direction, or none with bias=False"
        )
    return True


def from_pytorch(state: Mapping[str, NDArray[Any]], config: LSTMConfig) -> LSTMWeights:
    """LSTMWeights from an nn.LSTM state_dict; one saved with bias=False (config.bias False)
    has no bias_* keys and gets zero biases, which the pass adds and nothing reports."""
    from .weights import weights_from_pytorch

    return weights_from_pytorch(state, config)


# --- Keras ------------------------------------------------------------------------------------

#: One Keras LSTM layer's variables per direction: [{kernel, recurrent_kernel, bias}, ...]
KerasLayer = list[dict[str, NDArray[Any]]]


def infer_keras(layers: list[KerasLayer]) -> Architecture:
    """The architecture of stacked Keras LSTM (or Bidirectional(LSTM)) layers."""
    if not layers:
        raise ConfigError("no Keras LSTM weights found (no kernel, recurrent_kernel, bias)")
    from .formats.layer_kinds import keras_kind_error

    not_lstm = keras_kind_error(layers)  # a GRU or SimpleRNN, by its recurrent_kernel
    if not_lstm is not None:
        raise ConfigError(not_lstm)
    first = layers[0][0]
    kernel, recurrent = np.asarray(first["kernel"]), np.asarray(first["recurrent_kernel"])
    if kernel.ndim != 2 or kernel.shape[1] % 4:
        raise ConfigError(f"kernel: expected shape (input, 4*units), got {kernel.shape}")
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
    return Architecture(
        input_size=int(kernel.shape[0]),
        hidden_size=int(recurrent.shape[0]),
        num_layers=len(layers),
        bidirectional=directions == {2},
        proj_size=0,
        dtype=_float_dtype({k: v for layer in layers for d in layer for k, v in d.items()}),
        bias=biased == {True},
    )


def from_keras(layers: list[KerasLayer], config: LSTMConfig) -> LSTMWeights:
    """LSTMWeights from Keras variables: w_ih = kernel^T, w_hh = recurrent_kernel^T,
    b_ih = bias, b_hh = 0 (Keras keeps one bias, the sum of PyTorch's two). With config.bias
    False (use_bias=False) there is no bias variable, and both biases are zero."""
    h, dtype = config.hidden_size, np.dtype(config.dtype)
    out = []
    for k, layer in enumerate(layers):
        directions = []
        for d, variables in enumerate(layer):
            where = f"layer {k} {DIRECTIONS[d]}"
            expect = {
                "kernel": (config.layer_input_size(k), 4 * h),
                "recurrent_kernel": (h, 4 * h),
                "bias": (4 * h,),
            }
            if ("bias" in variables) != config.bias:
                has = "has a bias" if "bias" in variables else "has no bias (use_bias=False)"
                wanted = "with biases" if config.bias else "without biases"
                raise ConfigError(f"{where} {has}, but the LSTM is configured {wanted}")
            for name, shape in expect.items():
                if name == "bias" and not config.bias:
                    continue
                got = np.shape(variables[name]) if name in variables else "missing"
                if got != shape:
                    raise ConfigError(f"{where} {name}: expected shape {shape}, got {got}")
            bias = np.asarray(variables.get("bias", np.zeros(4 * h)), dtype=dtype)
            directions.append(
                DirectionWeights(
                    w_ih=np.ascontiguousarray(np.asarray(variables["kernel"], dtype=dtype).T),
                    w_hh=np.ascontiguousarray(
                        np.asarray(variables["recurrent_kernel"], dtype=dtype).T
                    ),
                    b_ih=bias,
                    b_hh=np.zeros_like(bias),
                )
            )
        out.append(tuple(directions))
    return LSTMWeights(config, tuple(out))


def to_keras(weights: LSTMWeights) -> list[KerasLayer]:
    """Keras variables per layer and direction; PyTorch's two biases are summed. Without
    biases there is no bias variable, as in LSTM(use_bias=False)."""
    if weights.config.proj_size:
        raise ConfigError(
            "Keras has no LSTM with a projection (proj_size); these weights cannot be converted",
            option="proj_size",
        )
    bias = weights.config.bias
    return [
        [
            {
                "kernel": np.ascontiguousarray(w.w_ih.T),
                "recurrent_kernel": np.ascontiguousarray(w.w_hh.T),
                **({"bias": w.b_ih + w.b_hh} if bias else {}),
            }
            for w in layer
        ]
        for layer in weights.layers
    ]


def to_torch(weights: LSTMWeights) -> Any:
    """A torch.nn.LSTM (batch_first=True) holding these weights, for comparing with PyTorch.

    Needs torch (an optional extra), imported here only; raises ImportError without it."""
    import torch

    cfg = weights.config
    lstm = torch.nn.LSTM(
        cfg.input_size,
        cfg.hidden_size,
        num_layers=cfg.num_layers,
        bidirectional=cfg.bidirectional,
        proj_size=cfg.proj_size,
        bias=cfg.bias,
        batch_first=True,
        dtype=getattr(torch, cfg.dtype),
    )
    lstm.load_state_dict({k: torch.from_numpy(v) for k, v in weights.to_pytorch().items()})
    return lstm
