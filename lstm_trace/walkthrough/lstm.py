"""The LSTM's walkthrough: concatenation, the four gates, the cell update, the output,
the parameter counts, and what peepholes, projection, stacking and both directions change.

Section 1 to 6 and 9 are the LSTM's own; 7, 8 and the totals are common.py's.
"""

from __future__ import annotations

from ..config import LSTMConfig
from ..weights import param_count
from . import common
from .common import n as _n


def _gate(cfg: LSTMConfig, g: str, width: int = 3) -> str:
    """'f_t = sigmoid(W_f X + b_f)     (70 x 102)(102) + (70) -> (70)': the cell's equation
    of gate g (without the bias for a layer that has none, with its peephole when set); the
    shapes column starts at the same place on every line (_pad), and width aligns the '='
    of lines shown together."""
    return common.with_shapes(_left(cfg, g, width), _pad(cfg), _shapes(cfg, g), width + 3)


def _shapes(cfg: LSTMConfig, g: str) -> str:
    """'(70 x 102)(102) + (70) -> (70)': the shapes of gate g's product, peephole and bias."""
    h, x = cfg.hidden_size, cfg.h_out + cfg.input_size
    bias_shape = f" + ({h})" if cfg.bias else ""
    peep_shape = f" + ({h}) * ({h})" if cfg.peepholes and g != "c" else ""
    return f"({h} x {x})({x}){peep_shape}{bias_shape} -> ({h})"


def _left(cfg: LSTMConfig, g: str, width: int = 4) -> str:
    """'f_t = sigmoid(W_f X + b_f)': the symbol and the cell's equation of gate g."""
    symbol, equation = cfg.kind.symbol_and_equation(cfg.kind.gate(g).name, 0, "forward", cfg)
    return f"{symbol.ljust(width)} = {equation}"


def _pad(cfg: LSTMConfig) -> int:
    """Where the shapes column starts: 31, or past the longest equation (with peepholes)
    when every line still fits; else 31, and the lines that do not fit have their shapes
    on a line of their own."""
    pad = max(31, *(len(_left(cfg, g)) + 2 for g in "fico"))
    fits = all(pad + len(_shapes(cfg, g)) <= common.CODE_WIDTH for g in "fico")
    return pad if fits else 31


def explain_lstm(cfg: LSTMConfig) -> str:
    """The walkthrough for cfg as Markdown: concatenation, gates, cell update, output,
    parameter counts, and what bidirectional, stacking and projection change."""
    i, h, p = cfg.input_size, cfg.hidden_size, cfg.proj_size
    h_out = cfg.h_out
    x = h_out + i
    gate_w = h * x
    b_f = f"b_f has {h}" if cfg.bias else "there is no b_f (this LSTM has no biases)"
    lines = [
        f"# The LSTM cell with input {i} and hidden {h}" + (f", projection {p}" if p else ""),
        "",
        f"At each step t the cell reads the input x_t ({i} numbers) and its own previous "
        f"output h_(t-1) ({h_out} numbers), and carries a cell state C_(t-1) ({h} numbers) "
        "from step to step.",
        "",
        "## 1. Concatenate the input and the previous output",
        "",
        "```text",
        f"X = [h_(t-1), x_t]        {h_out} + {i} = {x}",
        "```",
        "",
        f"Every gate looks at the same X of {x} numbers.",
        "",
        "## 2. The forget gate: what to keep of the old cell state",
        "",
        "```text",
        _gate(cfg, "f"),
        "```",
        "",
        f"W_f is {h} x {x} ({_n(gate_w)} weights) and {b_f}. The sigmoid squashes each "
        "of the {h} values into (0, 1): 1 keeps that unit of C_(t-1), 0 forgets it.".replace(
            "{h}", str(h)
        ),
        "",
        "## 3. The input gate and the candidate: what to write",
        "",
        "```text",
        _gate(cfg, "i", width=4),
        _gate(cfg, "c", width=4),
        "```",
        "",
        "The candidate C~_t proposes new values in (-1, 1); the input gate i_t, in (0, 1), "
        "decides how much of each to write.",
        "",
        "## 4. The cell update",
        "",
        "```text",
        f"C_t = f_t * C_(t-1) + i_t * C~_t     ({h}) * ({h}) + ({h}) * ({h}) -> ({h})",
        "```",
        "",
        "The products are element by element: no weights here, only the gates acting on the "
        "state. This additive path is what lets an LSTM carry information across many steps.",
        "",
        "## 5. The output gate and the new hidden state",
        "",
        "```text",
        _gate(cfg, "o"),
        "h_t = o_t * tanh(C_t)".ljust(_pad(cfg)) + f"({h}) * ({h}) -> ({h})",
        *(
            ["h_t = W_hr (o_t * tanh(C_t))".ljust(_pad(cfg)) + f"({p} x {h})({h}) -> ({p})"]
            if p
            else []
        ),
        "```",
        "",
        "Note the tanh in h_t = o_t * tanh(C_t): the cell state is squashed into (-1, 1) before "
        "the output gate scales it. PyTorch and Keras both compute it; some write-ups leave it "
        "out of the equation.",
        *_peepholes(cfg),
        "",
        *_counting(cfg),
        "",
        *common.bidirectional(cfg),
        "",
        *common.stacked(cfg, cfg.kind.parameters(cfg, 0)),
        "",
        *_projection(cfg),
        "",
        *common.total(cfg),
    ]
    return "\n".join(lines).rstrip() + "\n"


