"""The canonical weights, seeded init, parameter counts and framework conventions.

Weights are stored the way PyTorch stores them, because its layout is a superset of the others
(two biases, an optional projection): per layer k and direction,

    w_ih (4H, I_k), w_hh (4H, H_out), b_ih (4H), b_hh (4H), w_hr (H_out, H) or None,

with the four gate blocks in PyTorch's order i, f, g (the candidate, C~), o. The walkthrough's
notation is derived from them: W_f = [w_hh[f] | w_ih[f]] acting on X = [h_(t-1), x_t], of
shape (H, H_out + I_k), and b_f = b_ih[f] + b_hh[f] of shape (H,).

A layer without biases (config.bias False: PyTorch bias=False, Keras use_bias=False) keeps
zero b_ih and b_hh here, so the forward pass stays one formula; nothing it exports (the
state_dict, the counts) has a bias.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .config import LSTMConfig
from .errors import ConfigError

FloatArray = NDArray[np.floating]

DIRECTIONS: tuple[str, str] = ("forward", "backward")

#: PyTorch's gate order inside the 4H rows, by the walkthrough's gate letter.
GATE_ORDER: tuple[str, ...] = ("i", "f", "c", "o")
#: the walkthrough's order, used for display: forget, input, candidate, output.
WALKTHROUGH_GATES: tuple[str, ...] = ("f", "i", "c", "o")


@dataclass(frozen=True)
class DirectionWeights:
    """One direction of one layer, PyTorch layout, gates i, f, g, o.

    w_ih: (4H, I_k)   w_hh: (4H, H_out)   b_ih, b_hh: (4H,)   w_hr: (H_out, H) or None
    """

    w_ih: FloatArray
    w_hh: FloatArray
    b_ih: FloatArray
    b_hh: FloatArray
    w_hr: FloatArray | None = None

    @property
    def hidden_size(self) -> int:
        return int(self.w_ih.shape[0]) // 4

    def gate_rows(self, gate: str) -> slice:
        """The rows of gate ('i', 'f', 'c' or 'o') inside the 4H axis."""
        h = self.hidden_size
        k = GATE_ORDER.index(gate)
        return slice(k * h, (k + 1) * h)

    def gate_weight(self, gate: str) -> FloatArray:
        """W_gate = [w_hh[gate] | w_ih[gate]]: (H, H_out + I_k), acting on [h_(t-1), x_t]."""
        rows = self.gate_rows(gate)
        return np.concatenate([self.w_hh[rows], self.w_ih[rows]], axis=1)

    def gate_bias(self, gate: str) -> FloatArray:
        """b_gate = b_ih[gate] + b_hh[gate]: (H,). Keras keeps only this sum."""
        rows = self.gate_rows(gate)
        return self.b_ih[rows] + self.b_hh[rows]


@dataclass(frozen=True)
class LSTMWeights:
    """All weights of an LSTM: ``layers[k][d]`` is layer k, direction d (0 forward)."""

    config: LSTMConfig
    layers: tuple[tuple[DirectionWeights, ...], ...]

    def __post_init__(self) -> None:
        # Every shape is checked once here, so the forward pass can trust them.
        cfg = self.config
        if len(self.layers) != cfg.num_layers:
            raise ConfigError(
                f"expected {cfg.num_layers} layers of weights, got {len(self.layers)}"
            )
        h, h_out = cfg.hidden_size, cfg.h_out
        for k, layer in enumerate(self.layers):
            if len(layer) != cfg.num_directions:
                raise ConfigError(
                    f"layer {k}: expected {cfg.num_directions} directions, got {len(layer)}"
                )
            i = cfg.layer_input_size(k)
            for d, w in enumerate(layer):
                expected = {
                    "w_ih": (4 * h, i),
                    "w_hh": (4 * h, h_out),
                    "b_ih": (4 * h,),
                    "b_hh": (4 * h,),
                }
                for name, shape in expected.items():
                    got = getattr(w, name).shape
                    if got != shape:
                        raise ConfigError(
                            f"{pytorch_name(name, k, d)}: expected shape {shape}, got {got}"
                        )
                if not cfg.bias and (w.b_ih.any() or w.b_hh.any()):
                    raise ConfigError(
                        f"layer {k} {DIRECTIONS[d]}: non-zero biases in a layer without biases"
                    )
                if (w.w_hr is None) != (cfg.proj_size == 0):
                    raise ConfigError(f"{pytorch_name('w_hr', k, d)}: present iff proj_size > 0")
                if w.w_hr is not None and w.w_hr.shape != (h_out, h):
                    raise ConfigError(
                        f"{pytorch_name('w_hr', k, d)}: expected shape {(h_out, h)}, "
                        f"got {w.w_hr.shape}"
                    )

    def __iter__(self) -> Iterator[tuple[int, int, DirectionWeights]]:
        """Yield (layer, direction index, weights) in PyTorch's order."""
        for k, layer in enumerate(self.layers):
            for d, w in enumerate(layer):
                yield k, d, w

    def to_pytorch(self) -> dict[str, FloatArray]:
        """The weights as a PyTorch nn.LSTM state_dict of NumPy arrays (no bias_* keys
        without biases, as nn.LSTM(bias=False) has none)."""
        out: dict[str, FloatArray] = {}
        for k, d, w in self:
            for name in pytorch_fields(self.config):
                value = getattr(w, name)
                if value is not None:
                    out[pytorch_name(name, k, d)] = value
        return out


