"""`lstm-trace explain`: the classic walkthrough, narrated with the user's own numbers.

Pure text (Markdown) built from an LSTMConfig; the command shows it rendered in the terminal
or prints it raw with --format markdown. Every number is computed here from the sizes.
"""

from __future__ import annotations

from .config import LSTMConfig
from .weights import param_count
from .words import counted


def _n(value: int | None) -> str:
    """12,345; 'none' where a framework has no such layer (its count is None)."""
    return "none" if value is None else f"{value:,}"


def _gate(cfg: LSTMConfig, g: str, fn: str, width: int = 3) -> str:
    """'f_t = sigmoid(W_f X + b_f)     (70 x 102)(102) + (70) -> (70)', without the bias
    for a layer that has none; the shapes column starts at the same place on every line, and
    width aligns the '=' of lines shown together."""
    h, x = cfg.hidden_size, cfg.h_out + cfg.input_size
    name = ("C~_t" if g == "c" else f"{g}_t").ljust(width)
    bias, bias_shape = (f" + b_{g}", f" + ({h})") if cfg.bias else ("", "")
    return f"{name} = {fn}(W_{g} X{bias})".ljust(31) + f"({h} x {x})({x}){bias_shape} -> ({h})"


def explain(cfg: LSTMConfig) -> str:
    """The walkthrough for cfg as Markdown: concatenation, gates, cell update, output,
    parameter counts, and what bidirectional, stacking and projection change."""
    i, h, p = cfg.input_size, cfg.hidden_size, cfg.proj_size
    h_out = cfg.h_out
    x = h_out + i
    gate_w = h * x
    d = cfg.num_directions
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
        _gate(cfg, "f", "sigmoid"),
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
        _gate(cfg, "i", "sigmoid", width=4),
        _gate(cfg, "c", "tanh", width=4),
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
        _gate(cfg, "o", "sigmoid"),
        f"h_t = o_t * tanh(C_t)          ({h}) * ({h}) -> ({h})",
        *([f"h_t = W_hr (o_t * tanh(C_t))   ({p} x {h})({h}) -> ({p})"] if p else []),
        "```",
        "",
        "Note the tanh in h_t = o_t * tanh(C_t): the cell state is squashed into (-1, 1) before "
        "the output gate scales it. PyTorch and Keras both compute it; some write-ups leave it "
        "out of the equation.",
        "",
        *_counting(cfg),
        "",
        *_bidirectional(cfg),
        "",
        *_stacked(cfg),
        "",
        *_projection(cfg),
        "",
        *_total(cfg, d),
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


def _bidirectional(cfg: LSTMConfig) -> list[str]:
    h_out = cfg.h_out
    lead = "This LSTM is bidirectional" if cfg.bidirectional else "With --bidirectional"
    both = param_count(
        LSTMConfig(
            input_size=cfg.input_size,
            hidden_size=cfg.hidden_size,
            proj_size=cfg.proj_size,
            bidirectional=True,
            bias=cfg.bias,
        )
    )
    keras = "" if both.keras is None else f"{_n(both.keras)} in Keras, "
    return [
        "## 7. Bidirectional",
        "",
        f"{lead}: a second cell with its own weights reads the sequence from the last step to "
        f"the first. At each step the two outputs are concatenated: {h_out} forward + {h_out} "
        f"backward = {2 * h_out}. The parameters double: {keras}{_n(both.pytorch)} in PyTorch "
        "for one layer. In PyTorch, the top layer's backward state, h_n[-1], is the state "
        f"after reading t = 0: output[:, 0, {h_out}:] (batch first), not output[:, -1, "
        f"{h_out}:]; h_n[2k + 1] is layer k's backward state.",
    ]


def _stacked(cfg: LSTMConfig) -> list[str]:
    d, h_out, h = cfg.num_directions, cfg.h_out, cfg.hidden_size
    reads = d * h_out
    x2 = h_out + reads
    lead = f"This LSTM has {cfg.num_layers} layers" if cfg.num_layers > 1 else "With --layers 2"
    return [
        "## 8. Stacked layers",
        "",
        f"{lead}: layer 1 reads the outputs of layer 0, {reads} numbers per step"
        + (f" ({h_out} forward + {h_out} backward)" if d == 2 else "")
        + f", instead of x_t. Its X is {h_out} + {reads} = {x2}, so its W_f is {h} x {x2}."
        + (
            ""
            if d == 2
            else f" Bidirectional, layer 1 would read {2 * h_out} and its X would be "
            f"{h_out} + {2 * h_out} = {3 * h_out}."
        ),
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


def _total(cfg: LSTMConfig, d: int) -> list[str]:
    count = param_count(cfg)
    keras = (
        "none in Keras (no projection there)" if count.keras is None else f"Keras {_n(count.keras)}"
    )
    shape = f"({cfg.seq_len}, {cfg.output_size})"
    if cfg.batch is not None:
        shape = f"({cfg.batch}, {cfg.seq_len}, {cfg.output_size})"
    return [
        "## This configuration",
        "",
        f"{counted(cfg.num_layers, 'layer').capitalize()}, "
        f"{'bidirectional' if d == 2 else 'unidirectional'}: "
        f"parameters {keras}, PyTorch {_n(count.pytorch)}; output {shape} for T = "
        f"{cfg.seq_len}" + ("" if cfg.batch is None else f" and a batch of {cfg.batch}") + ".",
    ]
