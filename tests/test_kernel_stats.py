"""The records' statistics through the compiled kernel (its stats(), csrc/body.h) against the
NumPy path (summary._numpy_rows), bit for bit: NumPy's pairwise float64 sums in its order,
min and max exact; rows with a NaN, an Inf, a zero extreme or a float64 sum that overflows
come from NumPy. Skipped without the compiled kernel."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_trace import LSTMConfig, trace
from lstm_trace.cells import kernel
from lstm_trace.summary import StatsRows, _numpy_rows, stats_rows

_kernel = pytest.importorskip("lstm_trace._kernel", reason="no compiled kernel in this install")

# every branch of the pairwise sum: below 8, 8 to 128 with remainders, halves beyond
WIDTHS = [1, 2, 7, 8, 9, 15, 16, 17, 70, 102, 127, 128, 129, 136, 255, 257, 1000, 4097, 16384]


def _same(got: StatsRows, want: StatsRows) -> None:
    for name in ("min", "max", "mean", "std", "nan", "inf"):
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        np.testing.assert_array_equal(a, b, err_msg=name)  # NaN equals NaN here
        assert (np.signbit(a) == np.signbit(b)).all(), name  # -0.0 is not 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("width", WIDTHS)
def test_the_kernels_stats_are_numpys_to_the_last_bit(width: int, dtype: type) -> None:
    kernel.built()
    rng = np.random.default_rng(width)
    scale = 10.0 ** rng.uniform(-4, 4, (6, width))
    x = (rng.standard_normal((6, width)) * scale + rng.uniform(-3, 3, (6, 1))).astype(dtype)
    _same(stats_rows(x), _numpy_rows(x))
    _same(stats_rows(x[::2]), _numpy_rows(x[::2]))  # rows a stride apart, read in place
    got = np.empty((4, 6))
    assert _kernel.stats(x, got) == 0  # the kernel itself served these: no row marked
    np.testing.assert_array_equal(got[2], _numpy_rows(x).mean)


def test_rows_the_kernel_leaves_to_numpy() -> None:
    """NaN, +-Inf, zero extremes (-0.0 against 0.0: NumPy's lanes decide) and an overflowing
    float64 sum: the NumPy path's numbers, counts included, rows beside them the kernel's."""
    kernel.built()
    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, 40)).astype(np.float32)
    x[1, 3] = np.nan
    x[2, :] = np.inf
    x[3, 5] = -np.inf
    x[4, :] = 0.0
    x[4, ::3] = -0.0
    x[5] = np.abs(x[5])
    x[5, 0] = -0.0  # the row's min
    _same(stats_rows(x), _numpy_rows(x))
    _same(stats_rows(x[[0, 4, 5]]), _numpy_rows(x[[0, 4, 5]]))  # all finite: NumPy's other branch
    big = np.full((2, 9), 1e308)
    big[1] = 1.0
    with np.errstate(over="ignore"):
        _same(stats_rows(big), _numpy_rows(big))
        assert stats_rows(big).mean[0] == np.inf  # as NumPy says: the sum overflows
    got = np.empty((4, 7))
    assert _kernel.stats(x, got) == 5
    assert np.isnan(got[:, 1:6]).all() and not np.isnan(got[:, [0, 6]]).any()
    zeros = np.zeros((3, 20), np.float32)  # an initial state: +0 only, the kernel's own
    zeros[1, 4] = 1.0
    zeros[2, 7] = -0.0  # a -0 beside the zero extremes: NumPy's
    assert _kernel.stats(zeros, np.empty((4, 3))) == 1
    _same(stats_rows(zeros), _numpy_rows(zeros))


def test_bad_arguments_are_refused() -> None:
    x = np.zeros((3, 4), np.float32)
    for out in (np.zeros((3, 3)), np.zeros((4, 2)), np.zeros((4, 3), np.float32),
                np.zeros((3, 4)).T, np.zeros((3, 4))):  # fmt: skip
        with pytest.raises(ValueError):
            _kernel.stats(x, out)
    for x in (np.zeros((3, 0), np.float32), np.zeros(3, np.float32), np.zeros((3, 4), np.int32)):
        with pytest.raises(ValueError):
            _kernel.stats(x, np.zeros((4, 3)))
    with pytest.raises(ValueError):  # samples for another number of records
        _kernel.stats(x.astype(np.float32), np.zeros((4, 3)), 0, 1, np.zeros((2, 4)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rows_of_any_layout_are_read_as_reshape_flattens_them(dtype: type) -> None:
    """A record's value (B, n) of a step is a row flattened in C order: a column slice of a
    batch (a gate's units) is copied first, a contiguous one read in place; the same bits as
    NumPy's reshape(R, -1) and the same samples, several arrays in one call."""
    rng = np.random.default_rng(7)
    block = (rng.standard_normal((5, 3, 40)) * 10.0 ** rng.uniform(-3, 3, (5, 3, 40))).astype(dtype)
    parts = [block[:, :, 8:24], block[:, :1, :], block[::-1, :, ::3], block[:, 1:, 5:6]]
    out, samples = np.empty((4, 5 * len(parts))), np.empty((5 * len(parts), 3))
    assert _kernel.stats(tuple(parts), out, 0, len(parts), samples) == 0
    for q, part in enumerate(parts):
        flat = part.reshape(5, -1)
        want = _numpy_rows(flat)
        for row, name in enumerate(("min", "max", "mean", "std")):
            np.testing.assert_array_equal(out[row, q :: len(parts)], getattr(want, name))
        shown = np.full((5, 3), np.nan)
        shown[:, : min(3, flat.shape[1])] = flat[:, :3]
        np.testing.assert_array_equal(samples[q :: len(parts)], shown)


@pytest.mark.parametrize("steps", [None, "all"])
@pytest.mark.parametrize(
    "sizes",
    [
        dict(input_size=5, hidden_size=9, seq_len=6, batch=3),
        dict(input_size=4, hidden_size=7, seq_len=5, cell="gru", bidirectional=True),
        dict(input_size=3, hidden_size=6, seq_len=4, dtype="float64", proj_size=2),
    ],
)
def test_a_traces_records_are_the_same_with_and_without_the_kernels_stats(
    monkeypatch: pytest.MonkeyPatch, sizes: dict[str, object], steps: str | None
) -> None:
    """The pass is NumPy's in both (fewer than MIN_STEPS steps); only the stats differ in who
    computes them: the documents are equal, hooked (Recorder) or not (BlockRecorder)."""
    kernel.built()
    monkeypatch.setenv("LSTM_TRACE_KERNEL", "auto")
    cfg = LSTMConfig(**sizes)  # type: ignore[arg-type]
    assert cfg.seq_len < kernel.MIN_STEPS
    calls: list[int] = []
    real = _kernel.stats
    monkeypatch.setattr(_kernel, "stats", lambda *a: calls.append(1) or real(*a))
    with_kernel = [
        trace(cfg, steps=steps).to_dict(),
        trace(cfg, steps=steps, hooks=[lambda e: None]).to_dict(),
    ]
    assert calls  # the kernel's stats served
    monkeypatch.setattr(kernel, "loaded", lambda: None)
    without = [
        trace(cfg, steps=steps).to_dict(),
        trace(cfg, steps=steps, hooks=[lambda e: None]).to_dict(),
    ]
    assert with_kernel == without
    assert with_kernel[0]["tensors"] == with_kernel[1]["tensors"]


def test_records_of_a_pass_with_nan_and_signed_zeros_are_the_numpy_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A NaN in x and -0.0 in the initial state: the kernel leaves those rows (every point
    then takes the NumPy path); the documents are equal either way, full and default steps."""
    kernel.built()
    monkeypatch.setenv("LSTM_TRACE_KERNEL", "auto")
    cfg = LSTMConfig(input_size=3, hidden_size=5, seq_len=6, batch=2)
    x = np.random.default_rng(0).standard_normal((2, 6, 3)).astype(np.float32)
    x[1, 4, 2] = np.nan
    h0 = np.zeros((1, 2, 5), np.float32)
    h0[0, 1, ::2] = -0.0
    runs = []
    for loaded in (kernel.loaded, lambda: None):
        monkeypatch.setattr(kernel, "loaded", loaded)
        runs.append([trace(cfg, x=x, h0=h0, steps=s).to_dict() for s in (None, "all")])
    assert runs[0] == runs[1]
    assert any(t["stats"]["nan"] for t in runs[0][1]["tensors"])  # the NaN was counted
