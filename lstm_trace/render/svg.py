"""SVG pictures of a recurrent layer: the cell with the shape on every arrow (the LSTM's here,
the GRU's in svg_gru.py), and the network unrolled (svg_unrolled.py).

Render functions are pure: LSTMConfig in, a self-contained SVG 1.1 document out (a <style>,
markers in <defs>; no external fonts, images, links or scripts); png.py turns them into PNG.
The heatmap is in svg_heatmap.py (re-exported here). Labels are monospace, so a label of n
characters at size s is at most n * s * CHAR wide; every position is derived from those widths
so that no label touches a line, a box or another label (tests/test_svg.py checks it).
"""

from __future__ import annotations

from ..config import LSTMConfig
from .svg_draw import (
    FONT,
    SIGMA,
    TIMES,
    Drawing,
    batch_notes,
    dims,
    direction_notes,
    document,
    layer_notes,
    text_width,
)
from .svg_gru import gru_cell
from .svg_heatmap import render_heatmap_svg
from .svg_unrolled import unrolled

__all__ = [
    "render_cell_svg",
    "render_heatmap_svg",
    "render_svg",
    "render_unrolled_svg",
]


def _cell(cfg: LSTMConfig) -> Drawing:
    """The cell diagram of layer 0 (see render_cell_svg)."""
    d = Drawing()
    H, Ho, In = cfg.hidden_size, cfg.h_out, cfg.input_size  # the notation of ARCHITECTURE.md
    X = Ho + In
    # the gates, left to right, with their output labels and box lines
    gates = [("f", f"{SIGMA} forget"), ("i", f"{SIGMA} input"), ("c", "tanh candidate")]
    gates.append(("o", f"{SIGMA} output"))
    outs = [f"f_t {dims(cfg, H)}", f"i_t {dims(cfg, H)}", f"C~_t {dims(cfg, H)}"]
    outs.append(f"o_t {dims(cfg, H)}")
    lines = [(name, f"W_{g} {H}x{X}", f"b_{g} {H}" if cfg.bias else "no bias") for g, name in gates]
    bw = max(130, *(text_width(s, 13) + 24 for ls in lines for s in ls))
    pitch = max(bw + 30, *(text_width(s) + 36 for s in [*outs, f"i_t*C~_t {dims(cfg, H)}"]))
    c_in, h_in = f"C_(t-1) {dims(cfg, H)}", f"h_(t-1) {dims(cfg, Ho)}"
    bus, branch = f"X = [h, x] {dims(cfg, X)}", dims(cfg, X)
    # rows (y) of the picture
    y_c, y_tanh, y_prod, y_box, bh = 120.0, 182.0, 245.0, 300.0, 62.0
    y_bus = y_box + bh + 58
    y_mid = (y_prod + y_box) / 2 + 4  # labels of the gate outputs
    # columns (x)
    left = 16 + max(text_width(c_in), text_width(h_in))
    body_left = left + 20
    x_j = body_left + 24  # where x_t joins h_(t-1)
    gx0 = max(x_j + text_width(bus) + 30, body_left + bw / 2 + 16)
    gx = [gx0 + k * pitch for k in range(4)]
    proj = f"W_hr {Ho}x{H}" if cfg.proj_size else ""  # on the path of h_t
    pw = text_width(proj) + 20 if proj else 0.0
    x_out = max(gx[3] + bw / 2 + 40 + pw / 2, gx[3] + text_width(outs[3]) + 30)
    tanh_c, c_branch = f"tanh(C_t) {dims(cfg, H)}", f"C_t {dims(cfg, H)}"
    h_label = f"h_t {dims(cfg, Ho)}"
    right_labels = [c_branch, h_label, dims(cfg, H) if proj else ""]
    body_right = x_out + max(pw / 2, *(text_width(s) + 8 for s in right_labels)) + 14
    x_cend = body_right + 20
    x_up = x_cend + 6 + text_width(c_branch) + 30
    x_end = x_up + 40
    d.width = max(x_end + 6 + text_width(h_label) + 16, x_up + text_width(h_label) / 2 + 16)

    title = f"LSTM cell: input {In}, hidden {H}" + (f", proj {Ho}" if proj else "")
    title += f", batch {cfg.batch}" if cfg.batch else ""
    sub = f"X = [h_(t-1), x_t] has {Ho} + {In} = {X} entries; each gate W is {H} x {X}, b is {H}"
    d.text(16, 28, title, size=17, cls="title")
    d.text(16, 50, sub, size=13, cls="sub")
    d.box(body_left, y_c - 28, body_right - body_left, y_bus + 28 - (y_c - 28), "body", 14)

    # the cell state: C_(t-1) -> x (forget) -> + -> C_t
    d.text(left, y_c, c_in, anchor="end", middle=True)
    d.wire([(left + 6, y_c), (gx[0] - 13, y_c)], cls="cstate")
    d.node(gx[0], y_c, TIMES)
    d.wire([(gx[0] + 13, y_c), (gx[2] - 13, y_c)], cls="cstate")
    d.text((gx[0] + gx[2]) / 2, y_c - 8, f"f_t*C_(t-1) {dims(cfg, H)}", anchor="middle")
    d.node(gx[2], y_c, "+")
    d.wire([(gx[2] + 13, y_c), (x_cend, y_c)], cls="cstate")
    d.text(x_cend + 6, y_c, c_branch, anchor="start", middle=True)

    # h_(t-1) and x_t join into X, which feeds the four gates
    d.text(left, y_bus, h_in, anchor="end", middle=True)
    d.wire([(left + 6, y_bus), (x_j - 4, y_bus)])
    d.wire([(x_j, y_bus + 70), (x_j, y_bus + 4)])
    d.text(x_j + 8, y_bus + 52, f"x_t {dims(cfg, In)}")
    d.dot(x_j, y_bus)
    d.wire([(x_j, y_bus), (gx[3], y_bus)], arrow=False)
    d.text(x_j + 14, y_bus - 7, bus)
    for k, (x, (name, w_line, b_line)) in enumerate(zip(gx, lines, strict=True)):
        d.dot(x, y_bus)
        d.wire([(x, y_bus), (x, y_box + bh)])
        d.text(x + 7, y_bus - 20, branch)
        d.box(x - bw / 2, y_box, bw, bh, "gate")
        d.text(x, y_box + 18, name, size=13, anchor="middle", cls="sym")
        d.text(x, y_box + 36, w_line, size=13, anchor="middle", cls="weight")
        d.text(x, y_box + 53, b_line, size=13, anchor="middle", cls="weight")
        d.text(x + 7, y_mid, outs[k])

    # gate outputs: f_t up to the forget multiply; i_t x C~_t up to the +; o_t to the output
    d.wire([(gx[0], y_box), (gx[0], y_c + 13)])
    d.wire([(gx[1], y_box), (gx[1], y_prod), (gx[2] - 13, y_prod)])
    d.wire([(gx[2], y_box), (gx[2], y_prod + 13)])
    d.node(gx[2], y_prod, TIMES)
    d.wire([(gx[2], y_prod - 13), (gx[2], y_c + 13)])
    d.text(gx[2] + 7, (y_c + y_prod) / 2 + 4, f"i_t*C~_t {dims(cfg, H)}")
    d.wire([(gx[3], y_box), (gx[3], y_prod), (x_out - 13, y_prod)])

    # h_t = o_t * tanh(C_t) [then W_hr h_t], leaving right (next step) and up (next layer)
    d.dot(x_out, y_c)
    d.wire([(x_out, y_c), (x_out, y_tanh - 13)])
    d.text(x_out + 7, (y_c + y_tanh) / 2 + 2, c_branch)
    d.node(x_out, y_tanh, "tanh", rx=22)
    d.wire([(x_out, y_tanh + 13), (x_out, y_prod - 13)])
    d.text(x_out - 8, (y_tanh + y_prod) / 2 + 4, tanh_c, anchor="end")
    d.node(x_out, y_prod, TIMES)
    if proj:
        y_p = y_box + bh / 2 - 15
        d.wire([(x_out, y_prod + 13), (x_out, y_p)])
        d.text(x_out + 7, (y_prod + y_p) / 2 + 8, dims(cfg, H))
        d.box(x_out - pw / 2, y_p, pw, 30, "proj")
        d.text(x_out, y_p + 15, proj, size=FONT, anchor="middle", cls="weight", middle=True)
        d.wire([(x_out, y_p + 30), (x_out, y_bus), (x_end, y_bus)])
        d.text(x_out + 7, (y_p + 30 + y_bus) / 2 + 4, h_label)
    else:
        d.wire([(x_out, y_prod + 13), (x_out, y_bus), (x_end, y_bus)])
        d.text(x_out + 7, (y_prod + y_bus) / 2 + 4, h_label)
    d.text(x_end + 6, y_bus, h_label, middle=True)
    d.dot(x_up, y_bus)
    d.wire([(x_up, y_bus), (x_up, y_c - 40)])
    d.text(x_up, y_c - 48, h_label, anchor="middle")

    # legend and notes
    y = y_bus + 100
    legend = [("gate", f"layer: W ({H} x {X}) and b ({H}), then {SIGMA} or tanh")]
    legend += [("proj", f"projection W_hr ({Ho} x {H})")] if proj else []
    legend += [("op", f"pointwise {TIMES} + tanh"), ("wire", "vector (shape)")]
    x = d.legend(y, [*legend, ("cstate", "cell state")])
    notes = _cell_notes(cfg)
    d.notes(y, notes)
    d.width = max(d.width, x, text_width(title, 17) + 32, text_width(sub, 13) + 32,
                  *(text_width(s) + 32 for s in notes))  # fmt: skip
    return d


