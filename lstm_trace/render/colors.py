"""The heatmaps' colour scale (viridis), shared by the terminal and the SVG views."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: viridis (matplotlib's perceptually uniform colormap) at 0, 0.1, ..., 1; linear between
VIRIDIS = (
    "#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c",
    "#22a884", "#44bf70", "#7ad151", "#bddf26", "#fde725",
)  # fmt: skip
NAN_COLOUR = "#a6a6a6"  # grey: no value
_ANCHORS = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in VIRIDIS], float)
_GREY = np.array([int(NAN_COLOUR[i : i + 2], 16) for i in (1, 3, 5)])


def viridis_rgb(values: ArrayLike) -> NDArray[np.int64]:
    """(..., 3) red, green, blue of values in [0, 1] (clipped); grey where a value is NaN."""
    v = np.asarray(values, dtype=np.float64)
    nan = np.isnan(v)
    pos = np.clip(np.where(nan, 0.0, v), 0.0, 1.0) * (len(VIRIDIS) - 1)
    lo = np.minimum(np.floor(pos).astype(np.int64), len(VIRIDIS) - 2)
    frac = (pos - lo)[..., None]
    rgb = np.rint(_ANCHORS[lo] * (1 - frac) + _ANCHORS[lo + 1] * frac).astype(np.int64)
    return np.where(nan[..., None], _GREY, rgb)


def viridis(values: ArrayLike) -> NDArray[np.str_]:
    """Colours ('#rrggbb') of values in [0, 1] (clipped), NAN_COLOUR where a value is NaN."""
    rgb = viridis_rgb(values)
    hexes = [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in rgb.reshape(-1, 3)]
    return np.array(hexes).reshape(rgb.shape[:-1])
