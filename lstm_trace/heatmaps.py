"""One gate or state over time as a picture: Trace.heatmap's Heatmap, from the trace's maps.

A Heatmap holds one (rows, n) matrix of Trace.maps (state_maps.py: means of groups of steps,
batch row 0), the rule by which steps became rows, each row's first step and the span of
values its colours run between: a sigmoid gate's (0, 1), the candidate's (-1, 1), h_t's
(-1, 1) (or its largest |value| after a projection's W_hr, or when h goes beyond 1),
and C_t's by its largest |value|, as the picture says. It draws itself as the terminal
heatmap (str), as an SVG document (svg()) and, in a notebook, as that SVG inline
(_repr_html_). Rich and the pictures load when it is drawn, not when it is made.
"""

from __future__ import annotations

import math
from collections.abc import Container
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .cells.base import FloatArray
from .config import LSTMConfig
from .errors import LSTMTraceError, SelectionError
from .state_maps import StateMaps

if TYPE_CHECKING:
    from rich.console import RenderableType


@dataclass(frozen=True, eq=False)
class Heatmap:
    """name of layer and direction over time: matrix (rows, n) of means, batch row 0.

    rule says how steps became rows; first_steps[r] is the first step averaged into row r;
    span (low, high) are the values shown as the bottom and top of the colour scale, and
    span_note says how they were chosen ('' for a sigmoid gate's (0, 1))."""

    name: str
    layer: int
    direction: str
    matrix: FloatArray = field(repr=False)
    rule: str
    first_steps: list[int] = field(repr=False)
    span: tuple[float, float] = (0.0, 1.0)
    span_note: str = ""

    @property
    def label(self) -> str:
        """'forget_gate, layer 0, forward'."""
        return f"{self.name}, layer {self.layer}, {self.direction}"

    @property
    def is_gate(self) -> bool:
        return not self.name.endswith("_state")

    def scaled(self) -> FloatArray:
        """The matrix with span mapped to [0, 1] (values outside it fall outside [0, 1])."""
        low, high = self.span
        return (self.matrix - low) / (high - low)

    def renderable(self, width: int, color: bool) -> RenderableType:
        """The terminal heatmap at width columns: colours in half blocks, or shades. Its
        legend gives the span; a state's note says how it was chosen."""
        from .render.heatmap import render_heatmap  # lazy: Rich, when it is drawn

        return render_heatmap(
            self.matrix,
            self.name,
            f"{self.label} (rows: steps, columns: units)",
            self.rule,
            width,
            self.first_steps,
            color,
            span=self.span,
            note="" if self.is_gate else self.span_note,
        )

    def svg(self) -> str:
        """The heatmap as an SVG document (what `--format heatmap --svg` writes)."""
        from .render.svg_heatmap import render_heatmap_svg  # lazy: the pictures, when drawn

        what = "activation" if self.is_gate else "value"
        note = f"Rows: {self.rule}. Batch row 0." + (f" {self.span_note}" if self.span_note else "")
        return render_heatmap_svg(
            self.scaled(),
            f"{self.label}: {what} over time",
            "time step",
            "unit",
            note,
            row_ids=self.first_steps,
            bar_labels=self._bar_labels(),
        )

    def _bar_labels(self) -> tuple[str, str, str]:
        """The colour bar's labels: a gate's 0, 0.5, 1 as the CLI always drew them (the
        candidate's note says how they map); a state's own values."""
        if self.is_gate:
            return ("0", "0.5", "1")
        low, high = self.span
        return (f"{low:.3g}", f"{(low + high) / 2:.3g}", f"{high:.3g}")

    def __str__(self) -> str:
        """The terminal heatmap without colour (shades), at the notebook's text width."""
        from .render.notebook import WIDTH, plain  # lazy: Rich, when it is drawn

        return plain(self.renderable(WIDTH, color=False))

    def __repr__(self) -> str:
        rows, units = self.matrix.shape
        return f"<Heatmap {self.label}: {rows} rows x {units} units; {self.rule}>"

    def _repr_html_(self) -> str:
        from .render.notebook import svg_html  # lazy: the notebook's HTML, when shown

        return svg_html(self.svg())

    def _repr_mimebundle_(
        self, include: Container[str] | None = None, exclude: Container[str] | None = None
    ) -> dict[str, str]:
        """A notebook's view: the SVG inline (text/html), the shades as text/plain."""
        from .render.notebook import mimebundle  # lazy: the notebook's HTML, when shown

        return mimebundle(self._repr_html_, self.__str__, include, exclude)


def heatmap_of(
    maps: StateMaps | None,
    config: LSTMConfig,
    name: str | None = None,
    layer: int = 0,
    direction: str | None = None,
) -> Heatmap:
    """The Heatmap of name (a gate of the cell, hidden_state or cell_state; default the
    cell's first gate, the LSTM's forget_gate) at layer and direction (default the first).
    Refused, in one line saying what to do, when the trace kept no maps or none such."""
    if maps is None:
        raise LSTMTraceError(
            "this trace kept no maps of its gates over time (a trace keeps them by itself "
            "only when they are small, T <= 500); trace it with trace(..., maps=True)"
        )
    cell = config.kind
    name = cell.report_order[0] if name is None else name
    if name not in maps.tensors:
        raise SelectionError(
            f"the {cell.title} has no gate or state {name!r}: expected one of "
            + ", ".join(maps.tensors)
        )
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < config.num_layers:
        raise SelectionError(
            f"layer {layer!r} does not exist: this {cell.title} has layers 0 to "
            f"{config.num_layers - 1}"
        )
    direction = config.directions[0] if direction is None else direction
    if direction not in config.directions:
        raise SelectionError(
            f"direction {direction!r} does not exist: this {cell.title} has "
            + " and ".join(config.directions)
        )
    matrix = maps.matrix(name, layer, direction)
    span, note = span_of(name, matrix, config)
    return Heatmap(name, layer, direction, matrix, maps.rule(), maps.first_steps(), span, note)


def span_of(name: str, matrix: FloatArray, config: LSTMConfig) -> tuple[tuple[float, float], str]:
    """The values the colours of name's map run between, and how they were chosen, in words
    (the notebook's and the CLI's heatmaps, and the explorer's)."""
    if name == "candidate":
        return (-1.0, 1.0), "The candidate (tanh) is shown from [-1, 1] as [0, 1]."
    if not name.endswith("_state"):
        return (0.0, 1.0), ""
    largest = _largest(matrix)
    if name == "hidden_state" and not config.proj_size and largest <= 1.0:
        # o_t * tanh(C_t), and a GRU's mix of n_t and h_(t-1), stay inside (-1, 1); a
        # projection's W_hr (or a GRU's h0 beyond 1) has no such bound
        return (-1.0, 1.0), "h_t: the colours run over [-1, 1]."
    symbol = "C_t" if name == "cell_state" else "h_t"
    why = " (projected by W_hr)" if name == "hidden_state" and config.proj_size else ""
    return (-largest, largest), (
        f"{symbol}{why}: the colours run over [-{largest:.3g}, {largest:.3g}], its largest |value|."
    )


def _largest(matrix: FloatArray) -> float:
    """The largest finite |value| of matrix; 1 when there is none or it is 0."""
    finite = np.abs(matrix[np.isfinite(matrix)])
    largest = float(finite.max()) if finite.size else 0.0
    return largest if largest > 0 and math.isfinite(largest) else 1.0
