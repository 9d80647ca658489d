"""The LSTM: its gates, states, hook points, equations, parameters and counts.

Per layer, direction and step t (notation: ARCHITECTURE.md), with X = [h_(t-1), x_t]:

    i_t  = sigmoid(W_i X [+ p_i * C_(t-1)] + b_i)      (B, H)
    f_t  = sigmoid(W_f X [+ p_f * C_(t-1)] + b_f)      (B, H)
    C~_t = tanh(W_c X + b_c)                           (B, H)
    C_t  = f_t * C_(t-1) + i_t * C~_t                  (B, H)
    o_t  = sigmoid(W_o X [+ p_o * C_t] + b_o)          (B, H)
    h_t  = o_t * tanh(C_t)                             (B, H), then W_hr h_t (B, H_out)

The bracketed peephole terms are ONNX's P input and TensorFlow's peephole cells; the
projection W_hr is PyTorch's proj_size. Stored as PyTorch stores nn.LSTM: w_ih (4H, I_k),
w_hh (4H, H_out), b_ih, b_hh (4H,), rows in the gate order i, f, g (C~), o; w_hr (H_out, H);
and the peepholes as w_peep (3H,) in the order i, f, o. W_g = [w_hh[g] | w_ih[g]] and b_g =
b_ih[g] + b_hh[g]. Keras keeps the order i, f, c, o and one bias; ONNX i, o, f, c, and P in
the order i, o, f. The arithmetic, laid out for speed, is in lstm_loop.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..errors import ConfigError
from .base import (
    Cell,
    FloatArray,
    Gate,
    Runner,
    gate_slice,
    pytorch_name,
    sigmoid,
    x_equation,
)
from .lstm_loop import PEEPHOLE_ORDER, LSTMRunner

if TYPE_CHECKING:
    from ..config import LSTMConfig


class LSTMCell(Cell):
    name = "lstm"
    title = "LSTM"
    gates = (
        Gate("input_gate", "i", "i_t", "sigmoid", keras=0, onnx=0),
        Gate("forget_gate", "f", "f_t", "sigmoid", keras=1, onnx=2),
        Gate("candidate", "c", "C~_t", "tanh", keras=2, onnx=3),
        Gate("output_gate", "o", "o_t", "sigmoid", keras=3, onnx=1),
    )
    #: each framework's order of the gate blocks, in its own letters
    orders: ClassVar[dict[str, str]] = {"pytorch": "i f g o", "keras": "i f c o", "onnx": "i o f c"}
    report_order = ("forget_gate", "input_gate", "candidate", "output_gate")
    hook_points = (
        "x",
        "h_prev",
        "c_prev",
        "concat",
        "forget_gate",
        "input_gate",
        "candidate",
        "cell_state",
        "output_gate",
        "hidden_state",
    )
    options = ("proj_size", "peepholes")
    previous: ClassVar[dict[str, str]] = {"h_prev": "hidden_state", "c_prev": "cell_state"}
    carried = ("c_prev",)

    def validate(self, config: LSTMConfig) -> None:
        if not config.reset_after:
            raise ConfigError("reset_after is a GRU option; an LSTM has no reset gate",
                              option="reset_after")  # fmt: skip

    def point_size(self, name: str, layer: int, config: LSTMConfig) -> int:
        """I_k for x, H_out + I_k for concat, H_out for h_prev and hidden_state, H else."""
        i = config.layer_input_size(layer)
        sizes = {"x": i, "concat": config.h_out + i, "h_prev": config.h_out}
        return sizes.get(name, config.h_out if name == "hidden_state" else config.hidden_size)

    def symbol_and_equation(
        self, name: str, layer: int, direction: str, config: LSTMConfig
    ) -> tuple[str, str]:
        """Backward reads its state from t+1."""
        prev = "t+1" if direction == "backward" else "t-1"
        if name == "x":
            return x_equation(layer, config)
        b = " + b_{}" if config.bias else ""  # a layer without biases adds none
        peep = config.peepholes
        p_prev = " + p_{} * C_(" + prev + ")" if peep else ""
        table = {
            "h_prev": (f"h_({prev})", f"h_t of step {prev}; zeros (or h0) at first"),
            "c_prev": (f"C_({prev})", f"C_t of step {prev}; zeros (or c0) at first"),
            "concat": ("X", f"[h_({prev}), x_t]"),
            "forget_gate": ("f_t", f"sigmoid(W_f X{p_prev.format('f')}{b.format('f')})"),
            "input_gate": ("i_t", f"sigmoid(W_i X{p_prev.format('i')}{b.format('i')})"),
            "candidate": ("C~_t", f"tanh(W_c X{b.format('c')})"),
            "cell_state": ("C_t", f"f_t * C_({prev}) + i_t * C~_t"),
            "output_gate": (
                "o_t",
                f"sigmoid(W_o X{' + p_o * C_t' if peep else ''}{b.format('o')})",
            ),
            "hidden_state": (
                "h_t",
                "W_hr (o_t * tanh(C_t))" if config.proj_size else "o_t * tanh(C_t)",
            ),
        }
        return table[name]

    def parameters(self, config: LSTMConfig, layer: int) -> list[tuple[str, tuple[int, ...]]]:
        """W_f ... W_o (H, H_out + I_k); b_f ... b_o (H,) unless bias is off; p_f, p_i, p_o
        (H,) with peepholes; W_hr (H_out, H) with a projection."""
        h, x_size = config.hidden_size, config.h_out + config.layer_input_size(layer)
        order = [self.gate(g).letter for g in self.report_order]
        out: list[tuple[str, tuple[int, ...]]] = [(f"W_{g}", (h, x_size)) for g in order]
        if config.bias:
            out += [(f"b_{g}", (h,)) for g in order]
        if config.peepholes:
            out += [(f"p_{g}", (h,)) for g in ("f", "i", "o")]
        if config.proj_size:
            out.append(("W_hr", (config.h_out, h)))
        return out

    def stored(self, config: LSTMConfig, layer: int) -> dict[str, tuple[int, ...]]:
        h, rows = config.hidden_size, 4 * config.hidden_size
        shapes: dict[str, tuple[int, ...]] = {
            "w_ih": (rows, config.layer_input_size(layer)),
            "w_hh": (rows, config.h_out),
            "b_ih": (rows,),
            "b_hh": (rows,),
        }
        if config.proj_size:
            shapes["w_hr"] = (config.h_out, h)
        if config.peepholes:
            shapes["w_peep"] = (3 * h,)
        return shapes

    def locations(self, config: LSTMConfig, layer: int, direction: str) -> list[dict[str, str]]:
        """W_g = [w_hh[g] | w_ih[g]] (Keras: the kernels' columns, transposed; ONNX: R and
        W, in its order i, o, f, c), b_g = b_ih[g] + b_hh[g] (Keras's one bias; ONNX's B
        holds the input biases, then the recurrent ones), p_g in ONNX's P (order i, o, f)."""
        h = config.hidden_size
        name = {f: pytorch_name(f, layer, direction) for f in ("w_ih", "w_hh", "b_ih", "b_hh")}
        d = "1" if direction == "backward" and config.bidirectional else "0"
        rows = []
        for gate_name in self.report_order:
            gate = self.gate(gate_name)
            s = gate_slice(self.gates.index(gate), h)
            k, o = gate_slice(gate.keras, h), gate_slice(gate.onnx, h)
            rows.append(
                {
                    "name": f"W_{gate.letter}",
                    "pytorch": f"[{name['w_hh']}[{s}] | {name['w_ih']}[{s}]]",
                    "keras": f"[recurrent_kernel[:, {k}].T | kernel[:, {k}].T]",
                    "onnx": f"[R[{d}, {o}] | W[{d}, {o}]]",
                }
            )
            if config.bias:
                rows.append(
                    {
                        "name": f"b_{gate.letter}",
                        "pytorch": f"{name['b_ih']}[{s}] + {name['b_hh']}[{s}]",
                        "keras": f"bias[{k}]",
                        "onnx": f"B[{d}, {o}] + B[{d}, {gate_slice(gate.onnx, h, 4 * h)}]",
                    }
                )
        for letter in ("f", "i", "o") if config.peepholes else ():
            at = gate_slice(("i", "o", "f").index(letter), h)
            rows.append({"name": f"p_{letter}", "pytorch": "none (nn.LSTM has no peepholes)",
                         "keras": "none (Keras's LSTM has no peepholes)",
                         "onnx": f"P[{d}, {at}]"})  # fmt: skip
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

    def keras_shapes(self, config: LSTMConfig, layer: int) -> dict[str, tuple[int, ...]]:
        """kernel (I_k, 4H), recurrent_kernel (H, 4H), bias (4H,)."""
        h = config.hidden_size
        shapes: dict[str, tuple[int, ...]] = {
            "kernel": (config.layer_input_size(layer), 4 * h),
            "recurrent_kernel": (h, 4 * h),
        }
        return {**shapes, "bias": (4 * h,)} if config.bias else shapes

    def cell_unsupported(self, config: LSTMConfig) -> dict[str, str]:
        out: dict[str, str] = {}
        if config.peepholes:
            out["pytorch"] = "nn.LSTM has no peepholes"
            out["keras"] = "Keras's LSTM has no peepholes"
        if config.proj_size:
            out["keras"] = "Keras has no LSTM with a projection"
            out["onnx"] = "ONNX has no LSTM with a projection"
        return out

    def digest_line(self, config: LSTMConfig) -> str:
        return ""

    def parameter_of(self, config: LSTMConfig, field: str, row: int) -> str:
        h = config.hidden_size
        if field == "w_hr":
            return "W_hr"
        if field == "w_peep":
            return f"p_{PEEPHOLE_ORDER[row // h]}"
        kind = "W" if field.startswith("w") else "b"
        return f"{kind}_{self.gates[row // h].letter}"

    def bias_note(self, config: LSTMConfig) -> str:
        h, missing = config.hidden_size, self.unsupported(config)
        if "pytorch" in missing:  # peepholes: ONNX alone has the layer
            return f"ONNX's B keeps both biases, b_ih and b_hh: 8 x {h} per layer and direction"
        note = f"PyTorch's second bias b_hh adds 4 x {h} per layer and direction"
        return note if "keras" in missing else note + "; Keras keeps their sum"

    def onnx_shapes(self, config: LSTMConfig, layer: int) -> dict[str, tuple[int, ...]]:
        """W (4H, I_k), R (4H, H), B (8H,) (input biases, then recurrent ones), P (3H,) with
        peepholes: LSTM(32, 70) is 29,120 as in PyTorch, and 29,330 with peepholes."""
        h = config.hidden_size
        shapes: dict[str, tuple[int, ...]] = {
            "W": (4 * h, config.layer_input_size(layer)),
            "R": (4 * h, h),
        }
        if config.bias:
            shapes["B"] = (8 * h,)
        if config.peepholes:
            shapes["P"] = (3 * h,)
        return shapes

    def runner(self, config: LSTMConfig, w: Any, seq: FloatArray, out: FloatArray) -> Runner:
        return LSTMRunner(w, seq, out)

    def reference_step(
        self,
        config: LSTMConfig,
        w: Any,
        x: FloatArray,
        h: FloatArray,
        states: tuple[FloatArray, ...],
    ) -> tuple[FloatArray, tuple[FloatArray, ...], dict[str, FloatArray]]:
        (c,) = (np.asarray(s, dtype=np.float64) for s in states)
        x, h = np.asarray(x, dtype=np.float64), np.asarray(h, dtype=np.float64)
        concat = np.concatenate([h, x], axis=1)

        def pre(g: str) -> FloatArray:
            weight = np.asarray(w.gate_weight(g), dtype=np.float64)
            out: FloatArray = concat @ weight.T + np.asarray(w.gate_bias(g), dtype=np.float64)
            return out

        peep = {g: np.zeros(w.hidden_size) for g in PEEPHOLE_ORDER}
        if w.w_peep is not None:
            parts = np.split(np.asarray(w.w_peep, dtype=np.float64), 3)
            peep = dict(zip(PEEPHOLE_ORDER, parts, strict=True))
        f = sigmoid(pre("f") + peep["f"] * c)
        i = sigmoid(pre("i") + peep["i"] * c)
        g = np.tanh(pre("c"))
        cell = f * c + i * g
        o = sigmoid(pre("o") + peep["o"] * cell)
        hidden = o * np.tanh(cell)
        if w.w_hr is not None:
            hidden = hidden @ np.asarray(w.w_hr, dtype=np.float64).T
        values = {
            "x": x, "h_prev": h, "c_prev": c, "concat": concat, "forget_gate": f,
            "input_gate": i, "candidate": g, "cell_state": cell, "output_gate": o,
            "hidden_state": hidden,
        }  # fmt: skip
        return hidden, (cell,), values


LSTM = LSTMCell()
