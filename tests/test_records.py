"""The two ways a trace is recorded agree to the last bit.

Without user hooks, trace() reads every hook point out of the blocks of the plain loop
(BlockRecorder); with them, a hook records each value (Recorder). A hook that does nothing
forces the second way, so the two can be compared on the same run.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from lstm_trace import LSTMConfig, init_input, recorders, trace
from lstm_trace.cells import recurrence
from lstm_trace.records import RecordTable, TensorRecord


def noop(event: Any) -> None:
    return None


CONFIGS = [
    {"seq_len": 6},
    {"seq_len": 5, "batch": 3, "num_layers": 2, "bidirectional": True},
    {"seq_len": 4, "batch": 2, "proj_size": 3, "bidirectional": True, "dtype": "float64"},
    {"seq_len": 9, "input_size": 3, "hidden_size": 2, "samples": 40},  # more samples than values
]


@pytest.mark.parametrize("kwargs", CONFIGS)
@pytest.mark.parametrize("steps", [None, "all", "0,-1,2", "1:4"])
@pytest.mark.parametrize("block", [None, 2])
def test_block_recorder_equals_the_hook_recorder(
    kwargs: dict[str, Any], steps: str | None, block: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = dict(kwargs)
    samples = options.pop("samples", 4)
    cfg = LSTMConfig(**options)
    if block:  # blocks of 2 steps: the step read before a block's first is in the last block
        size = block * (cfg.batch or 1) * 4 * cfg.hidden_size
        monkeypatch.setattr(recurrence, "PROJECTION_BLOCK", size)
    fast = trace(cfg, steps=steps, samples=samples, keep_values=True)
    fired: list[str] = []
    hooked = trace(
        cfg, steps=steps, samples=samples, keep_values=True, hooks=[lambda e: fired.append(e.name)]
    )
    assert isinstance(fast.tensors, RecordTable) and fired  # the hooks ran: the Recorder did
    assert len(fast.tensors) == len(hooked.tensors) > 0
    assert list(fast.tensors) == list(hooked.tensors)  # every field, sample and stat
    assert json.dumps(fast.to_dict()) == json.dumps(hooked.to_dict())
    assert fast.values is not None and hooked.values is not None
    assert fast.values.keys() == hooked.values.keys()
    for key, value in hooked.values.items():
        assert np.array_equal(fast.values[key], value)


def test_non_finite_values_are_counted_alike() -> None:
    cfg = LSTMConfig(seq_len=5, batch=2, input_size=3, hidden_size=4)
    x = init_input(cfg)
    x[0, 1, 0], x[1, 3, 2] = np.nan, np.inf
    fast = trace(cfg, x=x, steps="all")
    hooked = trace(cfg, x=x, steps="all", hooks=[noop])
    assert list(fast.tensors) == list(hooked.tensors)
    assert any(r.stats.nan for r in fast.tensors) and any(r.stats.inf for r in fast.tensors)


def test_streamed_records_come_in_the_hooks_order() -> None:
    cfg = LSTMConfig(seq_len=4, batch=2, bidirectional=True, num_layers=2)
    fast: list[TensorRecord] = []
    hooked: list[TensorRecord] = []
    trace(cfg, steps="all", sink=fast.append)
    trace(cfg, steps="all", sink=hooked.append, hooks=[noop])
    assert fast == hooked
    assert [r.step for r in fast[:20:10]] == [0, 1]  # forward visits 0, 1, ...
    backward = [r.step for r in fast if r.direction == "backward" and r.name == "x"]
    assert backward[:4] == [3, 2, 1, 0]


def test_record_table_indexes_and_slices_in_sorted_order() -> None:
    result = trace(LSTMConfig(seq_len=3, bidirectional=True), steps="all")
    table = result.tensors
    keys = [r.sort_key for r in table]
    assert keys == sorted(keys) and len(keys) == 2 * 3 * 10
    assert table[5] == list(table)[5] and table[-1] == list(table)[-1]
    assert table[2:4] == list(table)[2:4]


@pytest.mark.parametrize("steps_at_a_time", [1, 3])
def test_steps_summarised_a_few_at_a_time_give_the_same_records(
    steps_at_a_time: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = LSTMConfig(seq_len=7, batch=2, bidirectional=True)
    whole = trace(cfg, steps="all")
    width = sum(recorders.point_size(name, 0, cfg) for name in cfg.kind.hook_points)
    # 3 steps at a time: a chunk's first step reads h_prev and c_prev from the chunk before
    monkeypatch.setattr(recorders, "RECORD_CHUNK", steps_at_a_time * 2 * width)
    streamed: list[TensorRecord] = []
    assert list(trace(cfg, steps="all").tensors) == list(whole.tensors)
    trace(cfg, steps="all", sink=streamed.append)
    assert sorted(streamed, key=lambda r: r.sort_key) == list(whole.tensors)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_numbers_made_at_once_equal_those_made_one_at_a_time(dtype: str) -> None:
    from lstm_trace.summary import to_floats

    def to_float(v: float, dtype: np.dtype[Any]) -> float | None:  # one scalar at a time
        scalar = dtype.type(v)
        return float(str(scalar)) if np.isfinite(scalar) else None

    rng = np.random.default_rng(7)
    specials = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-45, 1e-310, 3.4028235e38, 0.1, 1 / 3]
    scales = rng.standard_normal(500) * 10.0 ** rng.integers(-30, 30, 500)
    values = np.concatenate([specials, scales]).reshape(-1, 10)  # 2-D: flattened in C order
    made = to_floats(values, np.dtype(dtype))
    one_by_one = [to_float(v, np.dtype(dtype)) for v in values.reshape(-1)]
    assert made == one_by_one
    # the same objects JSON writes: same text, None for what is not finite
    assert json.dumps(made) == json.dumps(one_by_one)
    assert made[:3] == [None, None, None]
    assert made[9] == (0.33333334 if dtype == "float32" else 1 / 3)  # shortest in its dtype


def test_records_read_in_any_order_across_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = LSTMConfig(seq_len=5, batch=2, input_size=3, hidden_size=4, bidirectional=True)
    x = init_input(cfg)
    x[0, 2, 1] = np.nan  # a sample that is not finite: its mark must follow it
    expected = list(trace(cfg, x=x, steps="all", samples=6).tensors)
    # windows of 3 rows (4 stats and 6 samples a row): many, and records cut across them
    monkeypatch.setattr(RecordTable, "WINDOW_NUMBERS", 3 * (4 + 6))
    table = trace(cfg, x=x, steps="all", samples=6).tensors
    order = np.random.default_rng(0).permutation(len(table))
    assert [table[int(i)] for i in order] == [expected[int(i)] for i in order]
    assert list(reversed(table)) == expected[::-1]
    marked = [r for r in expected if r.marks]
    assert marked and all(r.marks[r.sample.index(None)] == "nan" for r in marked)


def test_records_read_out_of_order_make_only_their_own_numbers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reading in order makes a window of rows at a time; jumping about makes one row at a
    time, not a window per read (which made random reads a thousand times slower)."""
    from lstm_trace import summary

    made: list[int] = []
    to_floats = summary.to_floats

    def counting(values: Any, dtype: Any) -> list[float | None]:
        made.append(np.size(values))
        return to_floats(values, dtype)

    cfg = LSTMConfig(seq_len=300, input_size=3, hidden_size=4, bidirectional=True)
    table = trace(cfg, steps="all").tensors
    expected = list(table)  # in order
    table = trace(cfg, steps="all").tensors  # a fresh table, no window yet
    monkeypatch.setattr(summary, "to_floats", counting)
    order = np.random.default_rng(1).permutation(len(table))[:200]
    assert [table[int(i)] for i in order] == [expected[int(i)] for i in order]
    assert sum(made) <= 200 * (4 + 4) * 1.1  # 4 stats and 4 samples a record, and a little
    made.clear()
    assert list(table) == expected
    # in order, windows of 4096 rows: a row is made about once (a few windows twice, where
    # the backward direction's sorted order crosses between two), not a window per read
    assert sum(made) < 3 * len(table) * (4 + 4)


def test_record_rows_count_from_the_end_and_stop_there() -> None:
    table = trace(LSTMConfig(seq_len=3), steps="all").tensors
    assert table.record(-1) == table.record(len(table) - 1)
    assert table.record(-len(table)) == table.record(0)
    with pytest.raises(IndexError):
        table.record(len(table))


def test_numbers_keep_their_digits_under_legacy_print_options() -> None:
    from lstm_trace.summary import to_floats

    with np.printoptions(legacy="1.13"):  # str() of a float32 gives 6 digits there
        assert to_floats(np.float32([1 / 3, 12345.678]), np.dtype("float32")) == [
            0.33333334,
            12345.678,
        ]