def _counting(cfg: LSTMConfig) -> list[str]:
    """Section 6: one layer's parameters, Keras's count and PyTorch's, with or without biases."""
    i, h, p = cfg.input_size, cfg.hidden_size, cfg.proj_size
    x = cfg.h_out + i
    gate_w = h * x
    count = param_count(LSTMConfig(input_size=i, hidden_size=h, proj_size=p, bias=cfg.bias))
    lines = ["## 6. Counting the parameters", "", "```text"]
    if not cfg.bias:
        lines += [
            f"one gate:   W ({h} x {x})      = {_n(gate_w)}",
            f"four gates: 4 x ({h} x {x})    = {_n(4 * gate_w)}",
            "```",
            "",
            "This LSTM has no biases (PyTorch bias=False, Keras use_bias=False), so the count "
            f"is the weights alone: {_n(4 * gate_w)}"
            + (
                f", and PyTorch adds W_hr ({p} x {h} = {_n(p * h)}): {_n(count.pytorch)}. "
                "Keras has no LSTM with a projection."
                if p
                else f", in Keras and in PyTorch. With biases Keras would add 4 x {h} and "
                f"PyTorch 2 x 4 x {h}."
            ),
        ]
        return lines
    keras_one = 4 * (gate_w + h)
    lines += [
        f"one gate:   W ({h} x {x}) + b ({h})  = {_n(gate_w)} + {h} = {_n(gate_w + h)}",
        f"four gates: 4 x ({h} x {x} + {h})     = {_n(keras_one)}",
        "```",
        "",
    ]
    if p:
        return [
            *lines,
            f"With the projection, PyTorch adds W_hr ({p} x {h} = {_n(p * h)}) and keeps two "
            f"biases, b_ih and b_hh, each 4 x {h}: {_n(keras_one)} + {_n(4 * h)} + "
            f"{_n(p * h)} = {_n(count.pytorch)}. Keras has no LSTM with a projection.",
        ]
    return [
        *lines,
        f"That is what Keras reports: {_n(keras_one)}. PyTorch reports "
        f"{_n(count.pytorch)}: it keeps two biases, b_ih and b_hh, each 4 x {h}, and adds "
        f"them, so it stores {_n(4 * h)} more numbers ({_n(keras_one)} + {_n(4 * h)}) that "
        "compute nothing a single bias could not.",
    ]


def _projection(cfg: LSTMConfig) -> list[str]:
    h, i = cfg.hidden_size, cfg.input_size
    p = cfg.proj_size or max(1, h // 2)
    lead = (
        f"This LSTM projects to {p}" if cfg.proj_size else f"With --proj {p} (PyTorch's proj_size)"
    )
    return [
        "## 9. Projection",
        "",
        f"{lead}: h_t = W_hr (o_t * tanh(C_t)) with W_hr of {p} x {h}, so h_t has {p} numbers "
        f"while C_t keeps {h}. X becomes {p} + {i} = {p + i}, each gate weight {h} x {p + i}; "
        f"h_n is (layers x directions, [batch,] {p}) and c_n stays {h} wide. Keras has no "
        "such layer.",
    ]


def _peepholes(cfg: LSTMConfig) -> list[str]:
    """A paragraph for an LSTM with peepholes: what the gates read of the cell state."""
    if not cfg.peepholes:
        return []
    sizes = dict(cfg.kind.parameters(cfg, 0))
    (h,) = sizes["p_f"]
    onnx = param_count(cfg).onnx
    return [
        "",
        "This LSTM has peepholes (ONNX's P): the forget and input gates also read the old "
        "cell state, + p_f * C_(t-1) and + p_i * C_(t-1), and the output gate the new one, "
        f"+ p_o * C_t. Each p is a vector of {h}, multiplied entry by entry, so the peepholes "
        f"add 3 x {h} = {_n(3 * h)} parameters per layer and direction: ONNX counts "
        f"{_n(onnx)} for this configuration. PyTorch's nn.LSTM and Keras's LSTM have no "
        "peepholes; the counts below give what they would report for the same LSTM without.",
    ]
