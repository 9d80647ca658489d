"""The notebook display: a Trace, lstm_trace.explain(...) and a Heatmap as HTML (with the
cell diagram inline) and as text, checked on the objects and in a real executed notebook."""

from __future__ import annotations

import io
import re
import sys
import xml.etree.ElementTree as ET
from html import unescape
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

import lstm_trace as lt
from lstm_trace import HookEvent, LSTMConfig, LSTMTraceError, SelectionError, forward, trace
from lstm_trace.cli import main
from lstm_trace.render.notebook import STYLE, WRAPPER
from lstm_trace.render.table import render_table
from lstm_trace.walkthrough import walkthrough

ROOT = Path(__file__).resolve().parents[1]
BI = LSTMConfig(input_size=32, hidden_size=70, direction="bi")


def table_text(t: lt.Trace, width: int = 100) -> str:
    """The table view as a pipe gets it (no colour, no trailing spaces), printed here on our
    own console."""
    out = io.StringIO()
    Console(file=out, width=width, color_system=None, force_jupyter=False).print(render_table(t))
    return "\n".join(line.rstrip() for line in out.getvalue().split("\n"))


def flat(text: str) -> str:
    return " ".join(text.split())


def html_text(html: str) -> str:
    """The text of HTML without its tags, for phrases split by markup."""
    return flat(unescape(re.sub(r"<[^>]+>", " ", html)))


# --- a Trace ---------------------------------------------------------------------------------


def test_a_trace_shows_its_numbers_diagram_and_health_as_html() -> None:
    t = trace(BI)
    bundle = t._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    html = bundle["text/html"]
    ET.fromstring(html)  # one well-formed element: the wrapper <div>
    assert html.startswith(f'<div class="{WRAPPER}"><style>')
    assert '<p class="lt-headline">LSTM input=32 hidden=70 layers=1 bi unbatched T=3' in html
    # the weights of both directions (70 x 102 each, 4 x 7,140 = 28,560), both totals
    assert html.count("<td>70 x 102</td>") == 2 and html.count("4 x 7,140 = 28,560") == 2
    assert "Parameters: Keras 57,680; PyTorch 58,240; ONNX 58,240" in html
    assert html.count("<svg") == 1 and "70x102" in html  # the cell diagram, shapes on it
    assert "<caption>Gate health, every step" in html and "Saturated low" in html
    assert html.index("<svg") < html.index("Gate health") < html.index("<caption>Outputs")
    assert "<caption>Values, layer 0, backward" in html  # folded, not dropped
    assert html_text(html).count("forget 0.0% 0.0%") == 2  # a health row per direction
    assert html == t._repr_html_()


def test_the_notebook_style_is_scoped_to_its_wrapper() -> None:
    rules = [r.split("{")[0] for r in STYLE.split("}") if "{" in r]
    assert len(rules) > 5 and all(r.startswith(f".{WRAPPER}") for r in rules), rules


def test_a_trace_as_text_is_the_table_view_and_its_repr_one_line() -> None:
    t = trace(BI)
    text = t._repr_mimebundle_()["text/plain"]
    assert text == table_text(t) == str(t)
    assert text.startswith("LSTM input=32 hidden=70 layers=1 bi") and "\x1b" not in text
    assert "28,560" in text and "Gate health" in text
    assert max(len(line) for line in text.splitlines()) <= 100
    assert all(line == line.rstrip() for line in text.splitlines())  # no padding, as in a pipe
    assert repr(t) == (
        "<Trace LSTM input=32 hidden=70 layers=1 bi T=3: 60 records; print() it for the table>"
    )
    assert "Trace(" not in text and "weights=" not in repr(t)


def test_a_captured_trace_shows_itself_as_a_trace_does() -> None:
    from dataclasses import fields

    from lstm_trace.live.replay import LiveTrace

    t = trace(LSTMConfig())
    live = LiveTrace(**{f.name: getattr(t, f.name) for f in fields(lt.Trace)}, name="enc")
    assert repr(live).startswith("<LiveTrace LSTM input=32 hidden=70") and "\n" not in repr(live)
    assert str(live) == str(t) and "28,560" in live._repr_html_()


def test_the_bundle_makes_only_what_the_front_end_asks_for() -> None:
    t = trace(LSTMConfig())
    assert set(t._repr_mimebundle_(include={"text/plain"})) == {"text/plain"}
    assert set(t._repr_mimebundle_(exclude={"text/plain"})) == {"text/html"}


