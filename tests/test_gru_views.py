"""The walkthrough views of a GRU (and of a reverse-only or peephole LSTM): the words and
numbers each view says, computed here from the sizes, not from the cell's helpers."""

from __future__ import annotations

import io
import os
import re

import numpy as np
import pytest
from rich.console import Console

from lstm_trace import HookEvent, LSTMConfig, forward, init_input, init_weights
from lstm_trace.gate_map import parse_gate
from lstm_trace.render.common import config_line
from lstm_trace.render.heatmap import render_heatmap
from lstm_trace.render.markdown import render_markdown
from lstm_trace.render.png import svg_to_png
from lstm_trace.render.svg import render_cell_svg, render_svg, render_unrolled_svg
from lstm_trace.render.table import render_table
from lstm_trace.render.tree import render_tree
from lstm_trace.trace import trace
from lstm_trace.walkthrough import walkthrough

from .test_svg import NS, PICTURES, dims, layout_problems, parse, self_contained, texts

GRU = LSTMConfig(cell="gru", seq_len=2)
GRU_RA0_REVERSE = LSTMConfig(cell="gru", seq_len=2, reset_after=False, direction="reverse")


def plain(renderable: object, width: int = 120) -> str:
    """A Rich renderable as plain text, without colour."""
    out = io.StringIO()
    Console(file=out, width=width, no_color=True, color_system=None).print(renderable)
    return out.getvalue()


def flat(text: str) -> str:
    return " ".join(text.split())


# --- the configuration line ------------------------------------------------------------------


def test_config_line_names_the_cell_and_what_is_set() -> None:
    assert config_line(GRU) == "GRU input=32 hidden=70 layers=1 uni unbatched T=2 float32 seed=0"
    assert config_line(GRU_RA0_REVERSE) == (
        "GRU input=32 hidden=70 layers=1 reverse reset_after=False unbatched T=2 float32 seed=0"
    )
    peep = LSTMConfig(peepholes=True, bias=False, direction="bi", batch=4)
    assert config_line(peep) == (
        "LSTM input=32 hidden=70 layers=1 bi no-bias peepholes batch=4 T=3 float32 seed=0"
    )
    # the LSTM's line as it always was
    assert config_line(LSTMConfig()) == (
        "LSTM input=32 hidden=70 layers=1 uni unbatched T=3 float32 seed=0"
    )


# --- table, markdown, tree -------------------------------------------------------------------


def test_gru_table_and_markdown_say_gru_words() -> None:
    t = trace(GRU)
    for text in (plain(render_table(t, frameworks=True)), render_markdown(t, frameworks=True)):
        words = flat(text)
        assert "GRU input=32 hidden=70" in words
        assert "LSTM" not in words and "cell state" not in words and "C_t" not in words
        assert "c_prev" not in words and "c_n" not in words
        # 3 gates of 70 x (70 + 32), the candidate's two halves apart: 21,840 in all
        assert "Keras 21,840; PyTorch 21,840; ONNX 21,840" in words
        for symbol in ("r_t", "z_t", "rh_t", "n_t", "h_t"):
            assert symbol in words
        assert "(1 - z_t) * n_t + z_t * h_(t-1)" in words
        assert "Gate slices of the 3H axis" in words


def test_gru_health_columns_are_its_gates() -> None:
    md = render_markdown(trace(GRU))
    # a row per gate, in the GRU's order, the layer and direction on the first
    assert "| layer | direction | gate | low | high | low over time | high over time |" in md
    assert "| 0 | forward | reset | 0.0% | 0.0% |" in md
    assert "|   |   | update | 0.0% | 0.0% |" in md
    assert "|   |   | candidate | 0.0% | 0.0% |" in md
    assert "forget" not in md


def test_reverse_gru_without_pytorch_form_in_every_view() -> None:
    t = trace(GRU_RA0_REVERSE)
    md = flat(render_markdown(t))
    # reset_after=False: one bias per gate in Keras, 3 x (70 x 102 + 70) = 21,630
    assert f"Keras {3 * (70 * 102 + 70):,}; none in PyTorch" in md
    assert "`r_t * h_(t+1)`" in md  # a reverse layer reads its state from t+1
    assert (
        "This layer runs backward only (direction reverse): it reads x_t from t = T-1 down "
        "to 0; its h_prev at step t is its state from step t+1." in md
    )
    tree = flat(plain(render_tree(t)))
    assert tree.startswith("GRU input=32 hidden=70 layers=1 reverse reset_after=False")
    assert "parameters: Keras 21,630, PyTorch none (PyTorch's nn.GRU" in tree
    assert "layer 0 backward │ ├── reset low 0.0% high 0.0% ·· ·· │ ├── update" in tree  # T=2