def pytorch_fields(config: LSTMConfig) -> tuple[str, ...]:
    """The tensors nn.LSTM stores per layer and direction: w_ih, w_hh, b_ih and b_hh (unless
    bias=False), w_hr (with proj_size)."""
    return (
        "w_ih",
        "w_hh",
        *(("b_ih", "b_hh") if config.bias else ()),
        *(("w_hr",) if config.proj_size else ()),
    )


def pytorch_name(field: str, layer: int, direction: int) -> str:
    """('w_ih', 1, 1) -> 'weight_ih_l1_reverse', as nn.LSTM names its parameters."""
    kind, part = field.split("_")
    base = f"{'weight' if kind == 'w' else 'bias'}_{part}_l{layer}"
    return base + ("_reverse" if direction == 1 else "")


def init_weights(config: LSTMConfig, seed: int | None = None) -> LSTMWeights:
    """Seeded weights, drawn the way PyTorch initialises nn.LSTM: uniform in +-1/sqrt(H).

    Both biases are drawn too, so they are non-zero and different (equal or zero biases hide
    bugs). The numbers are drawn in float64 and cast, so float32 and float64 runs of the same
    seed use the same weights up to rounding. Without biases they are drawn all the same and
    set to zero, so a seed gives the same W_f ... W_hr with or without biases.
    """
    weight_seed = _seeds(config.seed if seed is None else seed)[0]
    rng = np.random.default_rng(weight_seed)
    h, h_out, dtype = config.hidden_size, config.h_out, np.dtype(config.dtype)
    bound = 1.0 / np.sqrt(h)

    def draw(*shape: int) -> FloatArray:
        return rng.uniform(-bound, bound, size=shape).astype(dtype)

    layers = []
    for k in range(config.num_layers):
        i = config.layer_input_size(k)
        directions = []
        for _ in range(config.num_directions):
            w_ih, w_hh, b_ih, b_hh = draw(4 * h, i), draw(4 * h, h_out), draw(4 * h), draw(4 * h)
            if not config.bias:
                b_ih, b_hh = np.zeros_like(b_ih), np.zeros_like(b_hh)
            w_hr = draw(h_out, h) if config.proj_size else None
            directions.append(DirectionWeights(w_ih, w_hh, b_ih, b_hh, w_hr))
        layers.append(tuple(directions))
    return LSTMWeights(config, tuple(layers))


