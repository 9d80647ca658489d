"""A perceptual colour scale (viridis) for heatmaps, shared by the terminal and SVG views."""

from __future__ import annotations

import math

# viridis at 0, 1/8, ..., 1 (matplotlib's values, rounded); linear between them.
_VIRIDIS = (
    (68, 1, 84),
    (71, 44, 122),
    (59, 81, 139),
    (44, 113, 142),
    (33, 144, 141),
    (39, 173, 129),
    (92, 200, 99),
    (170, 220, 50),
    (253, 231, 37),
)
#: the colour of a NaN cell
MISSING = (128, 128, 128)


def viridis(value: float) -> tuple[int, int, int]:
    """value in [0, 1] (clipped; NaN gives grey) -> (r, g, b)."""
    if math.isnan(value):
        return MISSING
    v = min(max(value, 0.0), 1.0) * (len(_VIRIDIS) - 1)
    i = min(int(v), len(_VIRIDIS) - 2)
    f = v - i
    a, b = _VIRIDIS[i], _VIRIDIS[i + 1]
    r, g, bl = (round(a[k] + (b[k] - a[k]) * f) for k in range(3))
    return r, g, bl


def hex_color(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)