def test_tree_of_a_peephole_lstm_says_none_where_a_framework_has_no_layer() -> None:
    tree = flat(plain(render_tree(trace(LSTMConfig(peepholes=True, seq_len=1)))))
    assert "parameters: Keras none (Keras's LSTM has no peepholes), " in tree
    assert "PyTorch none (nn.LSTM has no peepholes)" in tree


def test_bidirectional_lstm_backward_note_names_both_states() -> None:
    md = flat(render_markdown(trace(LSTMConfig(direction="bi", seq_len=1))))
    assert "its h_prev and c_prev at step t are its states from step t+1" in md


# --- the heatmap -------------------------------------------------------------------------------


def test_gru_heatmap_shows_the_update_gate() -> None:
    cfg = LSTMConfig(cell="gru", input_size=3, hidden_size=4, seq_len=6, dtype="float64")
    seen: list[tuple[int, np.ndarray]] = []

    def hook(e: HookEvent) -> None:
        if e.name == "update_gate":
            seen.append((e.step, e.value.copy()))

    w, x = init_weights(cfg), init_input(cfg)
    forward(w, x, hooks=[hook])
    choice = parse_gate("update_gate", cfg)
    heat = trace(cfg, w, x, maps=True).heatmap(choice.gate, choice.layer, choice.direction)
    expected = np.stack([v for _, v in sorted(seen, key=lambda s: s[0])])
    np.testing.assert_allclose(heat.matrix, expected, atol=1e-15)
    text = plain(render_heatmap(heat.matrix, "update_gate", "z_t", heat.rule, 40,
                                heat.first_steps, color=False))  # fmt: skip
    assert "one row per step (T = 6)" in text and "one column per unit (4 units)" in text


# --- explain ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("i", "h"), [(32, 70), (10, 20), (7, 5)])
def test_gru_explain_numbers(i: int, h: int) -> None:
    text = flat(walkthrough(LSTMConfig(cell="gru", input_size=i, hidden_size=h)))
    x = h + i
    assert text.startswith(f"# The GRU cell with input {i} and hidden {h}")
    assert "LSTM" in text  # only to say what the GRU does differently
    assert "C_t" not in text and "cell state:" in text  # "carries no separate cell state:"
    # three blocks, stacked as rows r, z, n
    assert "so it has 3 blocks" in text
    assert f"w_ih is {3 * h} x {i} and w_hh {3 * h} x {h} (3 x {h} = {3 * h} rows" in text
    assert f"where an LSTM's have 4 x {h} = {4 * h}" in text
    assert f"X = [h_(t-1), x_t] {h} + {i} = {x}" in text
    assert f"r_t = sigmoid(W_r X + b_r) ({h} x {x})({x}) + ({h}) -> ({h})" in text
    assert f"z_t = sigmoid(W_z X + b_z) ({h} x {x})({x}) + ({h}) -> ({h})" in text
    # the reset gate inside the candidate, after the product with W_hn
    assert f"rh_t = r_t * (W_hn h_(t-1) + b_hn) ({h}) * (({h} x {h})({h}) + ({h})) -> ({h})" in text
    assert f"n_t = tanh(W_in x_t + b_in + rh_t) ({h} x {i})({i}) + ({h}) + ({h}) -> ({h})" in text
    assert (
        "rh_t = r_t * h_(t-1) and n_t = tanh(W_n [rh_t, x_t] + b_n), which PyTorch cannot" in text
    )
    assert f"h_t = (1 - z_t) * n_t + z_t * h_(t-1) ({h}) * ({h}) + ({h}) * ({h}) -> ({h})" in text
    # the counts: 3H (I + H) weights and 2 x 3H biases in both frameworks
    both = 3 * h * (i + h) + 6 * h
    assert f"W_r, W_z 2 x ({h} x {x}) = {2 * h * x:,}" in text
    assert f"W_in {h} x {i} = {h * i:,}" in text and f"W_hn {h} x {h} = {h * h:,}" in text
    assert f"biases 2 x 3 x {h} = {6 * h:,} total = {both:,}" in text
    assert f"both report {both:,}, unlike for an LSTM" in text
    assert f"Keras reports {3 * h * (i + h) + 3 * h:,} and PyTorch has no such layer" in text
    assert f"parameters Keras {both:,}, PyTorch {both:,}" in text


