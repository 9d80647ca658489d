"""Where each walkthrough weight lives in PyTorch, Keras and ONNX: the rows and columns of a
gate, every stored tensor with its count, and what each framework returns. The tables
``--frameworks`` shows and the JSON document's ``frameworks`` object; pure functions of the
configuration. The layouts themselves are the cell's (cells/: Cell.locations, keras_shapes).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .cells.base import pytorch_name
from .config import LSTMConfig
from .weights import pytorch_fields


def weight_locations(
    config: LSTMConfig, layer: int = 0, direction: int = 0
) -> list[dict[str, str]]:
    """For every walkthrough weight of one layer and direction (an index into
    config.directions): where it lives in PyTorch, Keras and ONNX (no b_* rows for a layer
    without biases)."""
    return config.kind.locations(config, layer, config.directions[direction])


def tensor_counts(config: LSTMConfig) -> dict[str, list[dict[str, Any]]]:
    """Every stored tensor per framework with its shape and count (the counts' breakdown);
    no bias tensors without biases, no Keras list where Keras has no such layer."""
    pytorch: list[dict[str, Any]] = []
    keras: list[dict[str, Any]] = []
    cell = config.kind
    for k in range(config.num_layers):
        shapes = cell.stored(config, k)
        keras_shapes = cell.keras_shapes(config, k)
        for direction in config.directions:
            if config.kind.counts(config).pytorch is not None:
                for field in pytorch_fields(config):
                    pytorch.append(_count(pytorch_name(field, k, direction), shapes[field]))
            for name, shape in (keras_shapes or {}).items():
                keras.append(_count(f"layer {k} {direction} {name}", shape))
    return {"pytorch": pytorch, "keras": keras}


def _count(name: str, shape: tuple[int, ...]) -> dict[str, Any]:
    return {"name": name, "shape": list(shape), "count": int(np.prod(shape))}


def return_shapes(config: LSTMConfig) -> dict[str, Any]:
    """What each framework returns for this configuration, and which h_n index is which."""
    t, d, h, h_out = config.seq_len, config.num_directions, config.hidden_size, config.h_out
    n = config.batch or 1
    states = d * config.num_layers
    lstm = bool(config.kind.carried)
    batched = config.batch is not None
    pytorch: dict[str, Any] = {
        "output (batch_first=True)": [n, t, d * h_out],
        "output (batch_first=False)": [t, n, d * h_out],
        "output (unbatched input)": [t, d * h_out],
        "h_n": [states, n, h_out] if batched else [states, h_out],
    }
    if lstm:
        pytorch["c_n"] = [states, n, h] if batched else [states, h]
    keras: dict[str, Any] | None = None
    if config.kind.keras_shapes(config, 0) is not None:
        per = ["h", "c"] if lstm else ["h"]
        names = [f"{w} {s}" for w in ("forward", "backward") for s in per]
        keras = {
            "output (return_sequences=True)": [n, t, d * h],
            "output (return_sequences=False)": [n, d * h],
            "states (return_state=True)": [[n, h]] * (len(per) * d),
            "states order": (", ".join(names) if config.bidirectional else ", ".join(per))
            + " (of the last layer)",
        }
    index = [
        {"index": k * d + di, "layer": k, "direction": name}
        for k in range(config.num_layers)
        for di, name in enumerate(config.directions)
    ]
    return {"pytorch": pytorch, "keras": keras, "h_n_index": index}


def frameworks_dict(config: LSTMConfig) -> dict[str, Any]:
    """Where every weight lives in PyTorch, Keras and ONNX; counts per tensor; return shapes."""
    locations = [
        {"layer": k, "direction": name, **row}
        for k in range(config.num_layers)
        for d, name in enumerate(config.directions)
        for row in weight_locations(config, k, d)
    ]
    return {
        "gate_order": gate_orders(config),
        "locations": locations,
        "tensors": tensor_counts(config),
        "returns": return_shapes(config),
    }


def gate_orders(config: LSTMConfig) -> dict[str, str]:
    """Each framework's order of the gate blocks, in its own letters (the cell's orders)."""
    return dict(config.kind.orders)