def test_a_gru_trace_shows_its_own_weights_and_diagram() -> None:
    t = trace(LSTMConfig(input_size=32, hidden_size=70, cell="gru"))
    html, text = t._repr_html_(), str(t)
    assert '<p class="lt-headline">GRU input=32 hidden=70' in html
    # r and z read X (70 x 102); the candidate's W_in and W_hn are apart, as rh_t needs
    assert "<td>W_r W_z</td><td>70 x 102</td>" in html and "2 x 7,140 = 14,280" in html
    assert "<td>W_in</td><td>70 x 32</td>" in html and "<td>W_hn</td><td>70 x 70</td>" in html
    assert "Keras 21,840" in html  # 14,280 + 2,240 + 4,900 + 4 x 70 + 140
    assert "<svg" in html and "W_r" in html[html.index("<svg") :]
    assert "c_n" not in html  # a GRU has no cell state to return
    assert text.startswith("GRU input=32") and "2 x 7,140 = 14,280" in text


# --- lstm_trace.explain ----------------------------------------------------------------------


def test_explain_is_the_walkthrough_text_and_html_with_the_diagram(capsys: Any) -> None:
    e = lt.explain(input_size=32, hidden_size=70)
    assert main(["explain", "--format", "markdown"]) == 0
    assert str(e) == repr(e) == capsys.readouterr().out == walkthrough(LSTMConfig())
    bundle = e._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain", "text/markdown"}
    assert bundle["text/plain"] == bundle["text/markdown"] == str(e)
    html = bundle["text/html"]
    assert "<h1>The LSTM cell with input 32 and hidden 70</h1>" in html
    assert html.index("</h1>") < html.index("<svg") < html.index("<h2>")  # the diagram early
    words = html_text(html)
    for phrase in ("70 + 32 = 102", "(70 x 102)(102) + (70) -> (70)", "= 28,840", "29,120"):
        assert phrase in words, phrase
    assert "```" not in html and "<code" in html  # rendered, not the raw Markdown


def test_explain_takes_a_config_a_trace_and_keywords() -> None:
    cfg = LSTMConfig(input_size=10, hidden_size=20, cell="gru")
    assert lt.explain(cfg).text == walkthrough(cfg) == lt.explain(trace(cfg)).text
    assert lt.explain(input_size=10, hidden_size=20, cell="gru").config == cfg
    bi = lt.explain(LSTMConfig(), bidirectional=True)
    assert bi.config.direction == "bi" and "57,680" in bi.text
    assert "proj_size=35" not in lt.explain(proj_size=35).text
    assert lt.explain(proj_size=35).config.proj_size == 35
    assert isinstance(lt.explain(), lt.Explanation)


def test_explain_refuses_what_is_not_a_configuration() -> None:
    with pytest.raises(LSTMTraceError, match=r"got hiden_size: expected .*hidden_size"):
        lt.explain(hiden_size=70)
    with pytest.raises(LSTMTraceError, match="takes an LSTMConfig or a Trace, got int"):
        lt.explain(70)  # type: ignore[arg-type]
    with pytest.raises(LSTMTraceError, match="hidden"):
        lt.explain(hidden_size=0)
    with pytest.raises(LSTMTraceError, match="contradicts"):
        lt.explain(LSTMConfig(), bidirectional=True, direction="uni")


def test_explain_without_markdown_it_shows_the_text_as_it_is(monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, "markdown_it", None)  # importing it now fails
    html = lt.explain()._repr_html_()
    assert "<pre># The LSTM cell with input 32 and hidden 70" in html and "<svg" in html


def test_markdown_it_comes_with_rich() -> None:
    """The HTML uses Rich's own Markdown parser: Rich depends on it, so it is there."""
    from importlib.metadata import requires

    assert any(r.startswith("markdown-it-py") for r in requires("rich") or [])


# --- Trace.heatmap ---------------------------------------------------------------------------


def _gate_steps(cfg: LSTMConfig, name: str, direction: str = "forward") -> np.ndarray:
    """(T, n) values of name at layer 0 and direction, batch row 0, read by a hook."""
    seen: dict[int, np.ndarray] = {}

    def hook(e: HookEvent) -> None:
        if e.name == name and e.layer == 0 and e.direction == direction:
            seen[e.step] = (e.value if e.value.ndim == 1 else e.value[0]).copy()

    forward(lt.init_weights(cfg), lt.init_input(cfg), hooks=[hook])
    return np.stack([seen[s] for s in sorted(seen)])


