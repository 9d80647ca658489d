"""The health views: each gate's saturated share low and high, and its marks over time."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from lstm_trace import LSTMConfig, trace
from lstm_trace.cli import main
from lstm_trace.render.health_view import marks, mostly_note
from lstm_trace.render.markdown import render_markdown
from lstm_trace.render.table import render_table
from lstm_trace.render.tree import render_tree

from .test_health_segments import driven, gates_of, signs, trace_validator


def plain(renderable: object, width: int = 80) -> str:
    out = io.StringIO()
    Console(file=out, width=width, no_color=True, color_system=None).print(renderable)
    return out.getvalue()


def test_marks_are_absolute_eighths() -> None:
    shares = [0.0, 1e-6, 0.125, 0.1251, 0.5, 0.875, 0.876, 1.0]
    assert marks(shares) == "·▁▁▂▄▇██"


def half_and_half(cell: str = "lstm", steps: int = 20) -> Any:
    cfg = LSTMConfig(input_size=1, hidden_size=2, seq_len=steps, dtype="float64", cell=cell)
    gains = {"f": 1.0} if cell == "lstm" else {"z": -1.0}
    return trace(cfg, driven(cfg, gains), signs(steps, steps // 2), samples=0)


def test_the_table_shows_each_side_and_its_marks_over_time_at_80_columns() -> None:
    text = plain(render_table(half_and_half()))
    lines = [line.rstrip() for line in text.splitlines()]
    assert max(len(line) for line in lines) <= 80
    start = lines.index("Gate health, every step (saturated share, low and high side)")
    rows = [" ".join(line.split()) for line in lines[start + 2 : start + 8]]
    assert rows[0] == "layer direction gate low high low over time high over time"
    assert set(rows[1]) == {"─"}
    assert rows[2:] == [
        "0 forward forget 50.0% 50.0% █████····· ·····█████",
        "input 0.0% 0.0% ·········· ··········",
        "candidate 0.0% 0.0% ·········· ··········",
        "output 0.0% 0.0% ·········· ··········",
    ]
    assert "the 20 steps in 10 segments (2 steps each)" in " ".join(text.split())


def test_the_tree_shows_each_side_and_its_marks_over_time() -> None:
    text = plain(render_tree(half_and_half("gru", steps=10)))
    assert max(len(line) for line in text.splitlines()) <= 80
    # z high (keeps h_(t-1)) while x < 0, then low (takes n_t)
    assert "│   ├── update     low  50.0%  high  50.0%  ·····█████ █████·····\n" in text
    # r and n read nothing: the same value at every step, so stuck
    assert "│   ├── reset      low   0.0%  high   0.0%  ·········· ··········, 2 stuck" in text
    words = " ".join(text.split())
    assert "over time: the 10 steps in 10 segments (one step each), t = 0 on the left" in words


def test_markdown_shows_the_sides_and_stuck_units_and_nan() -> None:
    cfg = LSTMConfig(input_size=1, hidden_size=2, seq_len=20, dtype="float64")
    w = driven(cfg, {"f": 1.0})  # the other gates read nothing: every unit of them is stuck
    x = signs(20, 10)
    x[19] = np.nan  # the last step: W_hh = 0 would still carry a NaN h_t on (0 x NaN)
    md = render_markdown(trace(cfg, w, x, samples=0))
    # step 19's values are NaN: on neither side, counted apart; segment [18, 20) is half NaN
    assert "| 0 | forward | forget | 50.0% | 45.0% | █████····· | ·····████▄ |" in md
    assert "|   |   | input | 0.0% | 0.0% | ·········· | ·········· |" in md
    assert "layer 0 forward forget 2 NaN/Inf; layer 0 forward input 2 stuck, 2 NaN/Inf" in md
    assert "First NaN or Inf: step 19, layer 0, forward, x." in md


def test_the_cli_table_and_json_of_a_weights_file(tmp_path: Path, capsys: Any) -> None:
    cfg = LSTMConfig(input_size=1, hidden_size=2, seq_len=25)
    d = driven(cfg, {"f": 1.0, "c": -3.0}).layers[0][0]
    np.savez(
        tmp_path / "w.npz",
        weight_ih_l0=d.w_ih, weight_hh_l0=d.w_hh, bias_ih_l0=d.b_ih, bias_hh_l0=d.b_hh,
    )  # fmt: skip
    np.save(tmp_path / "x.npy", signs(25, 6).astype(np.float32))
    args = ["--weights", str(tmp_path / "w.npz"), "--x", str(tmp_path / "x.npy")]
    assert main([*args, "--samples", "0"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    # segments [0,2) [2,5) [5,7) [7,10) ...: step 5 low, step 6 on high
    assert "forget 24.0% 76.0% ██▄······· ··▄███████" in out
    assert "candidate 76.0% 24.0% ··▄███████ ██▄·······" in out  # -3 x: the other way round
    assert (
        "Half or more on one side: forget high 76.0% (layer 0 forward); "
        "candidate low 76.0% (layer 0 forward). "
    ) in out
    assert main([*args, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    validator = trace_validator()
    assert list(validator.iter_errors(doc)) == []
    f = gates_of(doc["health"])["forget_gate"]
    assert (f["saturated_low"], f["saturated_high"]) == (0.24, 0.76)


def test_the_gates_mostly_on_one_side_are_named_six_at_most() -> None:
    gates = [
        {"layer": k, "direction": "forward", "gate": "forget_gate", "saturated_low": 0.0,
         "saturated_high": 0.5 + k / 100}
        for k in range(8)
    ]  # fmt: skip
    gates[0] |= {"saturated_high": 0.49, "saturated_low": 0.51}
    note = mostly_note({"gates": gates}, ["forget_gate"])
    assert note.startswith("Half or more on one side: forget low 51.0% (layer 0 forward); ")
    assert "forget high 51.0% (layer 1 forward)" in note and "layer 6" not in note
    assert note.endswith("forget high 55.0% (layer 5 forward); and 2 more. ")
    assert mostly_note({"gates": gates[:0]}, ["forget_gate"]) == ""


def test_a_gate_saturated_throughout_still_fits_80_columns() -> None:
    cfg = LSTMConfig(input_size=1, hidden_size=2, seq_len=25, direction="bi")
    # x = -10 throughout: f = sigmoid(10.2) high, the candidate tanh(-29.8) low, every step
    text = plain(render_table(trace(cfg, driven(cfg, {"f": -1.0, "c": 3.0}), signs(25, 25))))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    assert "layer direction gate low high low over time high over time" in lines  # one line
    assert "0 forward forget 0.0% 100% ·········· ██████████" in lines
    assert "candidate 100% 0.0% ██████████ ··········" in lines
