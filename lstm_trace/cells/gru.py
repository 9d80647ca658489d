"""The GRU: its gates, hook points, equations, parameters and counts.

Per layer, direction and step t (notation: ARCHITECTURE.md), with X = [h_(t-1), x_t]:

    r_t  = sigmoid(W_r X + b_r)                         (B, H)  the reset gate
    z_t  = sigmoid(W_z X + b_z)                         (B, H)  the update gate
    rh_t = r_t * (W_hn h_(t-1) + b_hn)                  (B, H)  what the reset gate lets in
    n_t  = tanh(W_in x_t + b_in + rh_t)                 (B, H)  the candidate
    h_t  = (1 - z_t) * n_t + z_t * h_(t-1)              (B, H)

as PyTorch's nn.GRU and Keras's GRU(reset_after=True) compute it. Keras's reset_after=False
resets h_(t-1) before the product instead: rh_t = r_t * h_(t-1) and n_t = tanh(W_n [rh_t,
x_t] + b_n), which PyTorch cannot express. Stored as nn.GRU stores it: w_ih (3H, I_k), w_hh
(3H, H), b_ih, b_hh (3H,), rows in the gate order r, z, n; W_r = [w_hh[r] | w_ih[r]], b_r =
b_ih[r] + b_hh[r], and the same for z; W_in = w_ih[n], W_hn = w_hh[n], b_in = b_ih[n] and
b_hn = b_hh[n] stay apart because b_hn sits inside the reset gate's product (with
reset_after=False, b_n = b_in + b_hn). Keras orders the columns z, r, h, as does ONNX. The
arithmetic, laid out for speed, is in gru_loop.py.
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
from .gru_loop import GRURunner

if TYPE_CHECKING:
    from ..config import LSTMConfig


class GRUCell(Cell):
    name = "gru"
    title = "GRU"
    gates = (
        Gate("reset_gate", "r", "r_t", "sigmoid", keras=1, onnx=1),
        Gate("update_gate", "z", "z_t", "sigmoid", keras=0, onnx=0),
        Gate("candidate", "n", "n_t", "tanh", keras=2, onnx=2),
    )
    #: each framework's order of the gate blocks, in its own letters
    orders: ClassVar[dict[str, str]] = {"pytorch": "r z n", "keras": "z r h", "onnx": "z r h"}
    report_order = ("reset_gate", "update_gate", "candidate")
    hook_points = (
        "x",
        "h_prev",
        "concat",
        "reset_gate",
        "update_gate",
        "reset_hidden",
        "candidate",
        "hidden_state",
    )
    options = ("reset_after",)
    previous: ClassVar[dict[str, str]] = {"h_prev": "hidden_state"}
    carried = ()

    def validate(self, config: LSTMConfig) -> None:
        for option, on, what in (
            ("proj_size", config.proj_size, "projection (proj_size)"),
            ("peepholes", config.peepholes, "peepholes"),
        ):
            if on:
                raise ConfigError(f"a GRU has no {what}; that is an LSTM option", option=option)

    def point_size(self, name: str, layer: int, config: LSTMConfig) -> int:
        """I_k for x, H + I_k for concat, H for the rest."""
        i = config.layer_input_size(layer)
        return {"x": i, "concat": config.hidden_size + i}.get(name, config.hidden_size)

    def symbol_and_equation(
        self, name: str, layer: int, direction: str, config: LSTMConfig
    ) -> tuple[str, str]:
        """Backward reads its state from t+1."""
        prev = "t+1" if direction == "backward" else "t-1"
        if name == "x":
            return x_equation(layer, config)
        b = " + b_{}" if config.bias else ""
        if config.reset_after:
            reset = f"r_t * (W_hn h_({prev}){b.format('hn')})"
            candidate = f"tanh(W_in x_t{b.format('in')} + rh_t)"
        else:
            reset = f"r_t * h_({prev})"
            candidate = f"tanh(W_n [rh_t, x_t]{b.format('n')})"
        table = {
            "h_prev": (f"h_({prev})", f"h_t of step {prev}; zeros (or h0) at first"),
            "concat": ("X", f"[h_({prev}), x_t]"),
            "reset_gate": ("r_t", f"sigmoid(W_r X{b.format('r')})"),
            "update_gate": ("z_t", f"sigmoid(W_z X{b.format('z')})"),
            "reset_hidden": ("rh_t", reset),
            "candidate": ("n_t", candidate),
            "hidden_state": ("h_t", f"(1 - z_t) * n_t + z_t * h_({prev})"),
        }
        return table[name]

    def parameters(self, config: LSTMConfig, layer: int) -> list[tuple[str, tuple[int, ...]]]:
        """W_r, W_z (H, H + I_k), b_r, b_z (H,); the candidate's W_in (H, I_k), W_hn (H, H),
        b_in, b_hn (H,), or with reset_after=False W_n (H, H + I_k) and b_n (H,)."""
        h, i = config.hidden_size, config.layer_input_size(layer)
        out: list[tuple[str, tuple[int, ...]]] = [("W_r", (h, h + i)), ("W_z", (h, h + i))]
        out += [("W_in", (h, i)), ("W_hn", (h, h))] if config.reset_after else [("W_n", (h, h + i))]
        if config.bias:
            out += [("b_r", (h,)), ("b_z", (h,))]
            out += [("b_in", (h,)), ("b_hn", (h,))] if config.reset_after else [("b_n", (h,))]
        return out

    def stored(self, config: LSTMConfig, layer: int) -> dict[str, tuple[int, ...]]:
        rows = 3 * config.hidden_size
        return {
            "w_ih": (rows, config.layer_input_size(layer)),
            "w_hh": (rows, config.hidden_size),
            "b_ih": (rows,),
            "b_hh": (rows,),
        }

    def locations(self, config: LSTMConfig, layer: int, direction: str) -> list[dict[str, str]]:
        """W_r, W_z as the LSTM's gates; the candidate's W_in = w_ih[n] and W_hn = w_hh[n]
        apart (Keras: kernel and recurrent_kernel columns h; ONNX: W and R of h, its order
        z, r, h), or with reset_after=False W_n = [w_hh[n] | w_ih[n]], which PyTorch has not.
        Keras's reset_after=True bias is (2, 3H): row 0 the input biases, row 1 the
        recurrent ones; reset_after=False keeps one (3H,)."""
        h, after = config.hidden_size, config.reset_after
        name = {f: pytorch_name(f, layer, direction) for f in ("w_ih", "w_hh", "b_ih", "b_hh")}
        d = "1" if direction == "backward" and config.bidirectional else "0"
        no_torch = "none (PyTorch has no reset_after=False)"
        places: dict[str, tuple[str, ...]] = {}
        for gate in self.gates:
            s = gate_slice(self.gates.index(gate), h)
            k, o, o_r = (
                gate_slice(gate.keras, h),
                gate_slice(gate.onnx, h),
                gate_slice(gate.onnx, h, 3 * h),
            )
            pt_w = f"[{name['w_hh']}[{s}] | {name['w_ih']}[{s}]]"
            k_w = f"[recurrent_kernel[:, {k}].T | kernel[:, {k}].T]"
            on_w = f"[R[{d}, {o}] | W[{d}, {o}]]"
            pt_b = f"{name['b_ih']}[{s}] + {name['b_hh']}[{s}]"
            k_b = f"bias[0, {k}] + bias[1, {k}]" if after else f"bias[{k}]"
            on_b = f"B[{d}, {o}] + B[{d}, {o_r}]"
            if gate.letter != "n":
                places[f"W_{gate.letter}"], places[f"b_{gate.letter}"] = (
                    (pt_w, k_w, on_w),
                    (pt_b, k_b, on_b),
                )
            elif after:
                places["W_in"] = (f"{name['w_ih']}[{s}]", f"kernel[:, {k}].T", f"W[{d}, {o}]")
                places["W_hn"] = (
                    f"{name['w_hh']}[{s}]",
                    f"recurrent_kernel[:, {k}].T",
                    f"R[{d}, {o}]",
                )
                places["b_in"] = (f"{name['b_ih']}[{s}]", f"bias[0, {k}]", f"B[{d}, {o}]")
                places["b_hn"] = (f"{name['b_hh']}[{s}]", f"bias[1, {k}]", f"B[{d}, {o_r}]")
            else:
                places["W_n"], places["b_n"] = (no_torch, k_w, on_w), (no_torch, k_b, on_b)
        return [
            {"name": n, "pytorch": places[n][0], "keras": places[n][1], "onnx": places[n][2]}
            for n, _ in self.parameters(config, layer)
        ]

    def keras_shapes(self, config: LSTMConfig, layer: int) -> dict[str, tuple[int, ...]]:
        """kernel (I_k, 3H), recurrent_kernel (H, 3H), bias (2, 3H), or (3H,) with
        reset_after=False."""
        h = config.hidden_size
        shapes: dict[str, tuple[int, ...]] = {
            "kernel": (config.layer_input_size(layer), 3 * h),
            "recurrent_kernel": (h, 3 * h),
        }
        if not config.bias:
            return shapes
        return {**shapes, "bias": (2, 3 * h) if config.reset_after else (3 * h,)}

    def cell_unsupported(self, config: LSTMConfig) -> dict[str, str]:
        if config.reset_after:
            return {}
        why = "PyTorch's nn.GRU resets after the recurrent product, this GRU before it"
        return {"pytorch": why}

    def digest_line(self, config: LSTMConfig) -> str:
        return f"cell gru{'' if config.reset_after else ' reset_before'}\n"

    def parameter_of(self, config: LSTMConfig, field: str, row: int) -> str:
        letter = self.gates[row // config.hidden_size].letter
        kind = "W" if field.startswith("w") else "b"
        if letter != "n":
            return f"{kind}_{letter}"
        return f"{kind}_{field[2]}n" if config.reset_after else f"{kind}_n"  # W_in, b_hn

    def bias_note(self, config: LSTMConfig) -> str:
        if config.reset_after:
            return (
                "PyTorch, Keras (reset_after=True, a (2, 3H) bias) and ONNX all keep two biases, "
                "because b_hn sits inside the reset gate's product; the walkthrough's b_r and "
                f"b_z are sums of two, so they store 2 x {config.hidden_size} more per layer "
                "and direction"
            )
        return "Keras's reset_after=False keeps one bias, b_n = b_in + b_hn"

    def onnx_shapes(self, config: LSTMConfig, layer: int) -> dict[str, tuple[int, ...]]:
        """W (3H, I_k), R (3H, H), B (6H,): ONNX keeps both biases in either form
        (linear_before_reset 1 is reset_after=True, 0 is False). GRU(32 -> 70): 21,840."""
        h = config.hidden_size
        shapes: dict[str, tuple[int, ...]] = {
            "W": (3 * h, config.layer_input_size(layer)),
            "R": (3 * h, h),
        }
        return {**shapes, "B": (6 * h,)} if config.bias else shapes

    def runner(self, config: LSTMConfig, w: Any, seq: FloatArray, out: FloatArray) -> Runner:
        return GRURunner(w, seq, out, config.reset_after)

    def reference_step(
        self,
        config: LSTMConfig,
        w: Any,
        x: FloatArray,
        h: FloatArray,
        states: tuple[FloatArray, ...],
    ) -> tuple[FloatArray, tuple[FloatArray, ...], dict[str, FloatArray]]:
        x, h = np.asarray(x, dtype=np.float64), np.asarray(h, dtype=np.float64)
        hs = w.hidden_size
        w_ih, w_hh = (np.asarray(a, dtype=np.float64) for a in (w.w_ih, w.w_hh))
        b_ih, b_hh = (np.asarray(a, dtype=np.float64) for a in (w.b_ih, w.b_hh))
        gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh  # (B, 3H) each, rows r, z, n
        r = sigmoid(gi[:, :hs] + gh[:, :hs])
        z = sigmoid(gi[:, hs : 2 * hs] + gh[:, hs : 2 * hs])
        if config.reset_after:
            rh = r * gh[:, 2 * hs :]
            n = np.tanh(gi[:, 2 * hs :] + rh)
        else:
            rh = r * h
            n = np.tanh(gi[:, 2 * hs :] + rh @ w_hh[2 * hs :].T + b_hh[2 * hs :])
        hidden = (1 - z) * n + z * h
        values = {
            "x": x, "h_prev": h, "concat": np.concatenate([h, x], axis=1), "reset_gate": r,
            "update_gate": z, "reset_hidden": rh, "candidate": n, "hidden_state": hidden,
        }  # fmt: skip
        return hidden, (), values


GRU = GRUCell()
