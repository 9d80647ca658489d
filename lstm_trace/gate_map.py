"""Gate activations over time for a heatmap, downsampled as they arrive.

A HeatmapCollector is a BlockObserver: it keeps one gate of one layer and direction, batch
row 0, and averages steps into at most `max_rows` rows as the pass runs, so even a very long
sequence needs only rows x H numbers. The rule: row r is the mean of steps
[r*T/rows, (r+1)*T/rows); with T <= max_rows, one row per step.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .cells.base import FloatArray
from .config import LSTMConfig
from .errors import LSTMTraceError

_SPEC = re.compile(r"^([a-z_]+?)(?:@([0-9]{1,9}))?(?::(forward|backward))?$")


@dataclass(frozen=True)
class GateChoice:
    """--gate update_gate@1:backward -> gate, layer 1, backward."""

    gate: str
    layer: int = 0
    direction: str = "forward"

    @property
    def label(self) -> str:
        return f"{self.gate}, layer {self.layer}, {self.direction}"


def parse_gate(text: str, config: LSTMConfig) -> GateChoice:
    """Parse --gate NAME[@LAYER][:DIRECTION] against the configuration: NAME one of the
    cell's gates, the direction the layer's first when not given."""
    cell = config.kind
    names = cell.report_order
    m = _SPEC.match(text.strip())
    if not m or m.group(1) not in names:
        raise LSTMTraceError(
            f"--gate {text!r}: expected one of the {cell.title}'s gates {', '.join(names)}, "
            f"optionally with @LAYER and :forward or :backward (e.g. {names[0]}@1:backward)"
        )
    layer = int(m.group(2) or 0)
    direction = m.group(3) or config.directions[0]
    if layer >= config.num_layers:
        raise LSTMTraceError(
            f"--gate {text}: layer {layer} does not exist (0 to {config.num_layers - 1})"
        )
    if direction not in config.directions:
        raise LSTMTraceError(f"--gate {text}: this {cell.title} has no {direction} direction")
    return GateChoice(m.group(1), layer, direction)


class HeatmapCollector:
    """Collects one gate's activations (batch row 0) into at most max_rows x H means."""

    def __init__(self, choice: GateChoice, config: LSTMConfig, max_rows: int = 48):
        self.choice, self.seq_len = choice, config.seq_len
        self.rows = min(config.seq_len, max_rows)
        self.sums = np.zeros((self.rows, config.hidden_size))
        self.counts = np.zeros(self.rows)
        self.index = config.kind.gate_index(choice.gate)  # its block in PyTorch's order
        assert choice.direction in config.directions

    def __call__(self, layer: int, direction: str, steps: Sequence[int], block: FloatArray) -> None:
        if (layer, direction) != (self.choice.layer, self.choice.direction):
            return
        h = self.sums.shape[1]
        first = min(steps)
        values = block[:, 0, self.index * h : (self.index + 1) * h]  # (c, H), time order
        rows = (np.arange(first, first + len(values)) * self.rows) // self.seq_len
        np.add.at(self.sums, rows, values)
        np.add.at(self.counts, rows, 1)

    def matrix(self) -> FloatArray:
        """(rows, H) means; NaN where a value was NaN."""
        return self.sums / np.maximum(self.counts, 1)[:, None]

    def rule(self) -> str:
        if self.rows == self.seq_len:
            return f"one row per step (T = {self.seq_len})"
        sizes = np.bincount(np.arange(self.seq_len) * self.rows // self.seq_len)
        low, high = int(sizes.min()), int(sizes.max())
        each = f"{low}" if low == high else f"{low} or {high}"
        return (
            f"each row is the mean of {each} consecutive steps "
            f"(T = {self.seq_len} in {self.rows} rows)"
        )