def test_a_heatmap_is_the_gate_over_time_as_text_and_svg() -> None:
    cfg = LSTMConfig(input_size=3, hidden_size=6, seq_len=7, dtype="float64")
    heat = trace(cfg).heatmap("forget_gate")  # T = 7: kept by itself
    np.testing.assert_allclose(heat.matrix, _gate_steps(cfg, "forget_gate"), atol=1e-15)
    assert (heat.label, heat.span, heat.first_steps) == (
        "forget_gate, layer 0, forward",
        (0.0, 1.0),
        list(range(7)),
    )
    text = str(heat)
    assert text.startswith("forget_gate, layer 0, forward (rows: steps, columns: units)")
    assert len(re.findall(r"^t=\d", text, re.M)) == 7 and "0 .. 1 (shades" in text
    assert "one row per step (T = 7)" in flat(text) and "\x1b" not in text
    svg = heat.svg()
    root = ET.fromstring(svg.split("?>", 1)[1])
    assert root.tag.endswith("svg") and len(root.findall(".//{*}rect[@fill]")) >= 7 * 6
    html = heat._repr_html_()
    assert "<svg" in html and "heatmap-cells" in html and "forget_gate, layer 0" in html
    assert not html.lstrip().startswith("<?xml")
    assert heat._repr_mimebundle_()["text/plain"] == text
    assert repr(heat) == "<Heatmap forget_gate, layer 0, forward: 7 rows x 6 units; one row " \
        "per step (T = 7)>"  # fmt: skip


def test_a_heatmap_of_the_states_states_its_scale() -> None:
    cfg = LSTMConfig(input_size=3, hidden_size=5, seq_len=6, dtype="float64", seed=3)
    t = trace(cfg, maps=True)
    c = _gate_steps(cfg, "cell_state")
    cell = t.heatmap("cell_state")
    largest = float(np.abs(c).max())
    assert cell.span == pytest.approx((-largest, largest), abs=1e-12)
    # the largest |C_t| lands on an end of the scale, everything inside it
    assert np.abs(cell.scaled() - 0.5).max() == pytest.approx(0.5)
    said = f"C_t: the colours run over [-{largest:.3g}, {largest:.3g}], its largest |value|"
    assert said in flat(str(cell))
    svg = cell.svg()
    assert "its largest |value|" in flat(html_text(svg))
    ticks = re.findall(r'class="tick">([^<]+)<', svg)[-3:]  # the colour bar, top first
    assert ticks == [f"{largest:.3g}", "0", f"-{largest:.3g}"]
    gate_ticks = re.findall(r'class="tick">([^<]+)<', t.heatmap("forget_gate").svg())[-3:]
    assert gate_ticks == ["1", "0.5", "0"]
    h = t.heatmap("hidden_state")
    np.testing.assert_allclose(h.matrix, _gate_steps(cfg, "hidden_state"), atol=1e-15)
    assert h.span == (-1.0, 1.0) and "h_t: the colours run over [-1, 1]." in flat(str(h))
    candidate = t.heatmap("candidate")
    assert candidate.span == (-1.0, 1.0) and "-1 .. 1" in str(candidate)
    projected = trace(LSTMConfig(hidden_size=8, proj_size=3, seq_len=4, seed=1), maps=True)
    p = projected.heatmap("hidden_state")
    assert p.matrix.shape == (4, 3) and p.span[1] == pytest.approx(np.abs(p.matrix).max())


def test_a_heatmap_of_a_gru_and_of_a_backward_upper_layer() -> None:
    gru = trace(LSTMConfig(cell="gru", hidden_size=4, seq_len=5), maps=True)
    assert gru.heatmap().name == "reset_gate"  # the GRU's first gate by default
    assert gru.heatmap("update_gate").matrix.shape == (5, 4)
    cfg = LSTMConfig(hidden_size=4, seq_len=5, num_layers=2, direction="bi")
    heat = trace(cfg, maps=True).heatmap("input_gate", layer=1, direction="backward")
    assert heat.label == "input_gate, layer 1, backward"
    long = trace(LSTMConfig(hidden_size=4, seq_len=100), maps=True, map_rows=8)
    assert long.heatmap().matrix.shape == (8, 4)
    assert "each row is the mean of 12 or 13 consecutive steps (T = 100 in 8 rows)" in (
        long.heatmap().rule
    )


