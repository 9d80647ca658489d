"""The walkthrough's weights and the outputs' shapes, as a configuration implies them."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import LSTMConfig


@dataclass(frozen=True)
class Parameter:
    """A weight in the walkthrough's notation: W_f (H, H_out + I_k), b_f (H,), W_hr (H_out, H),
    the GRU's W_r, W_in, b_hn, ... (the cell's parameters)."""

    name: str
    layer: int
    direction: str
    shape: tuple[int, ...]

    @property
    def count(self) -> int:
        return int(np.prod(self.shape))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "layer": self.layer,
            "direction": self.direction,
            "shape": list(self.shape),
            "count": self.count,
        }


def parameters(config: LSTMConfig) -> list[Parameter]:
    """Every weight of the walkthrough's notation, per layer and direction, as the cell names
    them (LSTM: W_f ... W_o, b_f ... b_o unless config.bias is False, p_f, p_i, p_o with
    peepholes, W_hr with a projection). A new list each call, of the config's cached ones."""
    return list(_parameters(config))


@functools.lru_cache(maxsize=64)  # a frozen config: every trace of it asks again
def _parameters(config: LSTMConfig) -> tuple[Parameter, ...]:
    return tuple(
        Parameter(name, k, direction, shape)
        for k in range(config.num_layers)
        for direction in config.directions
        for name, shape in config.kind.parameters(config, k)
    )


def output_shapes(config: LSTMConfig) -> dict[str, tuple[int, ...]]:
    """output (B, T, D*H_out) or (T, D*H_out); h_n (D*L, [B,] H_out); an LSTM's c_n
    (D*L, [B,] H)."""
    b = () if config.batch is None else (config.batch,)
    states = config.num_directions * config.num_layers
    shapes = {
        "output": (*b, config.seq_len, config.output_size),
        "h_n": (states, *b, config.h_out),
    }
    if config.kind.carried:
        shapes["c_n"] = (states, *b, config.hidden_size)
    return shapes
