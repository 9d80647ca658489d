"""The explorer page in a real headless Chromium (the system's, driven by Playwright): it runs
without an error, shows the numbers, and its slider, heatmap tooltips and jump to the first
NaN show the Trace's own values. Skipped without Playwright or a chromium binary."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace import LSTMConfig, init_input
from lstm_trace.render.explorer import explorer_page, page_trace
from lstm_trace.render.png import CHROMIUM_FLAGS
from lstm_trace.trace import Trace

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH")

#: the flags --png launches Chromium with: no network, no first-run work, no GPU (the page
#: must need none of them)
ARGS = list(CHROMIUM_FLAGS)
WALKTHROUGH = LSTMConfig(input_size=32, hidden_size=70, seq_len=40)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Opened:
    """A page in the browser, with every console error and page error it raised."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on(
            "console",
            lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None,
        )
        self.requests: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.as_uri())

    def step_shown(self) -> int:
        return int(self.page.get_attribute("#lt-step-label", "data-step"))

    def first_value(self, name: str) -> float:
        text = self.page.inner_text(f'#lt-values tr[data-name="{name}"] td.lt-vals')
        return float(text.split()[0])

    def set_slider(self, step: int) -> None:
        self.page.eval_on_selector(
            "#lt-step",
            "(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }",
            step,
        )

    def hover_map(self, name: str, row: int, col: int) -> str:
        """Moves the mouse onto the centre of a heatmap's cell; the tooltip's text."""
        canvas = self.page.locator(f'#lt-maps canvas[data-name="{name}"]')
        canvas.evaluate("el => el.scrollIntoView({block: 'center'})")  # clear of the sticky bar
        box = canvas.bounding_box()
        rows, cols = int(canvas.get_attribute("data-rows")), int(canvas.get_attribute("data-cols"))
        x = box["x"] + (col + 0.5) * box["width"] / cols
        y = box["y"] + (row + 0.5) * box["height"] / rows
        self.page.mouse.move(x, y)
        return str(self.page.inner_text("#lt-tip"))


def written(tmp_path: Path, name: str, config: LSTMConfig, **kwargs: Any) -> tuple[Path, Trace]:
    result, holding = page_trace(config, **kwargs)
    path = tmp_path / name
    path.write_text(explorer_page(result, holding.rule))
    return path, result


def value_in(tip: str) -> float:
    line = next(x for x in tip.splitlines() if x.startswith("value "))
    return float(line.split()[1])


def test_the_walkthrough_page_runs_and_shows_its_numbers(browser: Any, tmp_path: Path) -> None:
    path, _ = written(tmp_path, "walkthrough.html", WALKTHROUGH)
    opened = Opened(browser, path)
    text = opened.page.inner_text("body")
    for number in ("70 x 102", "102", "28,560", "70 + 32 = 102"):
        assert number in text, number
    assert opened.page.locator("#lt-maps .lt-box canvas").count() == 6  # 4 gates, h and C
    assert opened.page.locator("#lt-values tbody tr").count() == len(WALKTHROUGH.kind.hook_points)
    assert opened.errors == []
    assert all(url.startswith("file://") for url in opened.requests), opened.requests
    shot = tmp_path / "explorer.png"
    opened.page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000


def test_the_slider_shows_the_held_steps_values(browser: Any, tmp_path: Path) -> None:
    path, result = written(tmp_path, "steps.html", WALKTHROUGH)
    assert result.values is not None
    opened = Opened(browser, path)
    assert opened.step_shown() == 0
    before = opened.first_value("hidden_state")
    assert before == pytest.approx(result.values[("hidden_state", 0, "forward", 0)][0], rel=1e-4)
    opened.set_slider(17)
    assert opened.step_shown() == 17
    assert opened.page.input_value("#lt-step") == "17"
    for name in ("hidden_state", "forget_gate", "x"):
        want = float(result.values[(name, 0, "forward", 17)][0])
        assert opened.first_value(name) == pytest.approx(want, rel=1e-4, abs=1e-6), name
    assert opened.first_value("hidden_state") != before
    # the strip of every unit: its tooltip names a unit and shows that unit's value
    strip = opened.page.locator('#lt-values tr[data-name="cell_state"] canvas')
    strip.evaluate("el => el.scrollIntoView({block: 'center'})")
    box = strip.bounding_box()
    opened.page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    tip = opened.page.inner_text("#lt-tip")
    unit = int(re.search(r"^unit (\d+)$", tip, re.M).group(1))  # type: ignore[union-attr]
    assert abs(unit - 35) <= 1 and "step 17" in tip, tip
    want = float(result.values[("cell_state", 0, "forward", 17)][unit])
    assert value_in(tip) == pytest.approx(want, rel=1e-4, abs=1e-6)
    assert opened.errors == []


