"""The GRU cell diagram: the state h across the top, X = [h_(t-1), x_t] along the bottom, the
update, reset and candidate blocks between them, every arrow labelled with its shape.

Drawn from the cell description (cells/gru.py): the gates' names and activations, the
weights' names and shapes, the symbols and sizes of every hook point. Positions follow from
the labels' widths, as in svg.py, so that no label touches a line, a box or another label.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import LSTMConfig
from .svg_draw import (
    SIGMA,
    TIMES,
    Drawing,
    batch_notes,
    dims,
    direction_notes,
    layer_notes,
    text_width,
)

#: rows (y) of the picture: the state h, the 1 - z_t mix, the products, the blocks
Y_TOP, Y_MIX, Y_PROD, Y_BOX, BOX_H = 120.0, 182.0, 245.0, 300.0, 62.0
Y_BUS = Y_BOX + BOX_H + 58
Y_MID = (Y_PROD + Y_BOX) / 2 + 4  # labels of the blocks' outputs


def _box_lines(cfg: LSTMConfig) -> dict[str, tuple[str, str, str]]:
    """The three lines of each block: the update and reset gates, the candidate, and with
    reset_after=True the candidate's recurrent product W_hn h_(t-1) + b_hn."""
    cell, h = cfg.kind, cfg.hidden_size
    shapes = dict(cell.parameters(cfg, 0))

    def weight(name: str) -> str:
        return f"{name} {'x'.join(str(n) for n in shapes[name])}"

    def bias(name: str) -> str:
        return f"{name} {h}" if cfg.bias else "no bias"

    lines = {}
    for g in cell.gates:
        act = SIGMA if g.activation == "sigmoid" else g.activation
        head = f"{act} {g.name.removesuffix('_gate')}"
        w = g.letter if g.letter != "n" else ("in" if cfg.reset_after else "n")
        lines[g.letter] = (head, weight(f"W_{w}"), bias(f"b_{w}"))
    if cfg.reset_after:
        lines["hn"] = ("recurrent", weight("W_hn"), bias("b_hn"))
    return lines


def _symbol(cfg: LSTMConfig, point: str) -> str:
    return cfg.kind.symbol_and_equation(point, 0, "forward", cfg)[0]


@dataclass(frozen=True)
class _Layout:
    """The labels and the columns (x) of one GRU diagram, derived from the labels' widths."""

    cfg: LSTMConfig
    lab: dict[str, str]  # every label of a wire, by what it carries
    bw: float  # a block's width
    left: float  # where h_(t-1)'s label ends
    x_d: float  # where h_(t-1) turns down to meet x_t
    gx: dict[str, float]  # the blocks' centres: z, h (W_hn or the h_(t-1) wire), r, n
    x_rin: float  # where rh_t enters the candidate
    x_plus: float  # where n_t leaves it, up to the 1 - z_t product and the +
    body_right: float
    x_up: float  # where h_t turns up to the next layer
    x_end: float  # where h_t leaves to the next step


def _labels(cfg: LSTMConfig) -> dict[str, str]:
    """The wires' labels, symbols from the cell and sizes from the configuration."""
    H, In, X = cfg.hidden_size, cfg.input_size, cfg.kind.point_size("concat", 0, cfg)
    r, z, n, rh = (
        _symbol(cfg, p) for p in ("reset_gate", "update_gate", "candidate", "reset_hidden")
    )
    return {
        "z": f"{z} {dims(cfg, H)}",
        "r": f"{r} {dims(cfg, H)}",
        "n": f"{n} {dims(cfg, H)}",
        "rh": f"{rh} {dims(cfg, H)}",
        "hn": dims(cfg, H),
        "1-z": f"1-{z} {dims(cfg, H)}",
        "mix": f"(1-{z})*{n} {dims(cfg, H)}",
        "keep": f"{z}*h_(t-1) {dims(cfg, H)}",
        "h_in": f"h_(t-1) {dims(cfg, H)}",
        "h_out": f"h_t {dims(cfg, H)}",
        "bus": f"X = [h, x] {dims(cfg, X)}",
        "X": dims(cfg, X),
        "x": f"x_t {dims(cfg, In)}",
    }


def _layout(cfg: LSTMConfig, boxes: dict[str, tuple[str, str, str]]) -> _Layout:
    """Columns, left to right: the join of h_(t-1) and x_t, then z, [W_hn or the h_(t-1)
    wire], r, n, the right edge and h_t's exits."""
    lab = _labels(cfg)
    bw = max(130, *(text_width(s, 13) + 24 for ls in boxes.values() for s in ls))
    pitch = max(bw + 30, *(text_width(lab[k]) + 36 for k in ("z", "r", "n")))
    left = 16 + text_width(lab["h_in"])
    body_left = left + 20
    x_d = body_left + 24
    gz = max(x_d + text_width(lab["bus"]) + 30, body_left + bw / 2 + 16)
    if cfg.reset_after:
        gh = gz + pitch
        gr = gh + pitch
    else:  # a plain wire between the z and r boxes, clear of both and of their labels
        gh = gz + max(bw / 2 + 14, 7 + text_width(lab["z"]) + 10)
        gr = gh + max(bw / 2 + 14, 7 + text_width(lab["h_in"]) + 10)
    gn = gr + max(pitch, bw / 2 + 13 + text_width(lab["rh"]) + 30)
    x_rin, x_plus = gn - bw / 4, gn + bw / 4
    widest = max(text_width(lab["n"]), text_width(lab["mix"]))
    body_right = max(gn + bw / 2, x_plus + 7 + widest) + 14
    return _Layout(cfg, lab, bw, left, x_d, {"z": gz, "h": gh, "r": gr, "n": gn}, x_rin,
                   x_plus, body_right, body_right + 30, body_right + 70)  # fmt: skip


