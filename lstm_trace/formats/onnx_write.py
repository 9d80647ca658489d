"""Weights written as an ONNX model: one LSTM or GRU node per layer, the weights as
initializers, that onnxruntime (or any ONNX runtime) runs.

The graph, opset 17 (IR version 8), for L layers of D directions, hidden size H:

    input (T, B, I) -> LSTM/GRU 'lstm_l0' -> Y (T, D, B, H) -> between -> ... -> output
    between: D = 1: Squeeze(axes=[1])                  -> (T, B, H)
             D = 2: Transpose(perm=[0, 2, 1, 3]), Reshape([0, 0, -1]) -> (T, B, 2H)
    h_n = Concat(Y_h of every layer) (L*D, B, H), and c_n = Concat(Y_c) for an LSTM

as torch.onnx.export writes nn.LSTM and nn.GRU, so that output, h_n and c_n are PyTorch's
(sequence first). T and B are left free ('seq', 'batch'). Each node's W (D, G*H, I), R (D, G*H,
H) and B (D, 2*G*H) = [b_ih, b_hh] hold the gate blocks in ONNX's order (LSTM i, o, f, c; GRU
z, r, h), P (D, 3H) the peepholes in the order i, o, f; without biases there is no B (ONNX
then adds none). A GRU's reset_after is linear_before_reset 1 (True) or 0 (False). ONNX's
LSTM has no projection: such weights are refused before the file is touched (writing.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import FileError
from ..weights import LSTMWeights
from .file_limits import optional
from .onnx_read import PEEP_ORDER
from .targets import atomic_open

OPSET = 17
IR_VERSION = 8
ONNX_DIRECTION = {"uni": "forward", "reverse": "reverse", "bi": "bidirectional"}


def write_onnx(path: Path, weights: LSTMWeights) -> None:
    """An .onnx model of these weights (module docstring), written atomically."""
    model = onnx_model(weights)
    try:
        data = model.SerializeToString()
    except ValueError as exc:  # protobuf refuses a message over 2 GB
        raise FileError(f"{path}: cannot write it as one ONNX file ({exc})") from None
    with atomic_open(path) as f:
        f.write(data)


def onnx_arrays(weights: LSTMWeights, layer: int) -> dict[str, NDArray[Any]]:
    """W, R, B (with biases), P (with peepholes) of one layer, in ONNX's layout."""
    cfg = weights.config
    kind = cfg.kind
    # ONNX's block p holds the PyTorch gate whose ONNX position is p
    order = [j for p in range(kind.n_gates) for j, g in enumerate(kind.gates) if g.onnx == p]

    def blocks(a: NDArray[Any], positions: Any) -> NDArray[Any]:
        parts = np.split(np.asarray(a), len(positions))
        return np.concatenate([parts[k] for k in positions])

    directions = weights.layers[layer]
    out = {
        "W": np.stack([blocks(w.w_ih, order) for w in directions]),
        "R": np.stack([blocks(w.w_hh, order) for w in directions]),
    }
    if cfg.bias:
        out["B"] = np.stack(
            [np.concatenate([blocks(w.b_ih, order), blocks(w.b_hh, order)]) for w in directions]
        )
    if cfg.peepholes:
        peeps = [w.w_peep for w in directions]
        assert all(p is not None for p in peeps)
        out["P"] = np.stack([blocks(p, PEEP_ORDER) for p in peeps if p is not None])
    return {k: np.ascontiguousarray(v) for k, v in out.items()}


def onnx_model(weights: LSTMWeights) -> Any:
    """The ModelProto of the weights: one node per layer, chained (module docstring)."""
    onnx = optional("onnx", "writing .onnx files")
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    cfg = weights.config
    op = cfg.kind.title  # 'LSTM' or 'GRU'
    elem = onnx.TensorProto.DOUBLE if cfg.dtype == "float64" else onnx.TensorProto.FLOAT
    d, h = cfg.num_directions, cfg.hidden_size
    nodes: list[Any] = []
    shape = ([1], "squeeze_axes") if d == 1 else ([0, 0, -1], "merge_directions")
    inits: list[Any] = [numpy_helper.from_array(np.array(shape[0], dtype=np.int64), shape[1])]
    x = "input"
    finals: dict[str, list[str]] = {"Y_h": [], "Y_c": []}
    for k in range(cfg.num_layers):
        name = f"{cfg.kind.name}_l{k}"
        arrays = onnx_arrays(weights, k)
        inits += [numpy_helper.from_array(v, f"{name}.{key}") for key, v in arrays.items()]
        inputs = [x] + [f"{name}.{key}" if key in arrays else "" for key in ("W", "R", "B")]
        if "P" in arrays:
            inputs += ["", "", "", f"{name}.P"]  # sequence_lens, initial_h, initial_c, P
        outputs = [f"{name}.Y", f"{name}.Y_h"] + ([f"{name}.Y_c"] if op == "LSTM" else [])
        attrs: dict[str, Any] = {"hidden_size": h, "direction": ONNX_DIRECTION[cfg.direction]}
        if op == "GRU":
            attrs["linear_before_reset"] = int(cfg.reset_after)
        nodes.append(helper.make_node(op, inputs, outputs, name=name, **attrs))
        x = "output" if k == cfg.num_layers - 1 else f"{name}.out"
        nodes += _between(helper, name, f"{name}.Y", x, d)
        finals["Y_h"].append(f"{name}.Y_h")
        if op == "LSTM":
            finals["Y_c"].append(f"{name}.Y_c")
    for key, out in (("Y_h", "h_n"), ("Y_c", "c_n")):
        if finals[key]:
            nodes.append(helper.make_node("Concat", finals[key], [out], name=out, axis=0))
    info = helper.make_tensor_value_info
    outputs = [info("output", elem, ["seq", "batch", d * h])]
    outputs += [info(o, elem, [cfg.num_layers * d, "batch", h])
                for o in ("h_n", "c_n") if o == "h_n" or op == "LSTM"]  # fmt: skip
    graph = helper.make_graph(
        nodes,
        f"lstm_trace_{cfg.kind.name}",
        [info("input", elem, ["seq", "batch", cfg.input_size])],
        outputs,
        initializer=inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="lstm-trace"
    )
    model.ir_version = IR_VERSION
    return model


def _between(helper: Any, name: str, y: str, out: str, directions: int) -> list[Any]:
    """Y (T, D, B, H) -> (T, B, D*H), as the next layer (or nn.LSTM's output) has it."""
    if directions == 1:
        return [helper.make_node("Squeeze", [y, "squeeze_axes"], [out], name=f"{name}.squeeze")]
    moved = f"{name}.Y_tbdh"
    return [
        helper.make_node("Transpose", [y], [moved], name=f"{name}.transpose", perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", [moved, "merge_directions"], [out], name=f"{name}.reshape"),
    ]
