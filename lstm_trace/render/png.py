"""SVG to PNG, through rsvg-convert or headless Chromium: the only renderer that runs programs."""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
)  # fmt: skip


NO_CONVERTER = (
    "rendering SVG to PNG needs rsvg-convert or chromium, and neither is on PATH; install "
    "one (Debian/Ubuntu: apt-get install librsvg2-bin, or apt-get install chromium)"
)


def have_converter() -> bool:
    """Whether svg_to_png can run here, so a missing converter is reported before any work."""
    return any(shutil.which(name) for name in ("rsvg-convert", "chromium", "chromium-browser"))


def svg_to_png(svg_text: str) -> bytes:
    """The PNG bytes of an SVG document, rendered by rsvg-convert or else headless Chromium.

    Raises FileNotFoundError naming both converters when neither is installed, RuntimeError
    when the converter fails. Writing the bytes is the caller's job (atomically).
    """
    rsvg = shutil.which("rsvg-convert")
    if rsvg is not None:
        done = subprocess.run(
            [rsvg, "--format", "png"], input=svg_text.encode(), capture_output=True, timeout=120
        )
        if done.returncode != 0 or not done.stdout:
            detail = " ".join(done.stderr.decode(errors="replace").split())
            raise RuntimeError(f"rsvg-convert failed: {detail}")
        return done.stdout
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise FileNotFoundError(NO_CONVERTER)
    root = ET.fromstring(svg_text)
    size = ",".join(str(math.ceil(float(root.get(k, "800")))) for k in ("width", "height"))
    with tempfile.TemporaryDirectory(prefix="lstm-trace-svg-") as tmp:
        page, shot = Path(tmp, "picture.svg"), Path(tmp, "picture.png")
        page.write_text(svg_text, encoding="utf-8")
        command = [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={Path(tmp, 'profile')}",
            f"--screenshot={shot}",
            f"--window-size={size}",
            page.as_uri(),
        ]
        done = subprocess.run(command, capture_output=True, timeout=120)
        if done.returncode != 0 or not shot.exists():
            raise RuntimeError(f"chromium failed: {done.stderr.decode(errors='replace')[-2000:]}")
        return shot.read_bytes()
