"""The JSONL stream's fast path: lines made from a RecordTable's rows are tensor_line's of
its records, byte for byte, whatever the cell, sizes, dtype, samples and non-finite values."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_trace import LSTMConfig, trace
from lstm_trace.records import RecordBatches, RecordTable
from lstm_trace.render.jsonl import table_lines, tensor_line

CASES = [
    (LSTMConfig(input_size=3, hidden_size=4, seq_len=5), 4),
    (LSTMConfig(input_size=3, hidden_size=4, seq_len=4, batch=2, dtype="float64"), 3),
    (LSTMConfig(input_size=2, hidden_size=3, seq_len=3, num_layers=2, direction="bi"), 10),
    (LSTMConfig(input_size=3, hidden_size=5, seq_len=3, proj_size=2, peepholes=True), 1),
    (LSTMConfig(input_size=1, hidden_size=1, seq_len=2, bias=False), 20),
    (LSTMConfig(input_size=3, hidden_size=4, seq_len=4, cell="gru", reset_after=False), 0),
    (LSTMConfig(input_size=2, hidden_size=3, seq_len=3, cell="gru", direction="reverse"), 4),
]


def _batches(config: LSTMConfig, samples: int, x: np.ndarray | None = None) -> list[RecordTable]:
    tables: list[RecordTable] = []
    trace(config, x=x, steps="all", samples=samples, sink=RecordBatches(tables.append))
    return tables


@pytest.mark.parametrize(("config", "samples"), CASES)
def test_lines_from_rows_are_tensor_lines(config: LSTMConfig, samples: int) -> None:
    tables = _batches(config, samples)
    assert (
        tables
        and sum(len(t) for t in tables)
        == config.seq_len * len(config.kind.hook_points) * config.num_layers * config.num_directions
    )
    for table in tables:
        want = "".join(tensor_line(r) for r in table.in_added_order())
        assert "".join(table_lines(table)) == want


def test_non_finite_values_and_large_numbers_are_written_as_json_writes_them() -> None:
    config = LSTMConfig(input_size=3, hidden_size=2, seq_len=4, batch=2)
    x = np.ones((2, 4, 3))
    x[0, 1, 0], x[1, 2, 1], x[0, 3] = np.nan, np.inf, [1e30, -1e-30, 123456789.0]
    lines = []
    for table in _batches(config, 6, x):
        want = "".join(tensor_line(r) for r in table.in_added_order())
        got = "".join(table_lines(table))
        assert got == want
        lines.append(got)
    text = "".join(lines)
    assert "null" in text and '"nan":1' in text and "1e+30" in text and "NaN" not in text
