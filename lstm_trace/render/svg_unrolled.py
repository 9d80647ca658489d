"""The network unrolled over time as an SVG drawing: one column per step, a row of cells per
layer and direction, the states between them (h and C for the LSTM, h alone for the GRU).

Positions follow from the labels' widths (svg_draw.py), so that no label touches a line, a
box or another label (tests/test_svg.py checks it).
"""

from __future__ import annotations

from ..config import LSTMConfig
from .svg_draw import Drawing, dims, text_width


def _columns(seq_len: int, max_steps: int) -> list[int | None]:
    """The time steps drawn, None for the ellipsis: all, or the first max_steps-1 and the last."""
    if seq_len <= max_steps:
        return list(range(seq_len))
    return [*range(max_steps - 1), None, seq_len - 1]


def unrolled(cfg: LSTMConfig, max_steps: int) -> Drawing:
    """The network unrolled over time (see render_unrolled_svg)."""
    if max_steps < 2:
        raise ValueError(f"max_steps must be at least 2 (first and last step), got {max_steps}")
    d = Drawing()
    In, T = cfg.input_size, cfg.seq_len
    L, bi = cfg.num_layers, cfg.bidirectional
    own = "bwd" if cfg.direction == "reverse" else "fwd"  # the row that reads a layer's input
    cols = _columns(T, max_steps)
    up = dims(cfg, cfg.output_size)
    states = _state_lines(cfg)
    x_labs = {t: f"x_{t} {dims(cfg, In)}" for t in cols if t is not None}
    y_labs = {t: f"y_{t} {dims(cfg, cfg.output_size)}" for t in cols if t is not None}
    ends = [*x_labs.values(), *y_labs.values()]
    cw = max(110.0, 2 * (text_width(up) + 18), *(text_width(s) + 12 for s in ends))
    ch, gap = 44.0, max(text_width(lab) for _, lab, _ in states) + 56
    half = [20 if t is None else cw / 2 for t in cols]  # half the width of each column
    cx = [30 + sum(2 * w + gap for w in half[:j]) + half[j] for j in range(len(cols))]
    kind = {"uni": "unidirectional", "bi": "bidirectional", "reverse": "backward only"}
    named = "" if cfg.cell == "lstm" else f"{cfg.kind.title} "  # the LSTM's title as it was
    title = f"Unrolled over T = {T}: {L} {named}layer{'s' * (L > 1)}, {kind[cfg.direction]}"
    d.text(16, 28, title, size=17, cls="title")

    # rows, top to bottom: per layer (the top layer first) the concat, backward, forward row
    y = 100.0
    rows: dict[tuple[int, str], float] = {}
    concat: dict[int, float] = {}
    for layer in reversed(range(L)):
        if bi:
            concat[layer], rows[layer, "bwd"] = y + 12, y + 34
            y += 34 + ch + 56
        rows[layer, own] = y
        y += ch + 60
    y_x = y - 4  # where the inputs x_t start

    for x, t in zip(cx, cols, strict=True):
        if t is None:
            for yc in [58, *(yr + ch / 2 for yr in rows.values()), y_x + 12]:
                d.text(x, yc, "\u2026", size=22, anchor="middle", cls="sym", middle=True)
            continue
        for (layer, direction), yr in rows.items():
            d.box(x - cw / 2, yr, cw, ch, "cell", 10)
            d.text(x, yr + ch / 2, f"L{layer} {direction}", size=13, anchor="middle", cls="sym",
                   middle=True)  # fmt: skip
        d.text(x, y_x + 16, x_labs[t], anchor="middle")
        # inputs: x_t into layer 0, the layer below's output into layer k > 0
        for layer in range(L):
            y_in = y_x if layer == 0 else (concat[layer - 1] - 9 if bi else rows[layer - 1, own])
            fwd = rows[layer, own]
            d.wire([(x, y_in), (x, fwd + ch)])
            if layer > 0:
                d.text(x + 7, fwd + ch + 44, up)
            if bi:  # x_t goes round the forward cell to the backward one, and the forward
                # output round the backward cell to the concatenation
                y_f, xr, xl, y_cat = fwd + ch + 14, x + cw / 2 + 12, x - cw / 2 - 12, concat[layer]
                d.dot(x, y_f)
                d.wire(
                    [(x, y_f), (xr, y_f), (xr, fwd - 38), (x + 20, fwd - 38), (x + 20, fwd - 56)]
                )
                d.wire(
                    [
                        (x - 20, fwd),
                        (x - 20, fwd - 18),
                        (xl, fwd - 18),
                        (xl, y_cat),
                        (x - 16, y_cat),
                    ]
                )
                d.wire([(x, rows[layer, "bwd"]), (x, y_cat + 9)])
                d.node(x, y_cat, "cat", rx=16, ry=9)
        d.wire([(x, concat[L - 1] - 9 if bi else rows[L - 1, own]), (x, 70)])
        d.text(x, 62, y_labs[t], anchor="middle")

    # the states along each row: forward left to right, backward right to left
    for (_, direction), yr in rows.items():
        for j in range(len(cols) - 1):
            a, b = cx[j] + half[j], cx[j + 1] - half[j + 1]
            for dy, lab, ly in states:
                yy = yr + ch / 2 + dy
                d.wire([(a, yy), (b, yy)] if direction == "fwd" else [(b, yy), (a, yy)])
                d.text((a + b) / 2, yy + ly, lab, anchor="middle")

    caption = _caption(cfg, cols, max_steps)
    for i, line in enumerate(caption):
        d.text(16, y_x + 52 + 18 * i, line, size=12, cls="caption")
    d.height = y_x + 52 + 18 * len(caption)
    d.width = max(cx[-1] + cw / 2 + 30, text_width(title, 17) + 32,
                  *(text_width(s) + 32 for s in caption))  # fmt: skip
    return d