def gru_cell(cfg: LSTMConfig) -> Drawing:
    """The GRU cell diagram of layer 0 (see svg.render_cell_svg)."""
    d = Drawing()
    boxes = _box_lines(cfg)
    lay = _layout(cfg, boxes)
    h_out = lay.lab["h_out"]
    d.width = max(lay.x_end + 6 + text_width(h_out) + 16, lay.x_up + text_width(h_out) / 2 + 16)
    _title(d, cfg, cfg.kind.point_size("concat", 0, cfg))
    body_left = lay.left + 20
    d.box(body_left, Y_TOP - 28, lay.body_right - body_left, Y_BUS - Y_TOP + 56, "body", 14)
    _state(d, lay)
    _bus(d, lay)
    for key in ("z", "r", "n", *(("hn",) if cfg.reset_after else ())):
        x = lay.gx["h" if key == "hn" else key]
        _block(d, x, lay.bw, boxes[key], "gate" if key != "hn" else "proj")
    _gate_paths(d, lay)
    _legend(d, cfg, Y_BUS + 100)
    return d


def _state(d: Drawing, lay: _Layout) -> None:
    """The state h: h_(t-1) -> x z_t -> + -> h_t, leaving right (next step) and up (the
    next layer)."""
    lab, gz, x_plus = lay.lab, lay.gx["z"], lay.x_plus
    d.text(lay.left, Y_TOP, lab["h_in"], anchor="end", middle=True)
    d.wire([(lay.left + 6, Y_TOP), (gz - 13, Y_TOP)], cls="cstate")
    d.dot(lay.x_d, Y_TOP)
    d.node(gz, Y_TOP, TIMES)
    d.wire([(gz + 13, Y_TOP), (x_plus - 13, Y_TOP)], cls="cstate")
    d.text((gz + x_plus) / 2, Y_TOP - 8, lab["keep"], anchor="middle")
    d.node(x_plus, Y_TOP, "+")
    d.wire([(x_plus + 13, Y_TOP), (lay.x_end, Y_TOP)], cls="cstate")
    d.text(lay.x_end + 6, Y_TOP, lab["h_out"], middle=True)
    d.dot(lay.x_up, Y_TOP)
    d.wire([(lay.x_up, Y_TOP), (lay.x_up, Y_TOP - 40)])
    d.text(lay.x_up, Y_TOP - 48, lab["h_out"], anchor="middle")


def _bus(d: Drawing, lay: _Layout) -> None:
    """h_(t-1) down to meet x_t: X = [h_(t-1), x_t] along the bottom, and its branches: X
    to the update and reset gates, h_(t-1) to W_hn (or the reset product), x_t to the
    candidate."""
    lab, x_d, gx = lay.lab, lay.x_d, lay.gx
    d.wire([(x_d, Y_TOP), (x_d, Y_BUS - 4)])
    d.text(x_d + 7, (Y_TOP + Y_BUS) / 2, lab["h_in"], middle=True)
    d.wire([(x_d, Y_BUS + 70), (x_d, Y_BUS + 4)])
    d.text(x_d + 8, Y_BUS + 52, lab["x"])
    d.dot(x_d, Y_BUS)
    d.wire([(x_d, Y_BUS), (gx["n"], Y_BUS)], arrow=False)
    d.text(x_d + 14, Y_BUS - 7, lab["bus"])
    for key, label in (("z", lab["X"]), ("h", lab["h_in"]), ("r", lab["X"]), ("n", lab["x"])):
        x = gx[key]
        d.dot(x, Y_BUS)
        d.text(x + 7, Y_BUS - 20, label)
        if key == "h" and not lay.cfg.reset_after:  # h_(t-1) itself to the reset product
            d.wire([(x, Y_BUS), (x, Y_PROD), (gx["r"] - 13, Y_PROD)])
        else:
            d.wire([(x, Y_BUS), (x, Y_BOX + BOX_H)])