def init_input(config: LSTMConfig, seed: int | None = None) -> FloatArray:
    """A seeded standard-normal input, batch first: (B, T, I), or (T, I) when unbatched."""
    rng = np.random.default_rng(_seeds(config.seed if seed is None else seed)[1])
    batch = () if config.batch is None else (config.batch,)
    shape = (*batch, config.seq_len, config.input_size)
    return rng.standard_normal(shape).astype(config.dtype)


def _seeds(seed: int) -> list[np.random.SeedSequence]:
    # Independent streams for weights and input: changing T never changes the weights.
    return np.random.SeedSequence(seed).spawn(2)


def weights_from_pytorch(
    state_dict: Mapping[str, Any], config: LSTMConfig | None = None
) -> LSTMWeights:
    """Build LSTMWeights from an nn.LSTM state_dict, checking every name and shape.

    The values may be NumPy arrays or CPU torch tensors (``model.state_dict()`` as it is).
    config None: inferred from the names and shapes, as the command line does (a prefix such
    as 'encoder.lstm.' is found and dropped; the dtype is the tensors', float32 if mixed).
    With config.bias False the state_dict has no bias_* keys (nn.LSTM(bias=False)), and the
    weights get zero biases."""
    state_dict = {k: _as_array(v) for k, v in state_dict.items()}
    if config is None:
        from .frameworks import infer_pytorch, strip_pytorch_prefix

        state_dict = strip_pytorch_prefix(state_dict)
        config = infer_pytorch(state_dict).config()
    dtype = np.dtype(config.dtype)
    expected = {
        pytorch_name(f, k, d)
        for k in range(config.num_layers)
        for d in range(config.num_directions)
        for f in pytorch_fields(config)
    }
    missing, extra = expected - set(state_dict), set(state_dict) - expected
    if missing or extra:
        raise ConfigError(
            "state_dict does not match the configuration: "
            + "; ".join(
                part
                for part in (
                    f"missing {', '.join(sorted(missing))}" if missing else "",
                    f"unexpected {', '.join(sorted(extra))}" if extra else "",
                )
                if part
            )
        )
    layers = []
    for k in range(config.num_layers):
        directions = []
        for d in range(config.num_directions):

            def get(field: str, k: int = k, d: int = d) -> FloatArray:
                if field.startswith("b_") and not config.bias:
                    return np.zeros(4 * config.hidden_size, dtype=dtype)
                return np.asarray(state_dict[pytorch_name(field, k, d)], dtype=dtype)

            w_hr = get("w_hr") if config.proj_size else None
            directions.append(
                DirectionWeights(get("w_ih"), get("w_hh"), get("b_ih"), get("b_hh"), w_hr)
            )
        layers.append(tuple(directions))
    return LSTMWeights(config, tuple(layers))


def _as_array(value: Any) -> NDArray[Any]:
    """A NumPy array from an array or a torch tensor (detached and moved to the CPU first, so
    that parameters with requires_grad and tensors on a GPU are read too)."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


@dataclass(frozen=True)
class ParamCount:
    """Parameter counts as each framework reports them (None where it has no such layer)."""

    keras: int | None
    pytorch: int


def param_count(config: LSTMConfig) -> ParamCount:
    """Parameters per framework.

    Keras: 4 * (H * (I_k + H) + H) per layer and direction (one bias; no projection layer, so
    None when proj_size > 0). PyTorch: 4H * (I_k + H_out) + 2 * 4H (two biases) + H_out * H
    (W_hr) per layer and direction. LSTM(32, 70): Keras 28,840, PyTorch 29,120. Without
    biases both drop their bias terms: 4H * (I_k + H) each, 28,560 for LSTM(32, 70).
    """
    h, d = config.hidden_size, config.num_directions
    b = h if config.bias else 0  # Keras's one bias per gate
    # Keras: one bias; layers above the first read D * H (Keras has no projection)
    keras = d * 4 * (h * (config.input_size + h) + b)
    keras += (config.num_layers - 1) * d * 4 * (h * (d * h + h) + b)
    pytorch = config.weight_elements()
    return ParamCount(keras=None if config.proj_size else keras, pytorch=pytorch)
