"""The JSONL stream's fast path (orjson, render/numbers.py) writes the same bytes as the plain
one: number by number on a million float32 bit patterns, every exponent of both dtypes and
float64 values of every size, and whole streams from the command line, with orjson and
without it."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from lstm_trace import LSTMConfig, init_weights
from lstm_trace.formats.writing import write_weights
from lstm_trace.render import jsonl, numbers
from lstm_trace.summary import to_floats

from .conftest import run_cli


@pytest.fixture
def orjson() -> ModuleType:
    """orjson; the tests that take it skip without it (the plain path's are in
    test_jsonl_lines.py, and the stats' here run either way)."""
    return pytest.importorskip("orjson")


F32, F64 = np.dtype(np.float32), np.dtype(np.float64)


def _plain(values: np.ndarray, dtype: np.dtype[Any]) -> list[str]:
    """Each value's text as the plain path writes it (summary.to_floats, then json's repr)."""
    return [jsonl._number(v) for v in to_floats(values, dtype)]


def _edges(dtype: np.dtype[Any]) -> np.ndarray:
    """Where the forms change: each power of ten and its neighbours, both signs, the zeros,
    the denormals' ends, the largest finite values and the non-finite ones."""
    info = np.finfo(dtype)
    with np.errstate(over="ignore"):
        tens = np.array([10.0**e for e in range(-45, 40)]).astype(dtype)
    near = np.concatenate(
        [tens, np.nextafter(tens, dtype.type(0)), np.nextafter(tens, dtype.type(np.inf))]
    )
    odd = np.array(
        [0.0, -0.0, info.tiny, info.smallest_subnormal, info.max, np.inf, -np.inf, np.nan],
        dtype=dtype,
    )
    with np.errstate(over="ignore"):
        both = np.concatenate([near, odd, 1.5 * near, 9.999 * near])
    return np.concatenate([both, -both]).astype(dtype)


def _check(orjson: ModuleType, values: np.ndarray, dtype: np.dtype[Any], width: int) -> None:
    """json_column and json_rows (rows of width) against the plain path, token by token."""
    want = _plain(values, dtype)
    got = numbers.json_column(orjson, values, dtype)
    assert len(got) == len(want) and b",".join(got).decode() == ",".join(want)
    rows = numbers.json_rows(
        orjson, values[: len(values) // width * width].reshape(-1, width), dtype
    )
    assert [r.decode() for r in rows] == [
        ",".join(want[i : i + width]) for i in range(0, len(want) - width + 1, width)
    ]


def _sweep(rng: np.random.Generator, bits: int, exponent_bits: int, each: int) -> np.ndarray:
    """Bit patterns of every exponent (all 2**exponent_bits of them, both signs, so the
    denormals, Inf and NaN too), each with `each` random mantissas, as unsigned integers."""
    mantissa_bits = bits - 1 - exponent_bits
    exponents = np.repeat(np.arange(2 << exponent_bits, dtype=np.uint64), each)
    mantissas = rng.integers(0, 1 << mantissa_bits, size=len(exponents), dtype=np.uint64)
    return (exponents << np.uint64(mantissa_bits)) | mantissas


def test_float32_bit_patterns_are_written_as_the_plain_path_writes_them(orjson: ModuleType) -> None:
    """A million random bit patterns, every exponent with 64 mantissas besides (denormals,
    NaNs of many payloads, both infinities and zeros), and the edges of the forms."""
    rng = np.random.default_rng(32)
    bits = np.concatenate(
        [rng.integers(0, 1 << 32, size=1 << 20, dtype=np.uint64), _sweep(rng, 32, 8, 64)]
    )
    values = np.concatenate([bits.astype(np.uint32).view(np.float32), _edges(F32)])
    assert np.isnan(values).any() and np.isinf(values).any()
    assert ((values != 0) & (np.abs(values) < np.finfo(F32).tiny)).any()  # denormals
    _check(orjson, values, F32, 8)


def test_float64_values_are_written_as_the_plain_path_writes_them(orjson: ModuleType) -> None:
    """Random float64 bit patterns, every exponent with 16 mantissas, values of every size
    a trace has (1e-30 to 1e30), and those again rounded to float32 (a float32 trace's
    stats are float64 rounded to float32)."""
    rng = np.random.default_rng(64)
    bits = np.concatenate(
        [rng.integers(0, 1 << 63, size=1 << 17, dtype=np.uint64), _sweep(rng, 64, 11, 16)]
    )
    sizes = rng.standard_normal(1 << 18) * 10.0 ** rng.uniform(-30, 30, 1 << 18)
    values = np.concatenate([bits.view(np.float64), sizes, _edges(F64)])
    _check(orjson, values, F64, 4)
    with np.errstate(over="ignore"):
        _check(orjson, sizes, F32, 4)


def test_integers_and_empty_arrays(orjson: ModuleType) -> None:
    steps = np.array([0, 7, 19999, -1], dtype=np.int64)
    assert numbers.json_column(orjson, steps, steps.dtype) == [b"0", b"7", b"19999", b"-1"]
    assert numbers.json_column(orjson, np.empty(0), F32) == []
    assert numbers.json_rows(orjson, np.empty((0, 3)), F32) == []
    assert numbers.json_rows(orjson, np.empty((2, 0)), F32) == [b"", b""]
    assert numbers.json_rows(orjson, np.ones((1, 2)), F32) == [b"1.0,1.0"]


def test_an_orjson_that_cannot_write_numpy_arrays_is_not_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    able, old = ModuleType("orjson"), ModuleType("orjson")
    able.OPT_SERIALIZE_NUMPY = 16  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "orjson", able)
    assert numbers.orjson_module() is able
    monkeypatch.setitem(sys.modules, "orjson", old)  # from before orjson wrote NumPy arrays
    assert numbers.orjson_module() is None


@pytest.fixture
def huge_weights(tmp_path: Path) -> Path:
    """Input weights of +-Inf and recurrent ones of +-3e38: the input products are +Inf and
    -Inf, whose sums are NaN, and the gates, C and h after them are NaN too."""
    config = LSTMConfig(input_size=3, hidden_size=4, seq_len=6)
    weights = init_weights(config)
    for _, _, direction in weights:
        direction.w_ih[...] = np.float32(np.inf) * np.sign(direction.w_ih)
        direction.w_hh[...] = np.float32(3e38) * np.sign(direction.w_hh)
    path = tmp_path / "huge.npz"
    write_weights(path, weights, "pytorch")
    return path


@pytest.fixture
def odd_input(tmp_path: Path) -> Path:
    """x of T=5, B=2, I=3 with NaN, Inf, denormals, tiny and huge values."""
    x = np.random.default_rng(5).standard_normal((2, 5, 3)).astype(np.float32)
    x[0, 1] = [np.nan, 1e-40, -3e-7]
    x[1, 2] = [np.inf, 2e15, -1e13]
    x[0, 4] = [1e-5, -0.0, 3.4e38]
    path = tmp_path / "x.npy"
    np.save(path, x)
    return path


CONFIGS = {
    "lstm": ["-T", "30"],
    "gru": ["--cell", "gru", "-T", "20"],
    "gru_reset_before": ["--cell", "gru", "--no-reset-after", "-T", "9", "--samples", "7"],
    "bi_2_layers": ["--bidirectional", "-L", "2", "-T", "12", "-H", "5", "-i", "3"],
    "reverse": ["--direction", "reverse", "-T", "7", "-H", "3"],
    "batch": ["-B", "3", "-T", "8", "-H", "2", "--samples", "9"],
    "float64": ["--dtype", "float64", "-L", "2", "-T", "10", "--samples", "6"],
    "projection": ["--proj", "3", "-H", "6", "-T", "9", "--peepholes"],
    "no_samples": ["-T", "5", "--samples", "0", "--no-bias"],
    "one_unit": ["-H", "1", "-i", "1", "-T", "40", "--samples", "3"],
    "huge_weights": ["--weights", "HUGE", "-T", "6", "--samples", "4"],
    "odd_input": ["--x", "X", "-H", "3", "--samples", "5"],
    "odd_input_float64": ["--x", "X", "-H", "3", "--dtype", "float64"],
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_whole_streams_are_the_same_bytes_with_orjson_and_without(
    name: str,
    orjson: ModuleType,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    huge_weights: Path,
    odd_input: Path,
) -> None:
    args = [
        {"HUGE": huge_weights, "X": odd_input}.get(a, a)
        for a in [*CONFIGS[name], "--steps", "all", "-f", "jsonl", "-q"]
    ]
    windows: list[int] = []
    window_text = jsonl._window_text

    def counting(*given: Any) -> str:
        windows.append(len(given[2]))
        return window_text(*given)

    monkeypatch.setattr(jsonl, "_window_text", counting)
    code, fast, err = run_cli(capsys, *args)
    assert (code, err) == (0, "") and windows  # the fast path wrote the records
    records = fast.count('"type":"tensor"')
    assert sum(windows) == records > 0
    with monkeypatch.context() as absent:
        absent.setitem(sys.modules, "orjson", None)  # `import orjson` raises ImportError
        assert numbers.orjson_module() is None
        windows.clear()
        code, plain, err = run_cli(capsys, *args)
        assert (code, err) == (0, "") and not windows  # the plain path, as without orjson
    assert fast == plain
    if name.startswith(("huge", "odd")):  # non-finite values were counted and written as null
        assert "null" in fast and re.search(r'"nan":[1-9]', fast)


def test_a_table_is_written_a_window_at_a_time(
    orjson: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch of more rows than a window holds comes as several pieces, each whole lines,
    together the plain path's text."""
    from lstm_trace import trace
    from lstm_trace.records import RecordBatches, RecordTable

    tables: list[RecordTable] = []
    config = LSTMConfig(input_size=2, hidden_size=3, seq_len=50)
    trace(config, steps="all", samples=3, sink=RecordBatches(tables.append))
    table = max(tables, key=len)
    monkeypatch.setattr(table, "WINDOW_NUMBERS", 7 * 7)  # 7 rows a window
    pieces = list(jsonl.table_lines(table))
    assert len(pieces) == -(-len(table) // 7) > 1
    assert all(p.endswith("\n") and p.count("\n") <= 7 for p in pieces)
    with monkeypatch.context() as absent:
        absent.setitem(sys.modules, "orjson", None)
        assert "".join(pieces) == "".join(jsonl.table_lines(table))


def test_stats_rows_are_numpys_own_statistics_of_the_finite_values() -> None:
    """min, max, mean and std (population) of each row's finite values: NumPy's own numbers
    (float64), to the last bit where a block is all finite (float32, float64, float64 sums
    that overflow), and to rounding where rows hold NaN or Inf (summed there with zeros in
    their place); a row with no finite value has NaN stats."""
    from lstm_trace.summary import stats_rows

    rng = np.random.default_rng(7)
    finite = rng.standard_normal((40, 70)).astype(np.float32) * np.float32(3.0)
    odd = finite.copy()
    odd[3, 5], odd[8, :4], odd[9] = np.nan, [np.inf, -np.inf, np.nan, 1.0], np.nan
    huge = np.full((2, 5), 1e308)
    huge[1, 2] = -1e308
    for values in (finite, finite.astype(np.float64), huge, odd):
        with np.errstate(over="ignore", invalid="ignore"):  # huge's sums overflow
            got = stats_rows(values)
        for row, v in enumerate(values):
            kept = v[np.isfinite(v)].astype(np.float64)
            with np.errstate(over="ignore", invalid="ignore"):
                want = [kept.min(), kept.max(), kept.mean(), kept.std()] if kept.size else []
            have = [got.min[row], got.max[row], got.mean[row], got.std[row]]
            if values is not odd:
                assert np.array_equal(have, want, equal_nan=True), (values.dtype, row)
            elif want:
                assert np.allclose(have, want, rtol=1e-12, atol=0), row
            else:
                assert np.isnan(have).all()
            assert (got.nan[row], got.inf[row]) == (np.isnan(v).sum(), np.isinf(v).sum())


def test_a_kept_table_of_many_batches_is_written_in_the_order_added(orjson: ModuleType) -> None:
    """A trace's own table (every block's records added to it, not streamed) is written in
    the order the records were added, not sorted, as tensor_line writes each record."""
    from lstm_trace import trace

    config = LSTMConfig(input_size=2, hidden_size=3, seq_len=6, num_layers=2, direction="bi")
    table = trace(config, steps="all", samples=2).tensors
    added = list(table.in_added_order())
    assert added != sorted(added, key=lambda r: r.sort_key)  # the two orders differ here
    assert "".join(jsonl.table_lines(table)) == "".join(jsonl.tensor_line(r) for r in added)
