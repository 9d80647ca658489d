"""What every cell's walkthrough says the same way: both directions, a backward-only
layer, stacked layers and the totals, in the cell's own names and counts."""

from __future__ import annotations

from dataclasses import replace

from ..config import LSTMConfig
from ..weights import param_count
from ..words import counted


def n(value: int | None) -> str:
    """12,345; 'none' where a framework has no such layer (its count is None)."""
    return "none" if value is None else f"{value:,}"


#: the widest line of a code block that an 80-column terminal shows whole (Rich pads it)
CODE_WIDTH = 76


def with_shapes(left: str, pad: int, shapes: str, indent: int) -> str:
    """'r_t = sigmoid(W_r X + b_r)    (70 x 102)(102) + (70) -> (70)': an equation and its
    shapes in a column from pad; the shapes on a line of their own, indented, when the two
    would not fit in CODE_WIDTH."""
    line = left.ljust(pad) + shapes
    if len(line) <= CODE_WIDTH:
        return line
    return left + "\n" + " " * indent + shapes


def first_weight(cfg: LSTMConfig) -> str:
    """The walkthrough name of the first gate weight of the walkthrough: W_f, W_r."""
    return f"W_{cfg.kind.gate(cfg.kind.report_order[0]).letter}"


def bidirectional(cfg: LSTMConfig) -> list[str]:
    """Section 7: what a second direction adds, and the backward state's place in h_n; a
    sentence more for a backward-only layer."""
    h_out, title = cfg.h_out, cfg.kind.title
    lead = f"This {title} is bidirectional" if cfg.bidirectional else "With --bidirectional"
    both = param_count(replace(cfg, num_layers=1, direction="bi"))
    named = [(both.keras, "Keras"), (both.pytorch, "PyTorch")]
    if both.keras is None and both.pytorch is None:
        named = [(both.onnx, "ONNX")]  # a peephole LSTM: only ONNX holds it
    counts = ", ".join(f"{n(v)} in {name}" for v, name in named if v is not None)
    lines = [
        "## 7. Bidirectional",
        "",
        f"{lead}: a second cell with its own weights reads the sequence from the last step to "
        f"the first. At each step the two outputs are concatenated: {h_out} forward + {h_out} "
        f"backward = {2 * h_out}. The parameters double: {counts} for one "
        "layer. In PyTorch, the top layer's backward state, h_n[-1], is the state "
        f"after reading t = 0: output[:, 0, {h_out}:] (batch first), not output[:, -1, "
        f"{h_out}:]; h_n[2k + 1] is layer k's backward state.",
    ]
    if cfg.direction == "reverse":
        lines += ["", *reverse(cfg)]
    return lines


def reverse(cfg: LSTMConfig) -> list[str]:
    """The backward-only layer: one cell, reading from the last step to the first."""
    t, title = cfg.seq_len, cfg.kind.title
    return [
        f"This {title} runs backward only (direction reverse): its one cell reads x_t from "
        f"t = {t - 1} down to 0, with the same weights and counts as a forward one, and h_n is "
        f"its state after reading t = 0. lstm-trace's output[:, t] (batch first) is the state "
        "after reading x_t, in time order; Keras's go_backwards=True returns the same states "
        "in reading order (output[:, s] after reading x_(T-1-s)). "
        f"PyTorch's nn.{title} has no backward-only "
        "form (flip the sequence instead).",
    ]


def stacked(cfg: LSTMConfig, first: list[tuple[str, tuple[int, ...]]]) -> list[str]:
    """Section 8: what layer 1 reads; its weights of the same shape as `first` named by
    their shape, from the cell's parameters of layer 1."""
    d, h_out, title = cfg.num_directions, cfg.h_out, cfg.kind.title
    reads = d * h_out
    x2 = h_out + reads
    lead = f"This {title} has {cfg.num_layers} layers" if cfg.num_layers > 1 else "With --layers 2"
    above = dict(cfg.kind.parameters(cfg, 1))
    w = first_weight(cfg)
    # the weights whose shape changes and differs from w's new one: a GRU's W_in
    others = [
        f" and its {name} is {' x '.join(map(str, above[name]))}"
        for name, shape in first
        if name.startswith("W") and above[name] not in (shape, above[w])
    ]
    rest = "".join(others)
    return [
        "## 8. Stacked layers",
        "",
        f"{lead}: layer 1 reads the outputs of layer 0, {reads} numbers per step"
        + (f" ({h_out} forward + {h_out} backward)" if d == 2 else "")
        + f", instead of x_t. Its X is {h_out} + {reads} = {x2}, so its {w} is "
        + f"{' x '.join(map(str, above[w]))}{rest}."
        + (
            ""
            if d == 2
            else f" Bidirectional, layer 1 would read {2 * h_out} and its X would be "
            f"{h_out} + {2 * h_out} = {3 * h_out}."
        ),
    ]


def total(cfg: LSTMConfig) -> list[str]:
    """The last section: this configuration's layers, directions, counts and output."""
    count, missing = param_count(cfg), cfg.kind.unsupported(cfg)

    def said(name: str, title: str, value: int | None) -> str:
        if value is None:
            return f"none in {title} ({missing.get(name, 'no such layer')})"
        return f"{title} {n(value)}"

    shape = f"({cfg.seq_len}, {cfg.output_size})"
    if cfg.batch is not None:
        shape = f"({cfg.batch}, {cfg.seq_len}, {cfg.output_size})"
    onnx = count.onnx is not None and None in (count.keras, count.pytorch)
    kind = {"uni": "unidirectional", "bi": "bidirectional", "reverse": "backward only"}
    return [
        "## This configuration",
        "",
        f"{counted(cfg.num_layers, 'layer').capitalize()}, {kind[cfg.direction]}: "
        f"parameters {said('keras', 'Keras', count.keras)}, "
        f"{said('pytorch', 'PyTorch', count.pytorch)}"
        + (f", ONNX {n(count.onnx)}" if onnx else "")
        + f"; output {shape} for T = "
        f"{cfg.seq_len}" + ("" if cfg.batch is None else f" and a batch of {cfg.batch}") + ".",
    ]