def test_gru_explain_walkthrough_says_21840_and_21630() -> None:
    text = flat(walkthrough(LSTMConfig(cell="gru")))
    assert "both report 21,840" in text and "Keras reports 21,630" in text
    ra0 = flat(walkthrough(LSTMConfig(cell="gru", reset_after=False)))
    assert "rh_t = r_t * h_(t-1) (70) * (70) -> (70)" in ra0
    assert "n_t = tanh(W_n [rh_t, x_t] + b_n) (70 x 102)(102) + (70) -> (70)" in ra0
    assert "W_r, W_z, W_n 3 x (70 x 102) = 21,420 biases 3 x 70 = 210 total = 21,630" in ra0
    assert "PyTorch's nn.GRU cannot compute it" in ra0
    assert "stores 21,840, two biases per gate" in ra0
    assert "parameters Keras 21,630, none in PyTorch (PyTorch's nn.GRU resets after" in ra0


def test_gru_explain_without_biases_layers_and_directions() -> None:
    text = flat(walkthrough(LSTMConfig(cell="gru", bias=False, num_layers=2, direction="bi")))
    assert "r_t = sigmoid(W_r X) (70 x 102)(102) -> (70)" in text
    assert "W_r, W_z 2 x (70 x 102) = 14,280 W_in 70 x 32 = 2,240 W_hn 70 x 70 = 4,900 " in text
    assert "total = 21,420" in text and "biases 2 x" not in text
    assert "This GRU is bidirectional" in text and "70 forward + 70 backward = 140" in text
    # one layer, both directions, no biases: 2 x 3 x 70 x 102
    assert f"The parameters double: {2 * 21420:,} in Keras, {2 * 21420:,} in PyTorch" in text
    # layer 1 reads 140: W_r is 70 x (70 + 140), W_in 70 x 140
    assert "This GRU has 2 layers: layer 1 reads the outputs of layer 0, 140 numbers" in text
    assert "so its W_r is 70 x 210 and its W_in is 70 x 140." in text
    layer1 = 3 * 70 * (140 + 70)
    assert f"parameters Keras {2 * (21420 + layer1):,}, PyTorch {2 * (21420 + layer1):,}" in text


def test_gru_explain_reset_after_false_without_biases_has_no_pytorch_count() -> None:
    text = flat(walkthrough(LSTMConfig(cell="gru", bias=False, reset_after=False)))
    assert "n_t = tanh(W_n [rh_t, x_t]) (70 x 102)(102) -> (70)" in text
    assert "W_r, W_z, W_n 3 x (70 x 102) = 21,420 total = 21,420" in text
    assert "the weights alone: 21,420, in Keras (PyTorch has no such layer)." in text


def test_reverse_gets_its_sentence_in_both_cells() -> None:
    for cell, title in (("lstm", "LSTM"), ("gru", "GRU")):
        text = flat(walkthrough(LSTMConfig(cell=cell, direction="reverse", seq_len=5)))
        assert f"This {title} runs backward only (direction reverse): its one cell reads x_t " \
               "from t = 4 down to 0" in text  # fmt: skip
        assert f"PyTorch's nn.{title} has no backward-only form" in text
        assert "1 layer, backward only: parameters" in text
    assert "backward only" not in flat(walkthrough(LSTMConfig()))


def test_lstm_explain_with_peepholes() -> None:
    text = flat(walkthrough(LSTMConfig(peepholes=True)))
    assert "f_t = sigmoid(W_f X + p_f * C_(t-1) + b_f)" in text
    assert "(70 x 102)(102) + (70) * (70) + (70) -> (70)" in text
    assert "o_t = sigmoid(W_o X + p_o * C_t + b_o)" in text
    assert "C~_t = tanh(W_c X + b_c)" in text  # the candidate has no peephole
    # 4 x 70 x 102 + 8 x 70 + 3 x 70 in ONNX; none in PyTorch and Keras
    assert f"add 3 x 70 = 210 parameters per layer and direction: ONNX counts " \
           f"{4 * 70 * 102 + 8 * 70 + 210:,}" in text  # fmt: skip
    assert "none in Keras (Keras's LSTM has no peepholes), none in PyTorch" in text
    assert "peepholes" not in walkthrough(LSTMConfig())