def _cell_notes(cfg: LSTMConfig) -> list[str]:
    """The lines under the cell diagram: what sigma and the batch mean, what else differs."""
    H, Ho = cfg.hidden_size, cfg.h_out
    notes = [f"{SIGMA} = sigmoid; tanh squashes to (-1, 1); {TIMES} and + act entry by entry."]
    notes += batch_notes(cfg)
    if cfg.proj_size:
        notes.append(f"proj_size {Ho}: h_t = W_hr (o_t * tanh(C_t)) has {Ho} entries, so "
                     f"h_(t-1) has {Ho} too; C_t keeps {H}.")  # fmt: skip
    notes += layer_notes(cfg, "W")
    if cfg.peepholes:
        notes.append(f"Peepholes: f_t and i_t also add p * C_(t-1), o_t adds p * C_t (each p "
                     f"{H}), not drawn.")  # fmt: skip
    return notes + direction_notes(cfg)


def render_cell_svg(config: LSTMConfig) -> str:
    """The classic LSTM cell diagram (after colah's "Understanding LSTM Networks") as SVG.

    Drawn: the cell state running across the top from C_(t-1) through the forget multiply
    and the + to C_t; h_(t-1) entering bottom left and x_t from below, joining into
    X = [h_(t-1), x_t]; the four gate boxes (sigmoid forget, sigmoid input, tanh candidate,
    sigmoid output), each with its weight and bias shapes (W_f 70x102, b_f 70); the
    i_t x C~_t product; the tanh of C_t and the output multiply with o_t; W_hr when
    proj_size is set; h_t leaving to the right and up. Every arrow carries its shape for
    this configuration, with a leading batch dimension when batched. A title, a legend
    and notes (batch, projection, peepholes, upper layers, backward direction) sit around it.
    A GRU gets its own diagram (svg_gru.gru_cell): the state h across the top, the update,
    reset and candidate blocks, rh_t into the candidate and the (1 - z_t) mix.
    """
    return document([(_cell_of(config), 0)], f"{config.kind.title} cell diagram")


