"""The JSON document: strict (no NaN or Infinity), newline-terminated, byte-identical per seed."""

from __future__ import annotations

import json

from ..trace import Trace


def render_json(trace: Trace) -> str:
    """Trace.to_dict() as strict JSON; non-finite values are already None (null) there."""
    return json.dumps(trace.to_dict(), indent=2, allow_nan=False) + "\n"
