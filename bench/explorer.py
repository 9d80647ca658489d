"""The explorer page of a long, wide run (T=5000, H=256 by default): how long it takes to build,
how big it is, and how long a headless Chromium (the system's, driven by Playwright) takes to
load it: navigation to the load event (the script has drawn the heatmaps and the step view by
then, since it runs before the event) and to the first contentful paint. Medians of a few
runs, each in a fresh page of one browser.

    python bench/explorer.py                  # T=5000, H=256, 5 loads
    python bench/explorer.py -T 2000 -H 512 --runs 3 --keep page.html

Never run as part of the tests. Without Playwright or a chromium binary, the load is skipped
with a line saying so.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# The checkout this script sits in, never another installed copy of lstm_trace.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lstm_trace import LSTMConfig  # noqa: E402
from lstm_trace.render.explorer import explorer_page, page_trace  # noqa: E402
from lstm_trace.render.png import CHROMIUM_FLAGS  # noqa: E402

#: the flags --png launches Chromium with: no network, no first-run work, no GPU
ARGS = list(CHROMIUM_FLAGS)

#: navigation start to the load event and to the first contentful paint, in ms
TIMING = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const paint = performance.getEntriesByName("first-contentful-paint")[0];
  return [nav.loadEventEnd, paint ? paint.startTime : NaN];
}"""


def build(config: LSTMConfig) -> tuple[str, float, float]:
    """The page, the seconds of its trace, and the seconds of its building."""
    start = time.perf_counter()
    result, holding = page_trace(config)
    traced = time.perf_counter()
    page = explorer_page(result, holding.rule)
    return page, traced - start, time.perf_counter() - traced


def load_times(path: Path, runs: int) -> list[tuple[float, float]] | str:
    """(load event, first contentful paint) in ms per run, or why they were not measured."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "playwright is not installed"
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return "no chromium binary on PATH"
    out: list[tuple[float, float]] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        for _ in range(runs):
            page: Any = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.as_uri(), wait_until="load")
            if errors:
                return f"the page raised: {errors[0]}"
            load, paint = page.evaluate(TIMING)
            out.append((float(load), float(paint)))
            page.close()
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-T", type=int, default=5000, help="time steps (5000)")
    parser.add_argument("-H", type=int, default=256, help="hidden units (256)")
    parser.add_argument("-I", type=int, default=32, help="input features (32)")
    parser.add_argument("--runs", type=int, default=5, help="loads and builds (5)")
    parser.add_argument("--keep", type=Path, help="write the page here too")
    args = parser.parse_args()
    config = LSTMConfig(input_size=args.I, hidden_size=args.H, seq_len=args.T)
    builds = [build(config) for _ in range(max(1, args.runs))]
    page = builds[0][0]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "explorer.html"
        path.write_text(page)
        if args.keep is not None:
            shutil.copyfile(path, args.keep)
        loads = load_times(path, max(1, args.runs))
    size = len(page.encode())
    print(f"explorer page of LSTM I={args.I} H={args.H} T={args.T}, medians of {args.runs}")
    print(f"size:            {size:,} bytes ({size / 1e6:.2f} MB)")
    print(f"trace for it:    {statistics.median(b[1] for b in builds) * 1000:.0f} ms")
    print(f"page built in:   {statistics.median(b[2] for b in builds) * 1000:.0f} ms")
    if isinstance(loads, str):
        print(f"load in Chromium: not measured ({loads})")
        return
    print(f"load event:      {statistics.median(x[0] for x in loads):.0f} ms after navigation")
    print(f"first paint:     {statistics.median(x[1] for x in loads):.0f} ms (first contentful)")


if __name__ == "__main__":
    main()
