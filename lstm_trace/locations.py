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


def weight_locations(
    config: LSTMConfig, layer: int = 0, direction: int = 0
) -> list[dict[str, str]]:
    """For every walkthrough weight of one layer and direction (an index into
    config.directions): where it lives in PyTorch, Keras and ONNX (no b_* rows for a layer
    without biases)."""
    return config.kind.locations(config, layer, config.directions[direction])


def tensor_counts(config: LSTMConfig) -> dict[str, list[dict[str, Any]]]:
    """Every tensor each framework stores, with its shape and count (the counts' breakdown,
    from the same shapes the counts are summed from); no bias tensors without biases, an
    empty list where the framework has no such layer."""
    cell = config.kind
    missing = cell.unsupported(config)
    out: dict[str, list[dict[str, Any]]] = {"pytorch": [], "keras": [], "onnx": []}
    for k in range(config.num_layers):
        shapes = {
            "pytorch": cell.pytorch_shapes(config, k),
            "keras": cell.keras_shapes(config, k),
            "onnx": cell.onnx_shapes(config, k),
        }
        for d, direction in enumerate(config.directions):
            for framework, tensors in shapes.items():
                if framework in missing:
                    continue
                for name, shape in tensors.items():
                    out[framework].append(_count(_name(framework, name, k, d, direction), shape))
    return out


def _name(framework: str, name: str, layer: int, d: int, direction: str) -> str:
    """weight_ih_l0_reverse (PyTorch); 'layer 0 backward kernel' (Keras); 'layer 0 W[1]'
    (ONNX, one node per layer: its direction's index in the node's D axis)."""
    if framework == "pytorch":
        return pytorch_name(name, layer, direction)
    if framework == "keras":
        return f"layer {layer} {direction} {name}"
    return f"layer {layer} {name}[{d}]"


def _count(name: str, shape: tuple[int, ...]) -> dict[str, Any]:
    return {"name": name, "shape": list(shape), "count": int(np.prod(shape))}


def return_shapes(config: LSTMConfig) -> dict[str, Any]:
    """What each framework returns for this configuration (None where it has no such layer;
    a reverse-only layer is PyTorch's backward half of a bidirectional one), and which h_n
    index is which. Keras returns a go_backwards sequence in reading order: its output[:, s]
    is lstm-trace's output[:, T-1-s]."""
    t, d, h, h_out = config.seq_len, config.num_directions, config.hidden_size, config.h_out
    n = config.batch or 1
    states = d * config.num_layers
    lstm = bool(config.kind.carried)
    batched = config.batch is not None
    missing = config.kind.unsupported(config)
    pytorch: dict[str, Any] | None = None
    if "pytorch" not in missing:
        pytorch = {
            "output (batch_first=True)": [n, t, d * h_out],
            "output (batch_first=False)": [t, n, d * h_out],
            "output (unbatched input)": [t, d * h_out],
            "h_n": [states, n, h_out] if batched else [states, h_out],
        }
        if lstm:
            pytorch["c_n"] = [states, n, h] if batched else [states, h]
    keras: dict[str, Any] | None = None
    if "keras" not in missing:
        per = ["h", "c"] if lstm else ["h"]
        names = [f"{w} {s}" for w in ("forward", "backward") for s in per]
        keras = {
            "output (return_sequences=True)": [n, t, d * h],
            "output (return_sequences=False)": [n, d * h],
            "states (return_state=True)": [[n, h]] * (len(per) * d),
            "states order": (", ".join(names) if config.bidirectional else ", ".join(per))
            + " (of the last layer)",
        }
        if config.direction == "reverse":
            keras["output (go_backwards=True)"] = "in reading order, t = T-1 first"
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
