"""JSON Lines: a header line, one line per tensor record as it is computed, an outputs line.

Every line is one strict JSON object with a "type" of "header", "tensor" or "outputs"
(schema: lstm_trace/schema/trace-jsonl.schema.json). Nothing is held back: a consumer sees
each record as soon as the forward pass reaches it.
"""

from __future__ import annotations

import json
from typing import Any

from ..config import LSTMConfig
from ..document import header_dict, outputs_dict
from ..records import TensorRecord
from ..steps import StepSelection


def _line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, allow_nan=False, separators=(",", ":")) + "\n"


def header_line(config: LSTMConfig, selection: StepSelection, weights: dict[str, Any]) -> str:
    """The first line; weights is the document's ``weights`` object (digest.weights_dict)."""
    return _line({"type": "header", **header_dict(config, selection, weights)})


def tensor_line(record: TensorRecord) -> str:
    return _line({"type": "tensor", **record.to_dict()})


def outputs_line(
    outputs: dict[str, tuple[int, ...]], tensor_count: int, health: dict[str, Any]
) -> str:
    return _line(
        {
            "type": "outputs",
            "outputs": outputs_dict(outputs),
            "tensor_count": tensor_count,
            "health": health,
        }
    )
