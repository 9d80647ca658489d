"""Where each walkthrough weight lives in PyTorch, Keras and ONNX: the rows and columns of a
gate, every stored tensor with its count, and what each framework returns. The tables
``--frameworks`` shows and the JSON document's ``frameworks`` object; pure functions of the
configuration (the layouts themselves are described in frameworks.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .config import LSTMConfig
from .frameworks import ONNX_GATE_ORDER
from .weights import DIRECTIONS, GATE_ORDER, WALKTHROUGH_GATES, pytorch_fields, pytorch_name


def gate_slice(gate: str, hidden: int, order: tuple[str, ...] = GATE_ORDER) -> str:
    """'f', 70 -> '70:140': the rows (PyTorch) or columns (Keras) of a gate in 4H."""
    k = order.index(gate)
    return f"{k * hidden}:{(k + 1) * hidden}"


def weight_locations(
    config: LSTMConfig, layer: int = 0, direction: int = 0
) -> list[dict[str, str]]:
    """For W_f ... b_o of one layer and direction: where it lives in PyTorch, Keras and ONNX
    (no b_* rows for a layer without biases)."""
    h = config.hidden_size
    ih, hh = pytorch_name("w_ih", layer, direction), pytorch_name("w_hh", layer, direction)
    bih, bhh = pytorch_name("b_ih", layer, direction), pytorch_name("b_hh", layer, direction)
    d = str(direction)
    rows = []
    for g in WALKTHROUGH_GATES:
        s, o = gate_slice(g, h), gate_slice(g, h, ONNX_GATE_ORDER)
        o_bias = gate_slice(g, h, ONNX_GATE_ORDER)
        o_lo, o_hi = (int(v) for v in o_bias.split(":"))
        rows.append(
            {
                "name": f"W_{g}",
                "pytorch": f"[{hh}[{s}] | {ih}[{s}]]",
                "keras": f"[recurrent_kernel[:, {s}].T | kernel[:, {s}].T]",
                "onnx": f"[R[{d}, {o}] | W[{d}, {o}]]",
            }
        )
        if not config.bias:
            continue
        rows.append(
            {
                "name": f"b_{g}",
                "pytorch": f"{bih}[{s}] + {bhh}[{s}]",
                "keras": f"bias[{s}]",
                "onnx": f"B[{d}, {o}] + B[{d}, {o_lo + 4 * h}:{o_hi + 4 * h}]",
            }
        )
    if config.proj_size:
        rows.append(
            {
                "name": "W_hr",
                "pytorch": pytorch_name("w_hr", layer, direction),
                "keras": "none (Keras has no projection)",
                "onnx": "none (ONNX LSTM has no projection)",
            }
        )
    return rows


def tensor_counts(config: LSTMConfig) -> dict[str, list[dict[str, Any]]]:
    """Every stored tensor per framework with its shape and count (the counts' breakdown);
    no bias tensors without biases."""
    h, h_out = config.hidden_size, config.h_out
    pytorch: list[dict[str, Any]] = []
    keras: list[dict[str, Any]] = []
    for k in range(config.num_layers):
        i = config.layer_input_size(k)
        for d in range(config.num_directions):
            shapes = {
                "w_ih": (4 * h, i),
                "w_hh": (4 * h, h_out),
                "b_ih": (4 * h,),
                "b_hh": (4 * h,),
                "w_hr": (h_out, h),
            }
            for field in pytorch_fields(config):
                pytorch.append(_count(pytorch_name(field, k, d), shapes[field]))
            if not config.proj_size:
                where = f"layer {k} {DIRECTIONS[d]} "
                keras += [
                    _count(where + "kernel", (i, 4 * h)),
                    _count(where + "recurrent_kernel", (h, 4 * h)),
                ]
                if config.bias:
                    keras.append(_count(where + "bias", (4 * h,)))
    return {"pytorch": pytorch, "keras": keras}


def _count(name: str, shape: tuple[int, ...]) -> dict[str, Any]:
    return {"name": name, "shape": list(shape), "count": int(np.prod(shape))}


def return_shapes(config: LSTMConfig) -> dict[str, Any]:
    """What each framework returns for this configuration, and which h_n index is which."""
    t, d, h, h_out = config.seq_len, config.num_directions, config.hidden_size, config.h_out
    n = config.batch or 1
    states = d * config.num_layers
    pytorch = {
        "output (batch_first=True)": [n, t, d * h_out],
        "output (batch_first=False)": [t, n, d * h_out],
        "output (unbatched input)": [t, d * h_out],
        "h_n": [states, n, h_out] if config.batch is not None else [states, h_out],
        "c_n": [states, n, h] if config.batch is not None else [states, h],
    }
    keras: dict[str, Any] | None
    if config.proj_size:
        keras = None
    else:
        keras = {
            "output (return_sequences=True)": [n, t, d * h],
            "output (return_sequences=False)": [n, d * h],
            "states (return_state=True)": ([[n, h]] * 4 if config.bidirectional else [[n, h]] * 2),
            "states order": (
                "forward h, forward c, backward h, backward c (of the last layer)"
                if config.bidirectional
                else "h, c (of the last layer)"
            ),
        }
    index = [
        {"index": k * d + di, "layer": k, "direction": DIRECTIONS[di]}
        for k in range(config.num_layers)
        for di in range(d)
    ]
    return {"pytorch": pytorch, "keras": keras, "h_n_index": index}


def frameworks_dict(config: LSTMConfig) -> dict[str, Any]:
    """Where every weight lives in PyTorch, Keras and ONNX; counts per tensor; return shapes."""
    locations = [
        {"layer": k, "direction": DIRECTIONS[d], **row}
        for k in range(config.num_layers)
        for d in range(config.num_directions)
        for row in weight_locations(config, k, d)
    ]
    return {
        "gate_order": {"pytorch": "i f g o", "keras": "i f c o", "onnx": "i o f c"},
        "locations": locations,
        "tensors": tensor_counts(config),
        "returns": return_shapes(config),
    }