def render_unrolled_svg(config: LSTMConfig, max_steps: int = 4) -> str:
    """The network unrolled over time as SVG.

    Drawn: one column per time step (with more than max_steps steps, the first max_steps-1,
    an ellipsis column and the last, as the caption says); per layer a forward row of cells
    (arrows left to right) and, when bidirectional, a backward row (right to left), cells
    labelled 'L0 fwd'; the h and C arrows between cells (h alone for a GRU) labelled with
    their shapes; a backward-only layer (direction reverse) has one backward row; x_t into
    layer 0 labelled (I), the layer below's output into layer k > 0 labelled (D*h_out); the
    forward and backward outputs concatenated into y_t at the top; a caption with the shapes
    of output, h_n and (for an LSTM) c_n in PyTorch's layout.
    """
    return document([(unrolled(config, max_steps), 0)], f"{config.kind.title} unrolled over time")


def render_svg(config: LSTMConfig) -> str:
    """The picture `--svg FILE` writes: the cell diagram, and below it the unrolled network
    when there is more than one layer, direction or step."""
    cell = _cell_of(config)
    parts = [(cell, 0.0)]
    if config.num_layers > 1 or config.bidirectional or config.seq_len > 1:
        network = unrolled(config, 4)
        y, x2 = cell.height + 14, max(cell.width, network.width) - 16
        cell.add("line", {"x1": 16, "y1": y, "x2": x2, "y2": y, "stroke": "#bbbbbb"})
        parts.append((network, cell.height + 20))
    return document(parts, f"{config.kind.title} cell and unrolled network")


def _cell_of(config: LSTMConfig) -> Drawing:
    """The cell diagram of the configuration's cell."""
    return gru_cell(config) if config.cell == "gru" else _cell(config)
