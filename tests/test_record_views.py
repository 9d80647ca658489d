"""Records of a few steps apart (the default trace's first and last, '0,5,-1') are summarised
from views of the block's rows (Cell.row_values), every point of every step in one kernel
call: the same records, to the last bit, as the hooked path's; a row the kernel leaves to
NumPy (a NaN) takes block_values' copies instead."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from lstm_trace import LSTMConfig, init_input, trace
from lstm_trace.cells.base import Cell

CONFIGS = [
    dict(seq_len=12),
    dict(seq_len=9, batch=3, num_layers=2, bidirectional=True),
    dict(seq_len=8, batch=2, proj_size=3, direction="reverse", dtype="float64"),
    dict(cell="gru", seq_len=10, batch=5, bidirectional=True),
    dict(cell="gru", seq_len=7, reset_after=False, input_size=3, hidden_size=5),
]


def _viewed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Cell.row_values' calls, counted (a row each)."""
    seen: list[int] = []
    real = Cell.row_values

    def counting(self: Cell, block: Any, row: int, before: int) -> Any:
        seen.append(row)
        return real(self, block, row, before)

    monkeypatch.setattr(Cell, "row_values", counting)
    return seen


@pytest.mark.parametrize("kwargs", CONFIGS)
@pytest.mark.parametrize("steps", [None, "0,-1", "0,5,-1", "3"])
def test_a_few_steps_from_views_are_the_hooked_records(
    kwargs: dict[str, Any], steps: str | None, monkeypatch: pytest.MonkeyPatch, calls: list[str]
) -> None:
    cfg = LSTMConfig(**kwargs)
    seen = _viewed(monkeypatch)
    fast = trace(cfg, steps=steps)
    assert calls and seen  # the kernel ran the pass, the records came from views
    hooked = trace(cfg, steps=steps, hooks=[lambda e: None])
    assert list(fast.tensors) == list(hooked.tensors)  # every field, sample and stat
    assert json.dumps(fast.to_dict()) == json.dumps(hooked.to_dict())


def test_a_row_the_kernel_leaves_to_numpy_is_read_from_copies(
    monkeypatch: pytest.MonkeyPatch, calls: list[str]
) -> None:
    cfg = LSTMConfig(seq_len=12, batch=2)
    x = init_input(cfg).copy()
    x[1, 0, 2] = np.nan  # step 0's x holds a NaN: its stats are NumPy's
    seen = _viewed(monkeypatch)
    fast = trace(cfg, x=x)
    assert seen
    hooked = trace(cfg, x=x, hooks=[lambda e: None])
    assert json.dumps(fast.to_dict()) == json.dumps(hooked.to_dict())
    first = next(r for r in fast.tensors if r.name == "x" and r.step == 0)
    assert first.to_dict()["stats"]["nan"] == 1
