"""--gate NAME[@LAYER][:DIRECTION]: which gate `--format heatmap` shows.

The values come from the trace's maps (state_maps.py, kept with trace(maps=True)) through
Trace.heatmap (heatmaps.py); this module only reads the option against the configuration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
