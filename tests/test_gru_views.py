"""The walkthrough views of a GRU (and of a reverse-only or peephole LSTM): the words and
numbers each view says, computed here from the sizes, not from the cell's helpers."""

from __future__ import annotations

import io

import numpy as np
from rich.console import Console

from lstm_trace import HookEvent, LSTMConfig, forward, init_input, init_weights
from lstm_trace.heatmap import HeatmapCollector, parse_gate
from lstm_trace.render.common import config_line
from lstm_trace.render.heatmap import render_heatmap
from lstm_trace.render.markdown import render_markdown
from lstm_trace.render.table import render_table
from lstm_trace.render.tree import render_tree
from lstm_trace.trace import trace

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
    assert "| layer | direction | reset | update | candidate |" in md
    assert "forget" not in md


def test_reverse_gru_without_pytorch_form_in_every_view() -> None:
    t = trace(GRU_RA0_REVERSE)
    md = flat(render_markdown(t))
    # reset_after=False: one bias per gate in Keras, 3 x (70 x 102 + 70) = 21,630
    assert f"Keras {3 * (70 * 102 + 70):,}; none in PyTorch" in md
    assert "`r_t * h_(t-1)`" in md
    assert (
        "This layer runs backward only (direction reverse): it reads x_t from t = T-1 down "
        "to 0; its h_prev at step t is its state from step t+1." in md
    )
    tree = flat(plain(render_tree(t)))
    assert tree.startswith("GRU input=32 hidden=70 layers=1 reverse reset_after=False")
    assert "parameters: Keras 21,630, PyTorch none (PyTorch's nn.GRU" in tree
    assert "layer 0 backward: reset" in tree


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
    collector = HeatmapCollector(parse_gate("update_gate", cfg), cfg)
    forward(w, x, observer=collector)
    expected = np.stack([v for _, v in sorted(seen, key=lambda s: s[0])])
    np.testing.assert_allclose(collector.matrix(), expected, atol=1e-15)
    text = plain(render_heatmap(collector.matrix(), "update_gate", "z_t", collector.rule(), 40,
                                list(range(6)), color=False))  # fmt: skip
    assert "one row per step (T = 6)" in text and "one column per unit (4 units)" in text
