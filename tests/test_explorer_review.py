"""The explorer page, reviewed (no browser): what a page holds stays within its bound for
every shape of run, what it says is true to the Trace, and a page that cannot be written is
one line on stderr."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from lstm_trace import LSTMConfig
from lstm_trace.render.explorer import explorer_page, held_steps
from lstm_trace.render.explorer.budget import (
    STATS_NUMBERS,
    VALUE_BUDGET,
    step_cost,
    step_numbers,
)

from .conftest import run_cli
from .test_explorer import embedded, floats, page_of


def test_a_held_step_costs_its_stats_too() -> None:
    # H = 1, I = 1: 11 numbers of values a step, but ten hook points of stats
    cfg = LSTMConfig(input_size=1, hidden_size=1, seq_len=100_000)
    assert step_numbers(cfg) == 1 + 1 + 1 + 2 + 6 * 1
    assert step_cost(cfg) == step_numbers(cfg) + 10 * STATS_NUMBERS
    held = held_steps(cfg)
    assert len(held.steps) == VALUE_BUDGET // step_cost(cfg)
    assert "numbers of values and stats" in held.rule
    bi = LSTMConfig(input_size=1, hidden_size=1, seq_len=100_000, num_layers=2, direction="bi")
    # layer 1 reads 2 H = 2 inputs: 13 numbers; 10 points at each of four places
    assert step_cost(bi) == (11 + 13) * 2 + 40 * STATS_NUMBERS
    assert len(held_steps(bi).steps) * step_cost(bi) <= VALUE_BUDGET


def test_a_long_run_of_one_unit_stays_under_10_mb() -> None:
    # every step's values fit the budget, but the stats of 20,000 steps made a 13 MB page
    cfg = LSTMConfig(input_size=1, hidden_size=1, seq_len=20_000)
    page, result = page_of(cfg)
    assert len(page.encode()) < 10_000_000
    data = embedded(page)
    assert len(data["steps"]["held"]) == VALUE_BUDGET // step_cost(cfg) < 20_000
    assert data["steps"]["held"] == list(result.selection.steps)


def test_the_step_view_says_how_its_strips_are_coloured() -> None:
    page, _ = page_of(LSTMConfig(input_size=3, hidden_size=4, seq_len=3))
    head = page.split('id="lt-data"')[0]
    assert "on the scale of the tensor's heatmap when the step's values fit it" in head
    assert "over \u00b1m, m its largest |value| at the step" in head


def test_a_page_of_samples_does_not_call_its_strip_every_unit() -> None:
    from lstm_trace import trace

    result = trace(LSTMConfig(input_size=3, hidden_size=8, seq_len=3), maps=True)
    head = explorer_page(result).split('id="lt-data"')[0]
    assert "<th>first 4 (samples)</th><th>the samples</th>" in head
    assert "every unit</th>" not in head
    page, _ = page_of(LSTMConfig(input_size=3, hidden_size=8, seq_len=3))
    assert "<th>values</th><th>every unit</th>" in page


@pytest.mark.parametrize("also", [(), ("-f", "json"), ("-f", "jsonl"), ("--dump", "run.npz")])
def test_a_page_that_cannot_be_written_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], also: tuple[str, ...]
) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    args = [a if a != "run.npz" else str(tmp_path / a) for a in also]
    code, _, err = run_cli(capsys, "-T", "3", "-H", "4", *args, "--html", "/dev/full")
    errors = [line for line in err.splitlines() if "error" in line]
    assert code == 1 and errors == [
        "lstm-trace: error: /dev/full: cannot write it (No space left on device)"
    ]
    assert "Traceback" not in err


@pytest.mark.parametrize("other", [("--svg", "cell.svg"), ("--dump", "run.npz"), ("-f", "json")])
def test_a_folder_for_the_page_is_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], other: tuple[str, str]
) -> None:
    folder = tmp_path / "pages.html"
    folder.mkdir()
    option, name = other
    extra = [option, str(tmp_path / name) if option != "-f" else name]
    code, out, err = run_cli(capsys, "-T", "3", "-H", "4", *extra, "--html", folder)
    assert code == 1 and out == ""
    assert err == f"lstm-trace: error: {folder}: is a directory, not a file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pages.html"]  # nothing else written


CONFIGS = {
    "T=1": LSTMConfig(input_size=3, hidden_size=4, seq_len=1),
    "H=1": LSTMConfig(input_size=3, hidden_size=1, seq_len=5),
    "I=1": LSTMConfig(input_size=1, hidden_size=4, seq_len=5),
    "B=3": LSTMConfig(input_size=3, hidden_size=4, seq_len=5, batch=3),
    "float64": LSTMConfig(input_size=3, hidden_size=4, seq_len=5, dtype="float64"),
    "bi 2-layer": LSTMConfig(
        input_size=3, hidden_size=4, seq_len=5, num_layers=2, direction="bi", batch=2
    ),
    "reverse": LSTMConfig(input_size=3, hidden_size=4, seq_len=5, direction="reverse"),
    "proj": LSTMConfig(input_size=3, hidden_size=5, seq_len=5, proj_size=2, direction="bi"),
    "peepholes": LSTMConfig(input_size=3, hidden_size=4, seq_len=5, peepholes=True),
    "no bias": LSTMConfig(input_size=3, hidden_size=4, seq_len=5, bias=False),
    "gru reset before": LSTMConfig(
        cell="gru", input_size=3, hidden_size=4, seq_len=5, num_layers=2, reset_after=False
    ),
    "long, wide": LSTMConfig(input_size=2, hidden_size=300, seq_len=700),
}


@pytest.mark.parametrize("cfg", CONFIGS.values(), ids=CONFIGS.keys())
def test_the_page_shows_the_traces_values_stats_and_maps(cfg: LSTMConfig) -> None:
    """Against an independent trace of every step: each held step's values (batch row 0)
    and stats (the whole batch), and each heatmap cell as the mean of its steps and units."""
    from lstm_trace import trace

    page, _ = page_of(cfg)
    data = embedded(page)
    every = trace(cfg, steps="all", keep_values=True, samples=0)
    assert every.values is not None
    records = {(r.layer, r.direction, r.step, r.name): r.stats for r in every.tensors}
    held, T = data["steps"]["held"], cfg.seq_len
    for place in data["steps"]["places"]:
        k, d = place["layer"], place["direction"]
        for point in place["points"]:
            shown = floats(point["values"]).reshape(len(held), point["units"])
            for i, step in enumerate(held):
                value = every.values[(point["name"], k, d, step)]
                row0 = value[0] if value.ndim == 2 else value
                np.testing.assert_allclose(shown[i], row0.astype(np.float32), rtol=1e-6)
                want = records[(k, d, step, point["name"])]
                got = point["stats"][i]
                assert got[:4] == pytest.approx([want.min, want.max, want.mean, want.std], rel=1e-6)
                assert got[4:] == [want.nan, want.inf]
    bounds = [*data["maps"]["first_steps"], T]
    for item in data["maps"]["items"]:
        k, d, n, group = item["layer"], item["direction"], item["units"], item["group"]
        steps = np.stack([every.values[(item["name"], k, d, s)] for s in range(T)])
        steps = steps[:, 0] if steps.ndim == 3 else steps  # batch row 0
        rows = [steps[a:b].mean(axis=0) for a, b in itertools.pairwise(bounds)]
        cols = np.stack(
            [np.stack(rows)[:, c : min(n, c + group)].mean(axis=1) for c in range(0, n, group)],
            axis=1,
        )
        shown = floats(item["data"]).reshape(data["maps"]["rows"], item["cols"])
        np.testing.assert_allclose(shown, cols, rtol=1e-5, atol=1e-6)