def _state_lines(cfg: LSTMConfig) -> list[tuple[float, str, float]]:
    """The states between two cells: (offset from the row's middle, label, the label's
    offset from its line): h above C for the LSTM, h alone for the GRU."""
    h = (-7.0, f"h {dims(cfg, cfg.h_out)}", -12.0)
    if not cfg.kind.carried:
        return [(0.0, h[1], -8.0)]
    return [h, (7.0, f"C {dims(cfg, cfg.hidden_size)}", 22.0)]


def _caption(cfg: LSTMConfig, cols: list[int | None], max_steps: int) -> list[str]:
    """What is drawn, and the shapes returned: output, h_n and (the LSTM's) c_n."""
    H, Ho, T, L, D = cfg.hidden_size, cfg.h_out, cfg.seq_len, cfg.num_layers, cfg.num_directions
    bs, bl = ("", "") if cfg.batch is None else (f"{cfg.batch}, ", "B, ")
    caption = []
    if None in cols:
        first = f"steps 0 to {max_steps - 2}" if max_steps > 2 else "step 0"
        gone = (
            f"step {T - 2} is"
            if max_steps - 1 == T - 2
            else f"steps {max_steps - 1} to {T - 2} are"
        )
        caption.append(f"T = {T}: {first} and {T - 1} drawn; {gone} elided (\u2026).")
    back = "; bwd runs from t = T-1 down to 0" if "backward" in cfg.directions else ""
    own, which = ("bwd", "backward") if cfg.direction == "reverse" else ("fwd", "forward")
    caption.append(
        f"A cell is one layer and direction at one step (L0 {own}: layer 0, {which}){back}."
    )
    if cfg.bidirectional:
        caption.append(f"cat = [forward h_t, backward h_t]: {Ho} + {Ho} = {D * Ho} entries.")
    carried = bool(cfg.kind.carried)
    c_n, c_layout = (
        (f"; c_n ({D * L}, {bs}{H})", f", c_n (D*layers, {bl}H)") if carried else ("", "")
    )
    caption.append(f"output ({bs}{T}, {cfg.output_size}); h_n ({D * L}, {bs}{Ho}){c_n}")
    caption.append(f"PyTorch's layout: output ({bl}T, D*h_out), h_n (D*layers, {bl}h_out)"
                   f"{c_layout}.")  # fmt: skip
    return caption
