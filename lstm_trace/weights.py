"""The canonical weights, seeded init and parameter counts, for every cell.

Weights are stored the way PyTorch stores them, because its layout is a superset of the others
(two biases, an optional projection): per layer k and direction, for a cell of G gates
(cells/: 4 for the LSTM, 3 for the GRU),

    w_ih (G*H, I_k), w_hh (G*H, H_out), b_ih (G*H), b_hh (G*H), w_hr (H_out, H) or None,
    w_peep (3H) or None (an LSTM's peepholes p_i, p_f, p_o),

with the gate blocks in PyTorch's order (LSTM i, f, g, o; GRU r, z, n). The walkthrough's
notation is derived from them: W_f = [w_hh[f] | w_ih[f]] acting on X = [h_(t-1), x_t], of
shape (H, H_out + I_k), and b_f = b_ih[f] + b_hh[f] of shape (H,).

A layer without biases (config.bias False: PyTorch bias=False, Keras use_bias=False) keeps
zero b_ih and b_hh here, so the forward pass stays one formula; nothing it exports (the
state_dict, the counts) has a bias.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .cells import Cell, ParamCount, cell_of
from .cells.base import FloatArray, pytorch_name
from .config import LSTMConfig
from .errors import ConfigError

#: every direction's name, in PyTorch's order (a layer runs config.directions of them)
DIRECTIONS: tuple[str, str] = ("forward", "backward")


# eq=False: arrays have no == to compare by (compared by identity)
@dataclass(frozen=True, eq=False)
class DirectionWeights:
    """One direction of one layer, PyTorch layout (gates i, f, g, o for an LSTM, r, z, n for
    a GRU: cell names which).

    w_ih: (G*H, I_k)   w_hh: (G*H, H_out)   b_ih, b_hh: (G*H,)   w_hr: (H_out, H) or None
    w_peep: (3H,) p_i, p_f, p_o, or None
    """

    w_ih: FloatArray
    w_hh: FloatArray
    b_ih: FloatArray
    b_hh: FloatArray
    w_hr: FloatArray | None = None
    w_peep: FloatArray | None = None
    cell: str = "lstm"

    @property
    def kind(self) -> Cell:
        return cell_of(self.cell)

    @property
    def hidden_size(self) -> int:
        return int(self.w_ih.shape[0]) // self.kind.n_gates

    def gate_rows(self, gate: str) -> slice:
        """The rows of a gate (its letter, 'i', or hook point, 'input_gate') in G*H."""
        h = self.hidden_size
        k = self.kind.gate_index(gate)
        return slice(k * h, (k + 1) * h)

    def gate_weight(self, gate: str) -> FloatArray:
        """W_gate = [w_hh[gate] | w_ih[gate]]: (H, H_out + I_k), acting on [h_(t-1), x_t]."""
        rows = self.gate_rows(gate)
        return np.concatenate([self.w_hh[rows], self.w_ih[rows]], axis=1)

    def gate_bias(self, gate: str) -> FloatArray:
        """b_gate = b_ih[gate] + b_hh[gate]: (H,). Keras keeps only this sum."""
        rows = self.gate_rows(gate)
        return self.b_ih[rows] + self.b_hh[rows]


# eq=False: arrays have no == to compare by (compared by identity)
@dataclass(frozen=True, eq=False)
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
        for k, layer in enumerate(self.layers):
            if len(layer) != cfg.num_directions:
                raise ConfigError(
                    f"layer {k}: expected {cfg.num_directions} directions, got {len(layer)}"
                )
            expected = cfg.kind.stored(cfg, k)
            for d, w in enumerate(layer):
                _check_direction(cfg, expected, k, d, w)

    def __iter__(self) -> Iterator[tuple[int, int, DirectionWeights]]:
        """Yield (layer, direction index, weights) in PyTorch's order."""
        for k, layer in enumerate(self.layers):
            for d, w in enumerate(layer):
                yield k, d, w

    def to_pytorch(self) -> dict[str, FloatArray]:
        """The weights as a PyTorch state_dict of NumPy arrays, nn.LSTM's or nn.GRU's names
        (no bias_* keys without biases, as bias=False has none). A layout PyTorch cannot
        load (peepholes, reset_after=False, a reverse-only layer) keeps the same names: it
        is lstm-trace's own file, which frameworks.to_torch refuses."""
        out: dict[str, FloatArray] = {}
        names = self.config.directions
        for k, d, w in self:
            for name in pytorch_fields(self.config):
                out[pytorch_name(name, k, names[d])] = getattr(w, name)
        return out


