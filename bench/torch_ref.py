"""The configs the benchmarks run, and torch.nn.LSTM / nn.GRU on the same weights and input
(torch optional: without it there is no reference run)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from shapes import Shape

from lstm_trace import LSTMConfig, init_input, init_weights
from lstm_trace.frameworks import to_torch


def takes(field: str) -> bool:
    """Whether this lstm-trace's LSTMConfig takes `field`: "cell" once it has the GRU."""
    return field in inspect.signature(LSTMConfig).parameters


def make_config(shape: Shape, cell: str | None = None) -> LSTMConfig:
    """The float32 config of a shape; cell None is the default cell, the LSTM. A version with
    the GRU says the direction as "bi" / "uni", an older one has `bidirectional`. Built from a
    dict so that it type-checks against either."""
    t, b, i, h, layers, bi = shape
    sizes: dict[str, Any] = {
        "input_size": i,
        "hidden_size": h,
        "seq_len": t,
        "batch": b,
        "num_layers": layers,
    }
    if takes("direction"):
        sizes["direction"] = "bi" if bi else "uni"
    else:
        sizes["bidirectional"] = bi
    if cell is not None:
        sizes["cell"] = cell
    return LSTMConfig(**sizes)


def torch_forward(cfg: LSTMConfig, threads: int) -> Callable[[], Any] | None:
    """torch.nn.LSTM (nn.GRU for a GRU's config) on the config's weights and input, as it runs
    by default (oneDNN's fused RNN primitive where it applies), on `threads` threads, without
    autograd. None without torch."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    module = to_torch(init_weights(cfg))
    xt = torch.from_numpy(init_input(cfg))

    def run() -> None:
        with torch.no_grad():
            module(xt)

    return run
