"""The GRU's walkthrough: why three gate blocks, X, the reset and update gates, where the
reset gate acts in each form (reset_after True or False), the update's mix, the parameter
counts and why PyTorch and Keras agree on them; stacking and both directions as common.py
says them for every cell.

Every number comes from the configuration's cell: its parameters (walkthrough names and
shapes), stored tensors, point sizes, equations and counts.
"""

from __future__ import annotations

from dataclasses import replace

from ..config import LSTMConfig
from ..weights import param_count
from . import common
from .common import n as _n


def _shape(shape: tuple[int, ...]) -> str:
    return " x ".join(map(str, shape))


def _line(cfg: LSTMConfig, point: str, shapes: str, width: int = 4) -> str:
    """'r_t  = sigmoid(W_r X + b_r)    (70 x 102)(102) + (70) -> (70)': the cell's symbol and
    equation of a hook point, then its shapes in a column that starts at the same place (or
    on the next line, when both would not fit)."""
    symbol, equation = cfg.kind.symbol_and_equation(point, 0, "forward", cfg)
    left = f"{symbol.ljust(width)} = {equation}"
    return common.with_shapes(left, max(38, len(left) + 2), shapes, width + 3)


def explain_gru(cfg: LSTMConfig) -> str:
    """The walkthrough for a GRU config as Markdown."""
    i, h = cfg.input_size, cfg.hidden_size
    lines = [
        f"# The GRU cell with input {i} and hidden {h}",
        "",
        f"At each step t the cell reads the input x_t ({i} numbers) and its own previous "
        f"output h_(t-1) ({h} numbers). Unlike an LSTM it carries no separate cell state: "
        "h_t is both what it outputs and what it remembers.",
        "",
        *_blocks(cfg),
        "",
        *_gates(cfg),
        "",
        *_candidate(cfg),
        "",
        "## 5. The update: mixing the old state and the candidate",
        "",
        "```text",
        _line(cfg, "hidden_state", f"({h}) * ({h}) + ({h}) * ({h}) -> ({h})", width=3),
        "```",
        "",
        "The products are element by element. Where z_t is near 1 a unit keeps its old value; "
        "near 0 it takes the candidate's. One gate does the LSTM's forget and input gates' "
        "work, and what is kept and what is written add up to 1 in every unit. There is no "
        "output gate and no tanh on the way out: h_t is the state. Keras writes the same "
        "h_t = z * h_(t-1) + (1 - z) * hh_t.",
        "",
        *_counting(cfg),
        "",
        *common.bidirectional(cfg),
        "",
        *common.stacked(cfg, cfg.kind.parameters(cfg, 0)),
        "",
        "## 9. Projection",
        "",
        f"A GRU has none: PyTorch's proj_size is an LSTM option, and h_t keeps its {h} numbers.",
        "",
        *common.total(cfg),
    ]
    return "\n".join(lines).rstrip() + "\n"


def _blocks(cfg: LSTMConfig) -> list[str]:
    """Section 1: why three gate blocks, and how each framework stacks them."""
    h, stored, orders = cfg.hidden_size, cfg.kind.stored(cfg, 0), cfg.kind.orders
    rows, gates = stored["w_ih"][0], cfg.kind.n_gates
    return [
        "## 1. Three gate blocks, not four",
        "",
        "An LSTM has four blocks of weights (forget, input, candidate, output). The GRU "
        "merges the forget and input gates into one update gate z_t and has no output gate, "
        f"so it has {gates} blocks: the reset gate r_t, the update gate z_t and the candidate "
        f"n_t. PyTorch stacks them as rows {orders['pytorch']}: w_ih is "
        f"{_shape(stored['w_ih'])} and w_hh {_shape(stored['w_hh'])} ({gates} x {h} = {rows} "
        f"rows, where an LSTM's have 4 x {h} = {4 * h}). Keras orders the blocks "
        f"{orders['keras']}, ONNX {orders['onnx']}.",
    ]


def _gates(cfg: LSTMConfig) -> list[str]:
    """Sections 2 and 3: X, and the reset and update gates that read it."""
    i, h = cfg.input_size, cfg.hidden_size
    x = cfg.kind.point_size("concat", 0, cfg)
    b = f" + ({h})" if cfg.bias else ""
    w = dict(cfg.kind.parameters(cfg, 0))
    return [
        "## 2. Concatenate the input and the previous output",
        "",
        "```text",
        f"X = [h_(t-1), x_t]        {h} + {i} = {x}",
        "```",
        "",
        f"The reset and update gates look at the same X of {x} numbers.",
        "",
        "## 3. The reset gate and the update gate",
        "",
        "```text",
        _line(cfg, "reset_gate", f"({_shape(w['W_r'])})({x}){b} -> ({h})"),
        _line(cfg, "update_gate", f"({_shape(w['W_z'])})({x}){b} -> ({h})"),
        "```",
        "",
        f"W_r and W_z are {_shape(w['W_r'])} ({_n(h * x)} weights each)"
        + (f" and b_r, b_z have {h} each" if cfg.bias else "; this GRU has no biases")
        + f". Both sigmoids give {h} values in (0, 1): r_t says how much of h_(t-1) the "
        "candidate may see, z_t how much of h_(t-1) to keep.",
    ]


