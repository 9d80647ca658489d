"""explain's numbers (computed independently here), the heatmap, and terminal exports."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace import HookEvent, LSTMConfig, forward, init_input, init_weights, trace
from lstm_trace.cli import main
from lstm_trace.gate_map import GateChoice, parse_gate
from lstm_trace.render.heatmap import fit_columns
from lstm_trace.walkthrough import walkthrough


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(
    ("i", "h", "bi", "layers", "proj"),
    [(32, 70, False, 1, 0), (10, 20, True, 2, 0), (7, 5, False, 3, 0), (16, 64, True, 1, 12)],
)
def test_explain_numbers(i: int, h: int, bi: bool, layers: int, proj: int) -> None:
    text = flat(
        walkthrough(
            LSTMConfig(
                input_size=i, hidden_size=h, bidirectional=bi, num_layers=layers, proj_size=proj
            )
        )
    )
    h_out = proj or h
    x = h_out + i
    assert f"X = [h_(t-1), x_t] {h_out} + {i} = {x}" in text
    assert f"f_t = sigmoid(W_f X + b_f) ({h} x {x})({x}) + ({h}) -> ({h})" in text
    assert f"h_t = o_t * tanh(C_t) ({h}) * ({h}) -> ({h})" in text
    assert "Note the tanh in h_t = o_t * tanh(C_t)" in text
    keras = 4 * (h * x + h)
    assert f"four gates: 4 x ({h} x {x} + {h}) = {keras:,}" in text
    if proj:
        assert f"W_hr ({proj} x {h} = {proj * h:,})" in text
        assert (
            f"{keras + 4 * h + proj * h:,}" in text
            and "Keras has no LSTM with a projection" in text
        )
    else:
        assert f"That is what Keras reports: {keras:,}. PyTorch reports {keras + 4 * h:,}" in text
    assert f"{h_out} forward + {h_out} backward = {2 * h_out}" in text
    d = 2 if bi else 1
    x2 = h_out + d * h_out
    assert f"Its X is {h_out} + {d * h_out} = {x2}, so its W_f is {h} x {x2}" in text


def test_walkthrough_explain_says_the_classic_numbers() -> None:
    text = flat(walkthrough(LSTMConfig()))
    for phrase in (
        "70 + 32 = 102",
        "(70 x 102)(102) + (70) -> (70)",
        "= 28,840",
        "PyTorch reports 29,120",
        "70 forward + 70 backward = 140",
        "Bidirectional, layer 1 would read 140 and its X would be 70 + 140 = 210",
    ):
        assert phrase in text


def test_explain_command_terminal_and_markdown(capsys: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["explain", "--input", "10", "--hidden", "20", "--bidirectional"]) == 0
    out = capsys.readouterr().out
    assert "20 + 10 = 30" in out and "This LSTM is bidirectional" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert main(["explain", "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("# The LSTM cell with input 32 and hidden 70\n")
    assert "```text\nX = [h_(t-1), x_t]        70 + 32 = 102\n```" in md
    assert main(["explain", "--hidden", "0"]) == 2


def test_trace_heatmap_keeps_the_right_values_and_downsamples() -> None:
    cfg = LSTMConfig(
        input_size=3, hidden_size=4, seq_len=10, bidirectional=True, batch=2, dtype="float64"
    )
    seen = []

    def hook(e: HookEvent) -> None:
        if e.name == "input_gate" and e.direction == "backward":
            seen.append((e.step, e.value[0].copy()))

    w, x = init_weights(cfg), init_input(cfg)
    forward(w, x, hooks=[hook])
    full = trace(cfg, w, x, maps=True).heatmap("input_gate", 0, "backward")
    expected = np.stack([v for _, v in sorted(seen, key=lambda s: s[0])])
    np.testing.assert_allclose(full.matrix, expected, atol=1e-15)
    small = trace(cfg, w, x, maps=True, map_rows=3).heatmap("input_gate", direction="backward")
    assert small.matrix.shape == (3, 4)  # rows = min(T, map_rows)
    # rows hold steps [0, 4), [4, 7), [7, 10): row r gets steps t with t * 3 // 10 == r
    np.testing.assert_allclose(small.matrix[0], expected[0:4].mean(axis=0), atol=1e-15)
    np.testing.assert_allclose(small.matrix[2], expected[7:10].mean(axis=0), atol=1e-15)
    assert "mean of 3 or 4 consecutive steps (T = 10 in 3 rows)" in small.rule
    assert small.first_steps == [0, 4, 7]


def test_fit_columns_averages_units() -> None:
    m = np.arange(2 * 10, dtype=float).reshape(2, 10)
    out, group = fit_columns(m, 4)
    assert group == 3 and out.shape == (2, 4)
    np.testing.assert_allclose(out[0], [1.0, 4.0, 7.0, 9.0])  # last group has one unit


def test_parse_gate() -> None:
    assert parse_gate(
        "forget_gate@1:backward", LSTMConfig(num_layers=2, bidirectional=True)
    ) == GateChoice("forget_gate", 1, "backward")
    for bad, words in (
        ("hidden_state", "expected one of"),
        ("input_gate@2", "layer 2"),
        ("input_gate:backward", "no backward"),
    ):
        with pytest.raises(Exception, match=words):
            parse_gate(bad, LSTMConfig(num_layers=2))


def test_heatmap_cli_piped_uses_shades_and_states_the_rule(capsys: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert (
        main(["--format", "heatmap", "-T", "100", "--hidden", "150", "--gate", "output_gate"]) == 0
    )
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if re.match(r"t=\d", line)]
    assert len(rows) == 48  # 100 steps in 48 rows, one per line without colour
    assert all(len(r) <= 80 for r in rows)
    assert "each row is the mean of 2 or 3 consecutive steps (T = 100 in 48 rows)" in flat(out)
    assert "each column is the mean of 3 consecutive units (150 units)" in flat(out)
    assert "\x1b" not in out
    assert main(["--format", "heatmap", "--gate", "cell_state"]) == 2


def test_export_svg_and_html(tmp_path: Path, capsys: Any) -> None:
    svg, html = tmp_path / "t.svg", tmp_path / "t.html"
    assert main(["--export-svg", str(svg), "--export-html", str(html)]) == 0
    out, err = capsys.readouterr()
    assert "Weights" in out and f"wrote {svg}" in err
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert "70 x 102" in svg.read_text().replace("&#160;", " ")
    assert "<html" in html.read_text() and "forget_gate" in html.read_text()
    assert main(["--format", "heatmap", "--export-svg", str(tmp_path / "h.svg")]) == 0
    assert "fill" in (tmp_path / "h.svg").read_text()  # coloured even when piped
    assert main(["--json", "--export-svg", str(tmp_path / "j.svg")]) == 2


def test_svg_and_png_from_the_cli(tmp_path: Path, capsys: Any) -> None:
    import shutil

    svg = tmp_path / "cell.svg"
    assert main(["--bidirectional", "-L", "2", "--svg", str(svg), "--json"]) == 0
    text = svg.read_text()
    ET.fromstring(text)
    assert "140" in text and "70x210" in text.replace(" ", "")  # layer 1 reads 140, W is 70 x 210
    heat = tmp_path / "heat.svg"
    assert main(["--format", "heatmap", "-T", "120", "--svg", str(heat)]) == 0
    assert "heatmap-cells" in heat.read_text()
    capsys.readouterr()
    png = tmp_path / "cell.png"
    code = main(["--png", str(png), "--json"])
    if shutil.which("rsvg-convert") or shutil.which("chromium"):
        assert code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert code == 1 and "rsvg-convert or chromium" in capsys.readouterr().err
        assert not png.exists()


def test_explain_names_the_right_h_n_index(capsys: Any, tmp_path: Path) -> None:
    """What explain says of h_n holds: h_n[-1] == output[:, 0, H:] for a stacked bi-LSTM."""
    text = flat(walkthrough(LSTMConfig(bidirectional=True, num_layers=2, hidden_size=5)))
    assert "h_n[-1], is the state after reading t = 0: output[:, 0, 5:]" in text
    cfg = LSTMConfig(bidirectional=True, num_layers=2, hidden_size=5, batch=3, input_size=4)
    out, (h_n, _) = forward(init_weights(cfg), init_input(cfg))
    np.testing.assert_array_equal(h_n[-1], out[:, 0, 5:])
    assert not np.array_equal(h_n[1], out[:, 0, 5:])  # h_n[1] is layer 0, not the output's
