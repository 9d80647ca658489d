"""The explorer page (--html) without a browser: one self-contained file, its embedded data
true to the Trace, what it says it holds, its size bound, and the command line's --html."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace import LSTMConfig, init_input, init_weights
from lstm_trace.render.explorer import explorer_page, held_steps, page_map_rows, page_trace
from lstm_trace.render.explorer.budget import MAP_ROWS, VALUE_BUDGET, step_cost, step_numbers
from lstm_trace.trace import Trace

from .conftest import run_cli

WALKTHROUGH = LSTMConfig(input_size=32, hidden_size=70, seq_len=40)


def page_of(config: LSTMConfig, **kwargs: Any) -> tuple[str, Trace]:
    result, holding = page_trace(config, **kwargs)
    return explorer_page(result, holding.rule), result


def embedded(page: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="lt-data">(.*?)</script>', page, re.S)
    assert found is not None
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def floats(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4")


def point(data: dict[str, Any], layer: int, direction: str, name: str) -> dict[str, Any]:
    place = next(
        p for p in data["steps"]["places"] if (p["layer"], p["direction"]) == (layer, direction)
    )
    found: dict[str, Any] = next(p for p in place["points"] if p["name"] == name)
    return found


def map_item(data: dict[str, Any], layer: int, direction: str, name: str) -> dict[str, Any]:
    return next(
        i
        for i in data["maps"]["items"]
        if (i["layer"], i["direction"], i["name"]) == (layer, direction, name)
    )


def assert_self_contained(page: str) -> None:
    """Nothing the page names is fetched: no address, no src=, no href= but to its own parts."""
    assert not re.search(r"https?://", page)
    assert "src=" not in page
    assert set(re.findall(r'href="([^"]*)"', page)) <= {
        "#lt-overview",
        "#lt-heatmaps",
        "#lt-steps",
        "#lt-health",
        "#lt-pictures",
    }
    assert "<link" not in page and "@import" not in page
    assert set(re.findall(r"url\(([^)]*)\)", page)) <= {
        f"#lt-svg{k}-{m}" for k in (0, 1) for m in ("arrow", "arrow-c")
    }


def test_the_walkthrough_page_shows_its_numbers_and_holds_every_step() -> None:
    page, _ = page_of(WALKTHROUGH)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    for text in ("70 x 102", "70 + 32 = 102", "4 x 7,140 = 28,560", "Keras 28,840", "<svg"):
        assert text in page, text
    assert 'type="range" id="lt-step"' in page and 'max="39"' in page
    assert "Values held for all 40 steps" in page
    assert_self_contained(page)
    data = embedded(page)
    assert data["steps"]["held"] == list(range(40)) and data["steps"]["kind"] == "values"
    assert data["reductions"] == []  # every step, every unit: nothing reduced
    assert data["maps"]["rows"] == 40 and data["maps"]["rule"] == "one row per step (T = 40)"
    names = [i["name"] for i in data["maps"]["items"]]
    assert names == [*WALKTHROUGH.kind.report_order, "hidden_state", "cell_state"]


def test_the_values_and_maps_embedded_are_the_traces() -> None:
    page, result = page_of(WALKTHROUGH)
    data = embedded(page)
    held = data["steps"]["held"]
    assert result.values is not None and result.maps is not None
    for name in ("x", "concat", "forget_gate", "cell_state", "hidden_state"):
        p = point(data, 0, "forward", name)
        values = floats(p["values"]).reshape(len(held), p["units"])
        for i, step in enumerate(held):
            np.testing.assert_array_equal(values[i], result.values[(name, 0, "forward", step)])
        record = next(r for r in result.tensors if (r.name, r.step) == (name, 7))
        assert p["stats"][7][:2] == pytest.approx([record.stats.min, record.stats.max], 1e-6)
    item = map_item(data, 0, "forward", "input_gate")
    shown = floats(item["data"]).reshape(data["maps"]["rows"], item["cols"])
    np.testing.assert_allclose(shown, result.maps.matrix("input_gate"), rtol=1e-6)
    assert item["scale"]["kind"] == "unit"
    assert map_item(data, 0, "forward", "candidate")["scale"] == {
        "kind": "signed",
        "limit": 1.0,
        "text": "-1 .. 1 (tanh)",
    }


def test_a_gru_page_maps_its_own_gates_and_h() -> None:
    gru = LSTMConfig(cell="gru", input_size=32, hidden_size=70, seq_len=12)
    page, _ = page_of(gru)
    assert "2 x 7,140 = 14,280" in page and "PyTorch 21,840" in page and "<svg" in page
    data = embedded(page)
    assert [i["name"] for i in data["maps"]["items"]] == [
        "reset_gate",
        "update_gate",
        "candidate",
        "hidden_state",
    ]
    names = [p["name"] for p in data["steps"]["places"][0]["points"]]
    assert names == list(gru.kind.hook_points) and "cell_state" not in names
    assert_self_contained(page)


def test_a_bidirectional_two_layer_page_has_every_place() -> None:
    bi = LSTMConfig(input_size=32, hidden_size=70, num_layers=2, direction="bi", seq_len=6)
    page, result = page_of(bi, steps="1,4")
    assert "57,680" in page or "140" in page
    data = embedded(page)
    places = [(p["layer"], p["direction"]) for p in data["places"]]
    assert places == [(0, "forward"), (0, "backward"), (1, "forward"), (1, "backward")]
    assert {(i["layer"], i["direction"]) for i in data["maps"]["items"]} == set(places)
    assert data["steps"]["held"] == [1, 4]
    assert data["steps"]["rule"] == "steps 1, 4 of 6 (--steps)"
    assert "Values held for steps 1, 4 of 6 (--steps)" in page
    assert "Values are held for steps 1, 4 of 6 (--steps)." in data["reductions"]
    x = point(data, 1, "backward", "x")  # layer 1 reads both directions of layer 0: 140
    assert x["units"] == 140 and x["shape"] == "(140,)"
    assert result.values is not None
    np.testing.assert_array_equal(
        floats(x["values"]).reshape(2, 140)[1], result.values[("x", 1, "backward", 4)]
    )


def test_a_nan_run_holds_its_first_bad_step_and_offers_the_jump() -> None:
    cfg = LSTMConfig(input_size=32, hidden_size=64, seq_len=4000)
    x = init_input(cfg)
    x[2345, 1] = np.nan
    page, _ = page_of(cfg, x=x, must=[2345])
    data = embedded(page)
    assert data["first_nonfinite"] == {
        "step": 2345,
        "layer": 0,
        "direction": "forward",
        "gate": "x",
    }
    held = data["steps"]["held"]
    assert 2345 in held and len(held) < 4000  # a long run holds a few steps, the bad one too
    assert 'id="lt-jump-nan" data-step="2345"' in page
    assert "First NaN or Inf: step 2345, layer 0, forward, x." in page
    assert data["steps"]["rule"].endswith(", and step 2,345 (the first NaN or Inf)")
    forget = point(data, 0, "forward", "forget_gate")
    assert forget["stats"][held.index(2345)][4] == 64  # NaN in every unit of the gate


def test_a_batched_page_says_it_shows_batch_row_0() -> None:
    cfg = LSTMConfig(input_size=5, hidden_size=4, seq_len=3, batch=2)
    page, result = page_of(cfg)
    data = embedded(page)
    assert any("batch row 0 of 2" in r for r in data["reductions"])
    h = point(data, 0, "forward", "hidden_state")
    assert h["shape"] == "(2, 4)" and h["units"] == 4
    assert result.values is not None
    np.testing.assert_array_equal(
        floats(h["values"]).reshape(3, 4)[2], result.values[("hidden_state", 0, "forward", 2)][0]
    )


def test_a_trace_without_maps_or_values_still_makes_a_page() -> None:
    from lstm_trace import trace

    result = trace(WALKTHROUGH, steps="0,5", maps=False)
    page = explorer_page(result)
    data = embedded(page)
    assert data["maps"] is None and "kept no heatmaps" in page
    assert data["steps"]["kind"] == "samples" and point(data, 0, "forward", "x")["units"] == 4


def test_held_steps_fit_the_budget_evenly_spaced() -> None:
    cfg = LSTMConfig(input_size=32, hidden_size=256, seq_len=5000)
    holding = held_steps(cfg)
    per_step = step_numbers(cfg)
    assert per_step == 32 + 256 + 256 + 288 + 6 * 256  # x, h_prev, c_prev, concat, 4 gates, C, h
    assert len(holding.steps) == VALUE_BUDGET // step_cost(cfg)  # values and stats
    assert holding.steps[0] == 0 and holding.steps[-1] == 4999 and holding.reduced
    gaps = np.diff(holding.steps)
    assert gaps.max() - gaps.min() <= 1
    assert holding.rule.startswith("192 evenly spaced steps of 5,000")
    assert held_steps(cfg, "3,9").steps == (3, 9) and not held_steps(cfg, "3,9").reduced
    assert page_map_rows(cfg) == MAP_ROWS
    wide = LSTMConfig(input_size=32, hidden_size=256, seq_len=5000, num_layers=2, direction="bi")
    assert page_map_rows(wide) < MAP_ROWS  # four places share the maps' budget


def test_the_long_wide_page_stays_under_10_mb_and_says_what_it_reduced() -> None:
    cfg = LSTMConfig(input_size=32, hidden_size=256, seq_len=5000)
    page, _ = page_of(cfg)
    assert len(page.encode()) < 10_000_000
    data = embedded(page)
    assert data["maps"]["rows"] == 500 and len(data["steps"]["held"]) == 192
    assert (
        "Heatmap rows: each row is the mean of 10 consecutive steps (T = 5000 in 500 rows)."
        in (data["reductions"])
    )
    assert any(r.startswith("Values are held for 192 evenly spaced") for r in data["reductions"])
    assert "each row is the mean of 10 consecutive steps" in page.split('id="lt-data"')[0]


def test_wide_layers_average_units_as_the_terminal_does() -> None:
    cfg = LSTMConfig(input_size=8, hidden_size=600, seq_len=3)
    page, result = page_of(cfg)
    data = embedded(page)
    item = map_item(data, 0, "forward", "forget_gate")
    assert item["group"] == 3 and item["cols"] == 200 and item["units"] == 600
    assert (
        "Heatmap columns of 600 units: each is the mean of 3 consecutive units."
        in (data["reductions"])
    )
    assert result.maps is not None
    shown = floats(item["data"]).reshape(3, 200)
    full = result.maps.matrix("forget_gate")
    np.testing.assert_allclose(shown[:, 1], full[:, 3:6].mean(axis=1), rtol=1e-6)


def test_a_tensor_wider_than_a_page_holds_keeps_its_first_units_and_says_so() -> None:
    cfg = LSTMConfig(input_size=2, hidden_size=4100, seq_len=2)
    page, result = page_of(cfg)
    data = embedded(page)
    assert "Values of a tensor wider than 4,096: its first 4,096." in data["reductions"]
    concat = point(data, 0, "forward", "concat")
    assert concat["units"] == 4096 and concat["shape"] == "(4102,)"
    assert result.values is not None
    np.testing.assert_array_equal(
        floats(concat["values"]).reshape(2, 4096)[1],
        result.values[("concat", 0, "forward", 1)][:4096],
    )
    assert point(data, 0, "forward", "x")["units"] == 2
    narrow, _ = page_of(LSTMConfig(input_size=2, hidden_size=70, seq_len=2))
    assert not any("wider" in r for r in embedded(narrow)["reductions"])


def test_long_maps_are_merged_to_the_pages_rows() -> None:
    """A trace with more rows than a page holds (a library caller's) is merged, each row
    weighed by its steps."""
    from lstm_trace import trace

    cfg = LSTMConfig(input_size=4, hidden_size=3, seq_len=1003)
    result = trace(cfg, maps=True, map_rows=1003, steps="0")
    data = embedded(explorer_page(result))
    assert data["maps"]["rows"] == MAP_ROWS
    item = map_item(data, 0, "forward", "output_gate")
    shown = floats(item["data"]).reshape(MAP_ROWS, 3)
    assert result.maps is not None
    full = result.maps.matrix("output_gate")  # one row per step
    first = data["maps"]["first_steps"]
    np.testing.assert_allclose(shown[1], full[first[1] : first[2]].mean(axis=0), rtol=1e-5)
    assert "(T = 1003 in 500 rows)" in data["maps"]["rule"]


def test_the_page_escapes_what_it_embeds() -> None:
    page, _ = page_of(LSTMConfig(input_size=3, hidden_size=2, seq_len=2))
    script = page.split('id="lt-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in script  # nothing inside can end the element early
    assert embedded(page)["config"].startswith("LSTM input=3 hidden=2")


# --- the command line ----------------------------------------------------------------------


def test_html_writes_the_page_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "run.html"
    code, out, err = run_cli(capsys, "-T", "12", "--html", target)
    assert code == 0, err
    assert f"lstm-trace: wrote {target}\n" in err
    assert "Weights" in out  # the table view still prints, as with --svg
    page = target.read_text()
    assert_self_contained(page)
    data = embedded(page)
    assert data["steps"]["held"] == list(range(12)) and data["maps"]["rows"] == 12


def test_html_keeps_the_printed_trace_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, plain, _ = run_cli(capsys, "-T", "9", "--json")
    code, with_page, _ = run_cli(capsys, "-T", "9", "--json", "--html", tmp_path / "p.html")
    assert code == 0 and with_page == plain


def test_html_takes_the_weights_file_steps_and_jsonl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lstm_trace.formats.writing import write_weights

    cfg = LSTMConfig(input_size=3, hidden_size=2, seq_len=5, cell="gru")
    write_weights(tmp_path / "w.npz", init_weights(cfg, seed=3), "pytorch")
    target = tmp_path / "gru.html"
    args = ("--weights", tmp_path / "w.npz", "-T", "5", "-f", "jsonl", "--steps", "0,3")
    code, out, err = run_cli(capsys, *args, "--html", target)
    assert code == 0, err
    assert f"wrote {target}" in err
    assert json.loads(out.splitlines()[0])["steps"]["selected"] == [0, 3]  # the stream's own
    data = embedded(target.read_text())
    assert data["cell"] == "gru" and data["steps"]["held"] == [0, 3]
    page = target.read_text()
    # from a file: the frameworks' tables too, with the shapes, not under gate health
    overview, health = page.split('id="lt-overview"')[1].split('id="lt-health"')
    assert "Stored tensors" in overview and "Gate slices" in overview
    assert "Stored tensors" not in health.split('id="lt-pictures"')[0]


def test_html_holds_the_first_nan_of_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = np.random.default_rng(0).standard_normal((30, 32)).astype(np.float32)
    x[17, 5] = np.nan
    np.save(tmp_path / "x.npy", x)
    target = tmp_path / "nan.html"
    code, _, err = run_cli(capsys, "--x", tmp_path / "x.npy", "--steps", "0,1", "--html", target)
    assert code == 0, err
    data = embedded(target.read_text())
    assert data["steps"]["held"] == [0, 1, 17]
    assert data["first_nonfinite"]["step"] == 17


@pytest.mark.parametrize(
    ("name", "code", "words"),
    [
        ("page.svg", 2, "--html {path}: expected a file name ending in .html or .htm"),
        ("missing/page.html", 1, "the folder"),
    ],
)
def test_a_bad_html_path_is_one_line_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, code: int, words: str
) -> None:
    path = tmp_path / name
    status, out, err = run_cli(capsys, "--html", path)
    assert status == code and out == ""
    assert err.count("\n") == 1 and err.startswith("lstm-trace: error: ")
    assert words.format(path=path) in err
    assert not path.exists()


def test_a_page_too_big_for_max_memory_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.html"
    run = ("-T", "500", "-H", "64", "--max-memory", "50MB")
    assert run_cli(capsys, *run)[0] == 0  # the run alone fits; its page's 500 steps do not
    code, out, err = run_cli(capsys, *run, "--html", path)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("lstm-trace: error: --max-memory: with --html, this run needs about")
    assert "(the page keeps the values of 500 steps; --steps keeps fewer)" in err
    assert not path.exists()
    assert run_cli(capsys, *run, "--steps", "0:50", "--html", path)[0] == 0


def test_html_and_export_html_are_told_apart_in_the_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run_cli(capsys, "--help")
    text = " ".join(out.split())
    assert code == 0
    assert "the explorer is --html" in text and "Write the explorer" in text


def test_the_pages_script_and_style_are_package_data() -> None:
    """pip install . ships explorer.js and explorer.css only if pyproject.toml names them."""
    import fnmatch
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib

    root = Path(__file__).parent.parent
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["lstm_trace.render.explorer"]
    folder = root / "lstm_trace" / "render" / "explorer"
    assets = [p.name for p in folder.iterdir() if p.suffix in (".js", ".css")]
    assert sorted(assets) == ["explorer.css", "explorer.js"]
    assert all(any(fnmatch.fnmatch(a, p) for p in patterns) for a in assets)