def _candidate(cfg: LSTMConfig) -> list[str]:
    """Section 4: the candidate, and where the reset gate acts in this form and the other."""
    i, h = cfg.input_size, cfg.hidden_size
    x = cfg.kind.point_size("concat", 0, cfg)
    w = dict(cfg.kind.parameters(cfg, 0))
    b = f" + ({h})" if cfg.bias else ""
    head = ["## 4. The candidate: where the reset gate acts", "", "```text"]
    if cfg.reset_after:
        return [
            *head,
            _line(cfg, "reset_hidden", f"({h}) * (({_shape(w['W_hn'])})({h}){b}) -> ({h})"),
            _line(cfg, "candidate", f"({_shape(w['W_in'])})({i}){b} + ({h}) -> ({h})"),
            "```",
            "",
            "The reset gate scales the recurrent part inside the candidate, after the product "
            "with W_hn: where r_t is near 0, n_t forgets h_(t-1) and reads x_t alone. The "
            f"candidate's weights stay apart, W_in ({_shape(w['W_in'])}) for x_t and W_hn "
            f"({_shape(w['W_hn'])}) for h_(t-1)"
            + (
                ", and so do its biases: b_hn is inside the product with r_t, b_in is not"
                if cfg.bias
                else ""
            )
            + ". This is PyTorch's nn.GRU, Keras's GRU(reset_after=True) (the Keras 3 default) "
            "and ONNX's linear_before_reset=1. With reset_after=False (Keras's other form) the "
            "reset gate acts before the product instead, rh_t = r_t * h_(t-1) and "
            "n_t = tanh(W_n [rh_t, x_t] + b_n), which PyTorch cannot compute.",
        ]
    return [
        *head,
        _line(cfg, "reset_hidden", f"({h}) * ({h}) -> ({h})"),
        _line(cfg, "candidate", f"({_shape(w['W_n'])})({x}){b} -> ({h})"),
        "```",
        "",
        "With reset_after=False the reset gate acts on h_(t-1) before the product: "
        f"rh_t = r_t * h_(t-1) joins x_t, and one W_n of {_shape(w['W_n'])} reads them "
        "together, as W_r and W_z read X. This is Keras's GRU(reset_after=False) and "
        "ONNX's linear_before_reset=0 (its default). PyTorch's nn.GRU cannot compute it: "
        "it resets after the product, r_t * (W_hn h_(t-1) + b_hn), the reset_after=True form.",
    ]


def _counting(cfg: LSTMConfig) -> list[str]:
    """Section 6: one layer's weights in the walkthrough's names, grouped by shape, the
    biases the frameworks store, and why PyTorch and Keras agree (reset_after=True) or not
    (reset_after=False)."""
    one = replace(cfg, num_layers=1, direction="uni")
    h, count = cfg.hidden_size, param_count(one)
    groups: dict[tuple[int, ...], list[str]] = {}
    for name, shape in cfg.kind.parameters(one, 0):
        if name.startswith("W"):
            groups.setdefault(shape, []).append(name)
    rows = [
        (", ".join(names), (f"{len(names)} x ({_shape(s)})" if len(names) > 1 else _shape(s)),
         len(names) * _size(s))
        for s, names in groups.items()
    ]  # fmt: skip
    weights = sum(r[2] for r in rows)
    stored = count.pytorch if cfg.reset_after else count.keras
    assert stored is not None  # Keras holds both forms, PyTorch reset_after=True
    if cfg.bias:
        per = (stored - weights) // (3 * h)  # bias vectors of 3H: 2 (two biases) or 1
        rows.append(("biases", f"{per} x 3 x {h}" if per > 1 else f"3 x {h}", stored - weights))
    rows.append(("total", "", stored))
    wide = max(len(r[0]) for r in rows) + 2, max(len(r[1]) for r in rows) + 2
    lines = ["## 6. Counting the parameters", "", "```text"]
    lines += [f"{a.ljust(wide[0])}{b.ljust(wide[1])}= {_n(c)}" for a, b, c in rows]
    lines += ["```", ""]
    return [*lines, _counts_note(cfg, weights)]


def _counts_note(cfg: LSTMConfig, weights: int) -> str:
    """Why the frameworks' counts are what they are, for this form and the other."""
    one = replace(cfg, num_layers=1, direction="uni")
    h = cfg.hidden_size
    if not cfg.bias:
        where = (
            "in Keras and in PyTorch" if cfg.reset_after else "in Keras (PyTorch has no such layer)"
        )
        return (
            "This GRU has no biases (PyTorch bias=False, Keras use_bias=False), so the count "
            f"is the weights alone: {_n(weights)}, {where}."
        )
    other = param_count(replace(one, reset_after=not cfg.reset_after))
    if cfg.reset_after:
        biases = [name for name, _ in cfg.kind.parameters(one, 0) if name.startswith("b")]
        return (
            f"PyTorch keeps two biases per gate, b_ih and b_hh, each 3 x {h}, and Keras's "
            f"reset_after=True keeps a (2, {3 * h}) bias, its input and recurrent rows: both "
            f"report {_n(param_count(one).pytorch)}, unlike for an LSTM, where Keras keeps one "
            f"bias. The walkthrough's {', '.join(biases)} are {len(biases)} x {h}: only b_hn "
            f"must stay apart (it is inside the product with r_t); the second biases of r and "
            f"z ({_n(2 * h)} numbers) compute nothing a single bias could not. With "
            f"reset_after=False, Keras reports {_n(other.keras)} and PyTorch has no such layer."
        )
    return (
        f"That is what Keras reports for reset_after=False: one bias of 3 x {h} (b_n = b_in + "
        f"b_hn, since nothing sits between them). PyTorch has no such layer; its nn.GRU, like "
        f"Keras's reset_after=True, stores {_n(other.pytorch)}, two biases per gate."
    )


def _size(shape: tuple[int, ...]) -> int:
    out = 1
    for s in shape:
        out *= s
    return out