def test_a_heatmap_refuses_in_one_line_what_the_trace_has_not() -> None:
    with pytest.raises(LSTMTraceError, match=r"kept no maps.*trace\(\.\.\., maps=True\)"):
        trace(LSTMConfig(), maps=False).heatmap()
    with pytest.raises(LSTMTraceError, match="maps=True"):
        trace(LSTMConfig(hidden_size=4, seq_len=600)).heatmap()  # long: none kept by itself
    t = trace(LSTMConfig(num_layers=2))
    for args, words in (
        (("forget",), "no gate or state 'forget': expected one of forget_gate, input_gate"),
        (("forget_gate", 2), "layer 2 does not exist: this LSTM has layers 0 to 1"),
        (("forget_gate", True), "layer True does not exist"),
        (("forget_gate", 0, "backward"), "direction 'backward' does not exist: .* forward"),
    ):
        with pytest.raises(SelectionError, match=words) as caught:
            t.heatmap(*args)
        assert "\n" not in str(caught.value)
    with pytest.raises(SelectionError, match=r"hidden_state$"):
        trace(LSTMConfig(cell="gru")).heatmap("cell_state")  # a GRU has no C_t


def test_the_cli_heatmap_is_the_traces_heatmap(capsys: Any, monkeypatch: Any) -> None:
    """--format heatmap draws Trace.heatmap of a trace with maps of 48 rows."""
    monkeypatch.setenv("COLUMNS", "80")
    args = ["-T", "100", "--hidden", "30", "-L", "2", "--bidirectional"]
    assert main(["--format", "heatmap", *args, "--gate", "candidate@1:backward"]) == 0
    out = capsys.readouterr().out
    cfg = LSTMConfig(seq_len=100, hidden_size=30, num_layers=2, direction="bi")
    heat = trace(cfg, maps=True, map_rows=48).heatmap("candidate", 1, "backward")
    expected = io.StringIO()
    Console(file=expected, width=80, color_system=None).print(heat.renderable(80, color=False))
    assert out == expected.getvalue() and "-1 .. 1" in out


# --- a real notebook -------------------------------------------------------------------------

CELLS = [
    "import sys, lstm_trace as lt\nprint(sys.executable)\nprint(lt.__file__)",
    "t = lt.trace(lt.LSTMConfig(32, 70, bidirectional=True))\nt",
    "lt.explain(input_size=32, hidden_size=70)",
    't.heatmap("forget_gate")',
    'lt.trace(lt.LSTMConfig(32, 70, cell="gru"))',
]


def test_a_real_notebook_shows_the_trace_explain_and_heatmap(monkeypatch: Any) -> None:
    """The cells run by nbclient on an ipykernel kernel, which imports this tree's code."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the kernel is a new process: this tree
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()
    outputs = [cell.outputs for cell in nb.cells]
    printed = "".join(o.get("text", "") for o in outputs[0] if o.output_type == "stream")
    python, package = printed.split()
    assert Path(python).resolve() == Path(sys.executable).resolve()  # the tests' own Python
    assert Path(package) == ROOT / "lstm_trace" / "__init__.py"
    shown = []
    for cell_outputs in outputs[1:]:
        results = [o for o in cell_outputs if o.output_type == "execute_result"]
        assert len(results) == 1, cell_outputs
        shown.append(results[0].data)
    bi, explained, heat, gru = shown
    assert "4 x 7,140 = 28,560" in bi["text/html"] and "57,680" in bi["text/html"]
    assert "<svg" in bi["text/html"] and "Gate health" in bi["text/html"]
    assert bi["text/plain"].startswith("LSTM input=32 hidden=70 layers=1 bi")
    assert "28,560" in bi["text/plain"] and "Trace(" not in bi["text/plain"]
    assert "<h1>The LSTM cell with input 32 and hidden 70</h1>" in explained["text/html"]
    assert "<svg" in explained["text/html"] and "28,840" in explained["text/html"]
    assert explained["text/plain"].startswith("# The LSTM cell with input 32 and hidden 70")
    assert "heatmap-cells" in heat["text/html"]
    assert heat["text/plain"].startswith("forget_gate, layer 0, forward")
    assert "2 x 7,140 = 14,280" in gru["text/html"] and "<svg" in gru["text/html"]
    assert gru["text/plain"].startswith("GRU input=32 hidden=70")


def test_import_loads_no_display_code_until_asked() -> None:
    """`import lstm_trace` loads neither the walkthrough, the heatmaps nor Rich; explain,
    Explanation and Heatmap are made on first use."""
    import subprocess

    code = (
        "import sys, lstm_trace\n"
        "names = ('lstm_trace.walkthrough', 'lstm_trace.heatmaps', 'lstm_trace.render', 'rich')\n"
        "print(sorted(m for m in sys.modules if m.startswith(names)))\n"
        "from lstm_trace import explain, Explanation, Heatmap\n"
        "print(explain.__module__, Explanation.__name__, Heatmap.__module__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == [
        "[]",
        "lstm_trace.walkthrough.explanation Explanation lstm_trace.heatmaps",
    ]