def test_explain_code_lines_fit_80_columns() -> None:
    """A line that would not fit has its shapes on the next line, under the equation."""
    wide = [
        LSTMConfig(peepholes=True),
        LSTMConfig(cell="gru", input_size=300, hidden_size=1024),
        LSTMConfig(cell="gru", input_size=300, hidden_size=1024, reset_after=False),
    ]
    for cfg in wide:
        text = walkthrough(cfg)
        blocks = re.findall(r"```text\n(.*?)```", text, flags=re.S)
        assert max(len(line) for b in blocks for line in b.splitlines()) <= 76
    gru = walkthrough(wide[1])
    assert (
        "rh_t = r_t * (W_hn h_(t-1) + b_hn)\n"
        "       (1024) * ((1024 x 1024)(1024) + (1024)) -> (1024)\n" in gru
    )
    peep = walkthrough(wide[0])
    assert (
        "i_t  = sigmoid(W_i X + p_i * C_(t-1) + b_i)\n"
        "       (70 x 102)(102) + (70) * (70) + (70) -> (70)\n" in peep
    )
    # the lines that fit keep the usual column
    assert "C~_t = tanh(W_c X + b_c)       (70 x 102)(102) + (70) -> (70)" in peep


# --- the pictures -----------------------------------------------------------------------------

GRU_PICTURES = [
    LSTMConfig(cell="gru"),
    LSTMConfig(cell="gru", reset_after=False),
    LSTMConfig(cell="gru", input_size=5, hidden_size=3, seq_len=1, bias=False),
    LSTMConfig(cell="gru", input_size=300, hidden_size=1024, seq_len=12, num_layers=3, batch=256),
    LSTMConfig(cell="gru", num_layers=2, direction="bi", batch=4, seq_len=5),
    LSTMConfig(cell="gru", num_layers=2, direction="reverse", seq_len=6, reset_after=False),
    LSTMConfig(direction="reverse", seq_len=3, peepholes=True),
]
PICTURE_IDS = [
    "walkthrough",
    "ra0",
    "tiny-no-bias",
    "large",
    "bi-2-layer",
    "reverse-ra0",
    "lstm-rev",
]


@pytest.mark.parametrize("cfg", GRU_PICTURES, ids=PICTURE_IDS)
def test_gru_and_reverse_pictures_have_no_overlaps(cfg: LSTMConfig) -> None:
    assert layout_problems(render_cell_svg(cfg)) == []
    for steps in (2, 4):
        assert layout_problems(render_unrolled_svg(cfg, steps)) == []


@pytest.mark.parametrize("cfg", GRU_PICTURES[:5], ids=PICTURE_IDS[:5])
def test_gru_cell_labels_carry_the_shapes(cfg: LSTMConfig) -> None:
    svg = render_cell_svg(cfg)
    self_contained(svg)
    labels = texts(parse(svg))
    h, i = cfg.hidden_size, cfg.input_size
    x = h + i
    assert labels[0].startswith(f"GRU cell: input {i}, hidden {h}")
    expected = [
        f"h_(t-1) {dims(cfg, h)}",
        f"x_t {dims(cfg, i)}",
        f"X = [h, x] {dims(cfg, x)}",
        f"z_t {dims(cfg, h)}",
        f"r_t {dims(cfg, h)}",
        f"rh_t {dims(cfg, h)}",
        f"n_t {dims(cfg, h)}",
        f"1-z_t {dims(cfg, h)}",
        f"(1-z_t)*n_t {dims(cfg, h)}",
        f"z_t*h_(t-1) {dims(cfg, h)}",
        f"h_t {dims(cfg, h)}",
        f"W_z {h}x{x}",
        f"W_r {h}x{x}",
        "\u03c3 update",
        "\u03c3 reset",
        "tanh candidate",
    ]
    if cfg.reset_after:  # the candidate reads x_t alone, and W_hn h_(t-1) apart
        expected += [f"W_in {h}x{i}", f"W_hn {h}x{h}", "recurrent"]
    else:  # one W_n over [rh_t, x_t]
        expected += [f"W_n {h}x{x}"]
    if cfg.bias:
        expected += [f"b_z {h}", f"b_r {h}", f"b_in {h}" if cfg.reset_after else f"b_n {h}"]
    else:
        assert labels.count("no bias") == (4 if cfg.reset_after else 3)
    assert [s for s in expected if s not in labels] == []
    assert labels.count(dims(cfg, x)) == 2  # X into the reset and the update gates only
    for lstm_word in ("C_t", "C_(t-1)", "f_t", "o_t", "cell state"):
        assert not any(lstm_word in s for s in labels)
    assert "GRU cell diagram" in svg