def _check_direction(
    cfg: LSTMConfig, expected: dict[str, tuple[int, ...]], k: int, d: int, w: DirectionWeights
) -> None:
    """One layer and direction's tensors against the cell's shapes (expected)."""
    where = f"layer {k} {cfg.directions[d]}"
    if w.cell != cfg.cell:
        raise ConfigError(f"{where}: {w.cell} weights in a {cfg.cell} configuration")
    for name in ("w_hr", "w_peep"):
        if (getattr(w, name) is None) != (name not in expected):
            need = "proj_size > 0" if name == "w_hr" else "peepholes"
            raise ConfigError(f"{pytorch_name(name, k, cfg.directions[d])}: present iff {need}")
    for name, shape in expected.items():
        got = getattr(w, name).shape
        if got != shape:
            raise ConfigError(
                f"{pytorch_name(name, k, cfg.directions[d])}: expected shape {shape}, got {got}"
            )
    if not cfg.bias and (w.b_ih.any() or w.b_hh.any()):
        raise ConfigError(f"{where}: non-zero biases in a layer without biases")


def pytorch_fields(config: LSTMConfig) -> tuple[str, ...]:
    """The tensors a layer and direction stores under PyTorch's names: w_ih, w_hh, b_ih and
    b_hh (unless bias=False), w_hr (with proj_size), w_peep (with peepholes, which nn.LSTM
    has not: lstm-trace's own name, weight_peep_l{k})."""
    return tuple(config.kind.pytorch_shapes(config, 0))


def init_weights(config: LSTMConfig, seed: int | None = None) -> LSTMWeights:
    """Seeded weights, drawn the way PyTorch initialises nn.LSTM: uniform in +-1/sqrt(H).

    Both biases are drawn too, so they are non-zero and different (equal or zero biases hide
    bugs). The numbers are drawn in float64 and cast, so float32 and float64 runs of the same
    seed use the same weights up to rounding. Without biases they are drawn all the same and
    set to zero, so a seed gives the same W_f ... W_hr with or without biases.
    """
    weight_seed = _seeds(config.seed if seed is None else seed)[0]
    rng = np.random.default_rng(weight_seed)
    h, dtype = config.hidden_size, np.dtype(config.dtype)
    bound = 1.0 / np.sqrt(h)

    def draw(*shape: int) -> FloatArray:
        return rng.uniform(-bound, bound, size=shape).astype(dtype)

    layers = []
    for k in range(config.num_layers):
        shapes = config.kind.stored(config, k)
        directions = []
        for _ in range(config.num_directions):
            drawn = {name: draw(*shape) for name, shape in shapes.items()}  # in this order
            if not config.bias:
                drawn["b_ih"], drawn["b_hh"] = (np.zeros_like(drawn[b]) for b in ("b_ih", "b_hh"))
            directions.append(DirectionWeights(**drawn, cell=config.cell))
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


@functools.lru_cache(maxsize=64)  # a frozen config: every trace of it asks again
def param_count(config: LSTMConfig) -> ParamCount:
    """Parameters per framework, as the cell counts them (cells/): LSTM(32, 70) is 28,840 in
    Keras and 29,120 in PyTorch and ONNX, 28,560 everywhere without biases; GRU(32 -> 70)
    is 21,840, and 21,630 in Keras with reset_after=False (which PyTorch cannot hold)."""
    return config.kind.counts(config)
