"""Make examples/pictures/explorer.png: the explorer page (`lstm-trace --html`) of a small run
(input 32, hidden 32, T = 40) in a 1280 x 900 headless Chromium, scrolled to its heatmaps,
the slider on step 17 and the mouse on a cell of the forget gate's map.

Run: python examples/make_explorer_picture.py [OUT.png]  (needs playwright and the system's
chromium; without them, says so and stops)
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

try:
    from playwright.sync_api import sync_playwright
except ImportError:
    print("this example needs playwright (pip install playwright) and a chromium binary")
    sys.exit(0)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    print("this example needs a chromium binary (Debian/Ubuntu: apt-get install chromium)")
    sys.exit(0)

HERE = Path(__file__).resolve().parent
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "pictures" / "explorer.png"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]

with tempfile.TemporaryDirectory() as folder:
    page_path = Path(folder) / "explorer.html"
    run = [sys.executable, "-m", "lstm_trace", "-i", "32", "-H", "32", "-T", "40"]
    subprocess.run([*run, "--html", str(page_path), "--quiet"], check=True, capture_output=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(page_path.as_uri())
        page.eval_on_selector(
            "#lt-step", "el => { el.value = 17; el.dispatchEvent(new Event('input')); }"
        )
        page.evaluate("document.getElementById('lt-heatmaps').scrollIntoView()")
        canvas = page.locator('#lt-maps canvas[data-name="forget_gate"]')
        box = canvas.bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 17.5 / 40)
        page.screenshot(path=str(OUT))
        browser.close()
print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)")