def _gate_paths(d: Drawing, lay: _Layout) -> None:
    """z_t up to the state and through 1 - z_t; r_t times W_hn h_(t-1) + b_hn (or times
    h_(t-1)) into the candidate as rh_t; n_t times 1 - z_t up to the +."""
    lab, gz, gh, gr, x_plus = lay.lab, lay.gx["z"], lay.gx["h"], lay.gx["r"], lay.x_plus
    d.wire([(gz, Y_BOX), (gz, Y_TOP + 13)])
    d.text(gz + 7, Y_MID, lab["z"])
    d.dot(gz, Y_MIX)
    x_1m = gz + 56
    d.wire([(gz, Y_MIX), (x_1m - 16, Y_MIX)])
    d.node(x_1m, Y_MIX, "1-", rx=16)
    d.wire([(x_1m + 16, Y_MIX), (x_plus - 13, Y_MIX)])
    d.text((x_1m + 16 + x_plus - 13) / 2, Y_MIX - 8, lab["1-z"], anchor="middle")
    if lay.cfg.reset_after:
        d.wire([(gh, Y_BOX), (gh, Y_PROD), (gr - 13, Y_PROD)])
        d.text(gh + 7, Y_MID, lab["hn"])
    d.wire([(gr, Y_BOX), (gr, Y_PROD + 13)])
    d.text(gr + 7, Y_MID, lab["r"])
    d.node(gr, Y_PROD, TIMES)
    d.wire([(gr + 13, Y_PROD), (lay.x_rin, Y_PROD), (lay.x_rin, Y_BOX)])
    d.text((gr + 13 + lay.x_rin) / 2, Y_PROD - 8, lab["rh"], anchor="middle")
    d.wire([(x_plus, Y_BOX), (x_plus, Y_MIX + 13)])
    d.text(x_plus + 7, Y_MID, lab["n"])
    d.node(x_plus, Y_MIX, TIMES)
    d.wire([(x_plus, Y_MIX - 13), (x_plus, Y_TOP + 13)])
    d.text(x_plus + 7, (Y_TOP + Y_MIX) / 2 + 4, lab["mix"])


def _block(d: Drawing, x: float, bw: float, lines: tuple[str, str, str], cls: str) -> None:
    """A block centred on x: its name, its weight and its bias."""
    d.box(x - bw / 2, Y_BOX, bw, BOX_H, cls)
    d.text(x, Y_BOX + 18, lines[0], size=13, anchor="middle", cls="sym")
    d.text(x, Y_BOX + 36, lines[1], size=13, anchor="middle", cls="weight")
    d.text(x, Y_BOX + 53, lines[2], size=13, anchor="middle", cls="weight")


def _title(d: Drawing, cfg: LSTMConfig, X: int) -> None:
    H, In = cfg.hidden_size, cfg.input_size
    title = f"GRU cell: input {In}, hidden {H}" + (f", batch {cfg.batch}" if cfg.batch else "")
    title += "" if cfg.reset_after else ", reset_after=False"
    sub = f"X = [h_(t-1), x_t] has {H} + {In} = {X} entries; W_r and W_z are {H} x {X}, b is {H}"
    d.text(16, 28, title, size=17, cls="title")
    d.text(16, 50, sub, size=13, cls="sub")
    d.width = max(d.width, text_width(title, 17) + 32, text_width(sub, 13) + 32)


def _legend(d: Drawing, cfg: LSTMConfig, y: float) -> None:
    """The legend of the boxes, nodes and wires, and the notes under it."""
    H = cfg.hidden_size
    X = cfg.kind.point_size("concat", 0, cfg)
    legend = [("gate", f"layer: W and b, then {SIGMA} or tanh")]
    hn = f"the candidate's W_hn ({H} x {H})" + (" and b_hn" if cfg.bias else "")
    legend += [("proj", hn)] if cfg.reset_after else []
    legend += [("op", f"pointwise {TIMES} + 1-"), ("wire", "vector (shape)"), ("cstate", "state h")]
    x = d.legend(y, legend)
    notes = gru_notes(cfg, X)
    d.notes(y, notes)
    d.width = max(d.width, x, *(text_width(s) + 32 for s in notes))


def gru_notes(cfg: LSTMConfig, X: int) -> list[str]:
    """The lines under the GRU diagram: the equations it draws and what else differs."""
    H = cfg.hidden_size

    def eq(point: str) -> str:
        symbol, equation = cfg.kind.symbol_and_equation(point, 0, "forward", cfg)
        return f"{symbol} = {equation}"

    notes = [f"{SIGMA} = sigmoid; tanh squashes to (-1, 1); {TIMES}, + and 1- act entry by "
             f"entry; {eq('hidden_state')}."]  # fmt: skip
    reset, candidate = eq("reset_hidden"), eq("candidate")
    if cfg.reset_after:
        notes.append(f"reset_after=True (PyTorch's nn.GRU, Keras 3's default): {reset}, "
                     f"{candidate}.")  # fmt: skip
    else:
        notes.append(f"reset_after=False (Keras): {reset}, {candidate} with W_n {H} x {X}; "
                     "PyTorch has no such layer.")  # fmt: skip
    notes += batch_notes(cfg) + layer_notes(cfg, "W_r")
    notes += direction_notes(cfg)
    return notes