def test_the_slider_moves_between_held_steps_only(browser: Any, tmp_path: Path) -> None:
    path, result = written(tmp_path, "some.html", WALKTHROUGH, steps="5,20,30")
    opened = Opened(browser, path)
    assert opened.step_shown() == 5
    opened.set_slider(6)  # a move forward lands on the next held step
    assert opened.step_shown() == 20 and opened.page.input_value("#lt-step") == "20"
    opened.set_slider(19)  # and back, on the one before
    assert opened.step_shown() == 5
    opened.page.click("#lt-next")
    assert opened.step_shown() == 20
    assert result.values is not None
    want = float(result.values[("cell_state", 0, "forward", 20)][0])
    assert opened.first_value("cell_state") == pytest.approx(want, rel=1e-4)


def test_hovering_a_heatmap_cell_shows_its_step_unit_and_value(
    browser: Any, tmp_path: Path
) -> None:
    path, result = written(tmp_path, "hover.html", WALKTHROUGH)
    assert result.maps is not None
    opened = Opened(browser, path)
    for name, row, col in (("input_gate", 5, 9), ("cell_state", 33, 61), ("candidate", 0, 0)):
        tip = opened.hover_map(name, row, col)
        assert f"step {row}\n" in tip and f"unit {col}\n" in tip, tip
        want = float(result.maps.matrix(name)[row, col])
        assert value_in(tip) == pytest.approx(want, rel=1e-4, abs=1e-6), tip
        assert opened.page.get_attribute("#lt-tip", "data-step") == str(row)
    assert opened.errors == []


def test_a_reduced_heatmap_says_which_steps_and_units_a_cell_is(
    browser: Any, tmp_path: Path
) -> None:
    cfg = LSTMConfig(input_size=8, hidden_size=300, seq_len=1000)
    path, result = written(tmp_path, "wide.html", cfg)
    assert result.maps is not None
    opened = Opened(browser, path)
    tip = opened.hover_map("forget_gate", 300, 10)  # 2 steps a row, 2 units a column
    assert "units 20-21\n" in tip and "(mean)" in tip, tip
    # a row is a pixel high here, and the mouse lands on whole pixels: the row it hit
    first = int(re.search(r"^steps (\d+)-(\d+)$", tip, re.M).group(1))  # type: ignore[union-attr]
    assert f"steps {first}-{first + 1}\n" in tip and abs(first - 600) <= 2, tip
    assert value_in(tip) == pytest.approx(
        float(result.maps.matrix("forget_gate")[first // 2, 20:22].mean()), rel=1e-4
    )
    assert opened.errors == []


def test_another_place_shows_its_own_maps_and_values(browser: Any, tmp_path: Path) -> None:
    bi = LSTMConfig(input_size=32, hidden_size=70, num_layers=2, direction="bi", seq_len=8)
    path, result = written(tmp_path, "bi.html", bi)
    assert result.maps is not None and result.values is not None
    opened = Opened(browser, path)
    opened.page.select_option("#lt-place", label="layer 1, backward")
    tip = opened.hover_map("output_gate", 2, 3)
    assert "layer 1, backward" in tip
    want = float(result.maps.matrix("output_gate", 1, "backward")[2, 3])
    assert value_in(tip) == pytest.approx(want, rel=1e-4)
    want = float(result.values[("x", 1, "backward", 0)][0])  # layer 0's output, read by layer 1
    assert opened.first_value("x") == pytest.approx(want, rel=1e-4)
    assert opened.errors == []


def test_the_jump_to_the_first_nan_sets_the_slider_to_its_step(
    browser: Any, tmp_path: Path
) -> None:
    cfg = LSTMConfig(input_size=32, hidden_size=64, seq_len=3000)
    x = init_input(cfg)
    x[1234, 3] = np.inf
    path, result = written(tmp_path, "nan.html", cfg, x=x, must=[1234])
    assert result.health["first_nonfinite"]["step"] == 1234
    opened = Opened(browser, path)
    assert opened.step_shown() == 0
    opened.page.click("#lt-jump-nan")
    assert opened.page.input_value("#lt-step") == "1234" and opened.step_shown() == 1234
    assert opened.page.locator('#lt-values tr.lt-first[data-name="x"]').count() == 1
    assert opened.page.locator("#lt-values tr.lt-nonfinite").count() >= 1
    assert opened.errors == []


def test_a_gru_page_runs(browser: Any, tmp_path: Path) -> None:
    gru = LSTMConfig(cell="gru", input_size=32, hidden_size=70, seq_len=10, batch=2)
    path, result = written(tmp_path, "gru.html", gru)
    assert result.values is not None
    opened = Opened(browser, path)
    assert opened.page.locator("#lt-maps .lt-box canvas").count() == 4  # r, z, n and h
    opened.set_slider(9)
    want = float(result.values[("update_gate", 0, "forward", 9)][0, 0])  # batch row 0
    assert opened.first_value("update_gate") == pytest.approx(want, rel=1e-4)
    assert opened.errors == []
