"""The explorer page in headless Chromium, reviewed: a trace of every shape draws without an
error, the strips of every unit are coloured on their own place's scale, the slider works from
the keyboard and keeps its room on a narrow page. Skipped without Playwright or chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lstm_trace import LSTMConfig
from lstm_trace.render.explorer import explorer_page
from lstm_trace.trace import trace

from .test_explorer_browser import Opened, browser, written

__all__ = ["browser"]  # the fixture, shared with test_explorer_browser

#: the two ends of the diverging scale (data.DIVERGING's first and last), as RGB
ENDS = ([0x21, 0x66, 0xAC], [0xB2, 0x18, 0x2B])


def strip_pixels(opened: Opened, name: str) -> list[list[int]]:
    """The RGB of every unit of a tensor's strip in the step view."""
    pixels: list[list[int]] = opened.page.eval_on_selector(
        f'#lt-values tr[data-name="{name}"] canvas',
        """el => { const d = el.getContext("2d").getImageData(0, 0, el.width, 1).data;
                   const out = []; for (let i = 0; i < d.length; i += 4) out.push([d[i], d[i + 1],
                   d[i + 2]]); return out; }""",
    )
    return pixels


def test_a_trace_that_kept_no_samples_draws_without_an_error(browser: Any, tmp_path: Path) -> None:
    result = trace(LSTMConfig(input_size=3, hidden_size=4, seq_len=6), samples=0, maps=True)
    path = tmp_path / "no-samples.html"
    path.write_text(explorer_page(result))
    opened = Opened(browser, path)
    assert opened.errors == []
    assert opened.page.locator("#lt-values tbody tr").count() == 10
    assert opened.page.locator("#lt-values canvas").count() == 0  # no values, no strip
    assert opened.page.locator("#lt-maps .lt-box canvas").count() == 6


def test_a_strip_is_coloured_on_its_own_places_scale(browser: Any, tmp_path: Path) -> None:
    # layer 1's h starts from 4: its map runs over its own largest |value|, layer 0's over 1
    cfg = LSTMConfig(cell="gru", input_size=3, hidden_size=6, num_layers=2, seq_len=4)
    h0 = np.zeros((2, 6), dtype=np.float32)
    h0[1] = 4.0
    path, result = written(tmp_path, "h0.html", cfg, h0=h0)
    assert result.values is not None
    h = result.values[("hidden_state", 1, "forward", 0)]
    assert (np.abs(h) > 1).sum() >= 3  # beyond layer 0's scale of -1 .. 1
    opened = Opened(browser, path)
    opened.page.select_option("#lt-place", label="layer 1, forward")
    saturated = [p for p in strip_pixels(opened, "hidden_state") if p in ENDS]
    assert len(saturated) <= 1  # only the largest |value| is at an end of its scale
    low, high = (float(opened.page.get_attribute(
        '#lt-values tr[data-name="hidden_state"] canvas', f"data-{k}") or "nan")
        for k in ("low", "high"))  # fmt: skip
    assert high >= float(np.abs(h).max()) > 1 and low == -high
    assert opened.errors == []


def test_the_slider_moves_between_held_steps_from_the_keyboard(
    browser: Any, tmp_path: Path
) -> None:
    cfg = LSTMConfig(input_size=3, hidden_size=4, seq_len=10)
    path, _ = written(tmp_path, "keys.html", cfg, steps="0,5,9")
    opened = Opened(browser, path)
    opened.page.focus("#lt-step")
    shown = []
    for key in ("ArrowRight", "End", "ArrowLeft", "Home"):
        opened.page.keyboard.press(key)
        shown.append(opened.step_shown())
    assert shown == [5, 9, 5, 0]
    assert opened.page.input_value("#lt-step") == "0"
    assert opened.errors == []


def test_the_slider_keeps_its_room_on_a_narrow_page(browser: Any, tmp_path: Path) -> None:
    path, _ = written(
        tmp_path, "narrow.html", LSTMConfig(input_size=32, hidden_size=32, seq_len=40)
    )
    opened = Opened(browser, path)
    assert opened.page.locator("#lt-step").bounding_box()["width"] >= 500  # type: ignore[index]
    opened.page.set_viewport_size({"width": 800, "height": 900})
    box = opened.page.locator("#lt-step").bounding_box()
    assert box is not None and box["width"] >= 350  # squeezed to 120 px beside the chooser
    label = opened.page.locator("#lt-step-label").bounding_box()
    assert label is not None and label["x"] + label["width"] <= 800
    assert opened.errors == []


def test_the_strips_of_a_wide_layer_stay_in_sight(browser: Any, tmp_path: Path) -> None:
    path, _ = written(tmp_path, "wide.html", LSTMConfig(input_size=32, hidden_size=2048, seq_len=2))
    opened = Opened(browser, path)
    for name in ("x", "concat", "hidden_state"):
        box = opened.page.locator(f'#lt-values tr[data-name="{name}"] canvas').bounding_box()
        assert box is not None and box["x"] + box["width"] <= 1280 - 20, name  # the page's margin
    assert opened.errors == []


def test_the_arrow_keys_move_the_slider_from_anywhere_on_the_page(
    browser: Any, tmp_path: Path
) -> None:
    cfg = LSTMConfig(input_size=3, hidden_size=4, seq_len=10)
    path, _ = written(tmp_path, "page-keys.html", cfg, steps="0,5,9")
    opened = Opened(browser, path)
    opened.page.click("#lt-next")  # 0 -> 5, the button keeps the focus
    opened.page.keyboard.press("ArrowRight")
    assert opened.step_shown() == 9
    opened.page.click("h2")  # the page's own text
    opened.page.keyboard.press("ArrowLeft")
    assert opened.step_shown() == 5
    assert opened.page.input_value("#lt-step") == "5"
    assert opened.errors == []


def test_a_click_on_a_row_of_steps_shows_a_step_of_that_row(browser: Any, tmp_path: Path) -> None:
    """T = 1000 in 500 rows, row r being steps 2r and 2r+1, and the odd steps of 601 to 799
    held: a click on such a row shows 2r+1, of the row, not 2r-1, as near to its first."""
    cfg = LSTMConfig(input_size=3, hidden_size=4, seq_len=1000)
    steps = ",".join(str(s) for s in range(601, 800, 2))
    path, _ = written(tmp_path, "rows.html", cfg, steps=steps)
    opened = Opened(browser, path)
    canvas = opened.page.locator('#lt-maps canvas[data-name="forget_gate"]')
    assert canvas.get_attribute("data-rows") == "500"
    tip = opened.hover_map("forget_gate", 350, 1)
    first, last = (int(n) for n in tip.split("steps ")[1].split()[0].split("-"))
    assert last == first + 1 and first % 2 == 0 and 601 < first < 799, tip
    opened.page.mouse.down()
    opened.page.mouse.up()
    assert opened.step_shown() == last
    assert opened.errors == []