def test_gru_reset_after_false_says_pytorch_has_none() -> None:
    labels = texts(parse(render_cell_svg(LSTMConfig(cell="gru", reset_after=False))))
    assert labels[0] == "GRU cell: input 32, hidden 70, reset_after=False"
    assert any("rh_t = r_t * h_(t-1)" in s and "PyTorch has no such layer" in s for s in labels)
    assert "recurrent" not in labels and not any("W_hn" in s for s in labels)


def test_gru_unrolled_has_one_state_line() -> None:
    cfg = LSTMConfig(cell="gru", seq_len=3)
    labels = texts(parse(render_unrolled_svg(cfg)))
    assert labels[0] == "Unrolled over T = 3: 1 GRU layer, unidirectional"
    assert labels.count("h (70)") == 2  # between steps 0-1 and 1-2
    assert not any(s.startswith("C (") for s in labels)
    assert "output (3, 70); h_n (1, 70)" in labels
    assert not any("c_n" in s for s in labels)
    lstm = texts(parse(render_unrolled_svg(LSTMConfig(seq_len=3))))
    assert lstm.count("h (70)") == 2 and lstm.count("C (70)") == 2


def test_reverse_unrolled_has_one_backward_row() -> None:
    cfg = LSTMConfig(cell="gru", seq_len=3, num_layers=2, direction="reverse")
    root = parse(render_unrolled_svg(cfg))
    labels = texts(root)
    assert labels[0] == "Unrolled over T = 3: 2 GRU layers, backward only"
    assert labels.count("L0 bwd") == 3 and labels.count("L1 bwd") == 3
    assert not any("fwd" in s and s.startswith("L") for s in labels) and "cat" not in labels
    assert any("(L0 bwd: layer 0, backward); bwd runs from t = T-1 down to 0" in s for s in labels)
    # the states run right to left: every h arrow between cells ends left of where it starts
    points = [
        [float(p.split(",")[0]) for p in el.attrib["points"].split()]
        for el in root.iter(f"{NS}polyline")
    ]
    horizontal = [xs for xs in points if len(xs) == 2 and xs[0] != xs[1]]
    assert len(horizontal) == 4 and all(xs[1] < xs[0] for xs in horizontal)


def test_render_svg_of_a_gru_draws_the_gru() -> None:
    svg = render_svg(LSTMConfig(cell="gru", seq_len=3))
    labels = texts(parse(svg))
    assert (
        labels[0].startswith("GRU cell:")
        and "Unrolled over T = 3: 1 GRU layer, unidirectional" in labels
    )
    assert "<title>GRU cell and unrolled network</title>" in svg


def test_gru_example_picture_is_current() -> None:
    """examples/pictures/gru-walkthrough.svg is what render_svg draws now; UPDATE_GOLDEN=1
    rewrites it, and its PNG when rsvg-convert (or chromium) is there."""
    svg = render_svg(LSTMConfig(cell="gru", input_size=32, hidden_size=70, seq_len=3))
    path = PICTURES / "gru-walkthrough.svg"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(svg, encoding="utf-8")
        path.with_suffix(".png").write_bytes(svg_to_png(svg))
    assert svg == path.read_text(encoding="utf-8"), f"{path} differs; UPDATE_GOLDEN=1 redraws it"
    assert path.stat().st_size < 200_000


def test_markdown_keeps_parentheses_of_prose_outside_code_spans() -> None:
    md = render_markdown(trace(GRU_RA0_REVERSE), frameworks=True)
    assert "no equivalent layer (PyTorch's nn.GRU resets after the recurrent product" in md
    assert "| `output (go_backwards=True)` | in reading order, t = T-1 first |" in md
    assert "`(go_backwards" not in md and "`(reset_after" not in md
