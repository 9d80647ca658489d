"""bench/run.py's parts without timing them: the arithmetic limit's FLOP counts against a
hand count and against the weights' own shapes, that every bench module imports, and the
pieces that decide what a row says (no timing is asserted: a smoke run's numbers mean
nothing)."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from lstm_trace import LSTMConfig, init_weights

BENCH = Path(__file__).resolve().parents[1] / "bench"
MODULES = [
    "cold",
    "limits",
    "machine",
    "memory",
    "records",
    "run",
    "shapes",
    "speed",
    "timing",
    "torch_ref",
]


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> dict[str, ModuleType]:
    """Every module of bench/run.py, imported as run.py imports them (bench/ on sys.path)."""
    monkeypatch.syspath_prepend(str(BENCH))
    return {name: importlib.import_module(name) for name in MODULES}


# (T, B, I, H, layers, bidirectional), gates, proj_size, the count by hand
HAND_COUNTS = [
    # input 2*3*2*4 * 4*5 = 960, recurrent 2*3*2*5 * 4*5 = 1200
    ((3, 2, 4, 5, 1, False), 4, 0, 2160),
    # the GRU's three gates: 2*3*2*4 * 3*5 = 720, 2*3*2*5 * 3*5 = 900
    ((3, 2, 4, 5, 1, False), 3, 0, 1620),
    # two directions of layer 0: 2 * (960 + 1200); layer 1 reads D*H = 10 features:
    # 2 * (2*3*2*10 * 4*5 + 1200) = 2 * (2400 + 1200)
    ((3, 2, 4, 5, 2, True), 4, 0, 4320 + 7200),
    # proj_size 2: input 960, recurrent from H_out = 2: 2*3*2*2 * 4*5 = 480,
    # the projection 2*3*2 * 5*2 = 120
    ((3, 2, 4, 5, 1, False), 4, 2, 1560),
]


@pytest.mark.parametrize(("shape", "gates", "proj", "expected"), HAND_COUNTS)
def test_pass_flops_match_a_hand_count(
    bench: dict[str, ModuleType],
    shape: tuple[int, int, int, int, int, bool],
    gates: int,
    proj: int,
    expected: int,
) -> None:
    assert bench["limits"].pass_flops(shape, gates, proj) == expected


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("proj", [0, 3])
@pytest.mark.parametrize("shape", [(7, 3, 6, 5, 1, False), (4, 2, 3, 6, 3, True)])
def test_pass_flops_are_two_per_weight_per_step_and_row(
    bench: dict[str, ModuleType],
    cell: str,
    proj: int,
    shape: tuple[int, int, int, int, int, bool],
) -> None:
    """Every weight matrix multiplies once per step and batch row: 2 T B x its entries."""
    if cell == "gru" and proj:
        pytest.skip("the GRU has no projection")
    t, b, i, h, layers, bi = shape
    cfg = LSTMConfig(
        input_size=i,
        hidden_size=h,
        seq_len=t,
        batch=b,
        num_layers=layers,
        proj_size=proj,
        cell=cell,
        direction="bi" if bi else "uni",
    )
    weights = init_weights(cfg).to_pytorch()
    entries = sum(w.size for name, w in weights.items() if name.startswith("weight_"))
    gates = bench["limits"].GATES[cell]
    assert bench["limits"].pass_flops(shape, gates, proj) == 2 * t * b * entries


def test_the_limit_is_the_flops_at_the_peak(bench: dict[str, ModuleType]) -> None:
    limits = bench["limits"]
    shape = (3, 2, 4, 5, 1, False)
    assert limits.limit_seconds(shape, 4, 1e3) == pytest.approx(2.16)
    peak, n = limits.sgemm_peak(sizes=(8, 16), repeats=1)
    assert n in (8, 16) and peak > 0


def test_every_shape_has_a_target(bench: dict[str, ModuleType]) -> None:
    shapes, speed = bench["shapes"], bench["speed"]
    expected = [("lstm", s) for s in shapes.SHAPES] + [("gru", s) for s in shapes.GRU_SHAPES]
    assert sorted(speed.TARGETS, key=str) == sorted(expected, key=str)
    assert speed.TARGETS[("lstm", (1000, 1, 32, 70, 1, False))] == 0.6
    assert speed.TARGETS[("gru", (200, 16, 256, 256, 1, False))] == 1.15


def measured(bench: dict[str, ModuleType], cell: str, shape: Any, **rounds: list[float]) -> Any:
    """A shape's runs as if timed: each run's fastest call, one a round."""
    return bench["speed"].Measured(cell, shape, bench["timing"].Turns(rounds))


def test_a_row_names_each_target_it_missed(bench: dict[str, ModuleType]) -> None:
    speed = bench["speed"]
    shape = (1000, 1, 32, 70, 1, False)
    peak = bench["limits"].pass_flops(shape, 4) / 0.1  # the limit: 0.1 s
    m = measured(bench, "lstm", shape, torch=[1.0], forward=[0.5], numpy=[0.8], default=[0.55],
                 reported=[0.6], full=[1.6])  # fmt: skip
    row = speed.torch_row(m, peak)
    assert len(row) == len(speed.TORCH_HEADER)
    assert row[2:11] == ["1000.00", "500.00", "0.50", "0.80", "1.10", "1.20", "3.20", "0.10",
                         "<= 0.6"]  # fmt: skip
    assert row[11] == "missed: full trace"  # the report's read is shown, not judged
    m = measured(
        bench, "lstm", shape, torch=[1.0], forward=[0.7], numpy=[0.7], default=[0.91], full=[0.7]
    )
    assert speed.torch_row(m, peak)[11] == "missed: fwd, trace"
    m = measured(
        bench,
        "gru",
        (200, 16, 256, 256, 1, False),
        forward=[1.0],
        numpy=[1.0],
        default=[1.0],
        full=[1.0],
    )
    row = speed.torch_row(m, 1e9)
    assert row[2] == row[4] == row[5] == row[7] == row[9] == ""
    assert row[11] == "missed: fwd (no torch)"
    assert speed.kernel_row(m)[3:] == ["1000.00", "1000.00", "1.00"]


def test_ratios_pair_the_bursts_of_a_round(bench: dict[str, ModuleType]) -> None:
    """A slow round slows both runs: their ratio is each round's, not the medians'."""
    turns = bench["timing"].Turns({"a": [1.0, 4.0, 1.1], "b": [2.0, 8.0, 2.0]})
    assert turns.seconds("a") == 1.1 and turns.seconds("b") == 2.0
    assert turns.ratio("a", "b") == 0.5  # of 0.5, 0.5 and 0.55 (the medians' quotient: 0.55)


def test_take_turns_keeps_each_bursts_fastest_call(bench: dict[str, ModuleType]) -> None:
    timing = bench["timing"]
    calls: list[str] = []
    runs = {"a": (lambda: calls.append("a"), 3), "b": (lambda: calls.append("b"), 1)}
    turns = timing.take_turns(runs, 2, "cpu", burst=0)
    # each burst: one untimed call, then its calls; the runs take turns, round after round
    assert "".join(calls) == "aaaabb" * 2
    assert [len(t) for t in turns.bests.values()] == [2, 2]
    # a burst of short calls lasts `burst` seconds, up to MAX_CALLS calls
    calls.clear()
    timing.take_turns(runs, 1, burst=1e6)
    assert "".join(calls) == "a" * (timing.MAX_CALLS + 1) + "b" * (timing.MAX_CALLS + 1)


def test_with_kernel_sets_the_switch_for_the_call_only(
    bench: dict[str, ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    timing = bench["timing"]
    monkeypatch.setenv(timing.KERNEL_VARIABLE, "auto")
    seen = timing.with_kernel("numpy", lambda: os.environ[timing.KERNEL_VARIABLE])()
    assert seen == "numpy"
    assert os.environ[timing.KERNEL_VARIABLE] == "auto"
    monkeypatch.delenv(timing.KERNEL_VARIABLE)
    assert timing.with_kernel("auto", lambda: os.environ[timing.KERNEL_VARIABLE])() == "auto"
    assert timing.KERNEL_VARIABLE not in os.environ


def test_machine_rows_name_the_cpu_and_the_blas(bench: dict[str, ModuleType]) -> None:
    rows = dict(bench["machine"].describe())
    assert list(rows) == [
        "CPU",
        "cores",
        "vector ISA",
        "NumPy",
        "lstm-trace",
        "torch",
        "Python",
        "load average",
    ]
    assert rows["cores"] == str(os.cpu_count())
    assert "BLAS" in rows["NumPy"]
    assert bench["machine"].blas_threads() >= 1
    _, isa = bench["machine"].cpu_info()
    assert set(isa) <= {"avx512f", "avx2"}


def test_table_is_markdown(
    bench: dict[str, ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    bench["timing"].table("Title", ["a", "bee"], [["1", "2"], ["333", ""]])
    assert capsys.readouterr().out.splitlines() == [
        "",
        "Title",
        "",
        "| a   | bee |",
        "|-----|-----|",
        "| 1   | 2   |",
        "| 333 |     |",
    ]


def test_a_printed_run_counts_ten_records_a_step(bench: dict[str, ModuleType]) -> None:
    records = bench["records"]
    root = BENCH.parent
    row = records.printed_row(
        root, ["--steps", "all", "--format", "jsonl"], 5.0, 1, steps=3, hidden=4
    )
    assert row[0] == "lstm-trace -T 3 -H 4 --steps all --format jsonl"
    assert row[1] == "30"
    assert float(row[3]) > 0 and row[4] == "<= 5"


def test_the_kernel_table_says_what_auto_runs(bench: dict[str, ModuleType]) -> None:
    from lstm_trace.cells import kernel

    path = bench["speed"].auto_path("gru", (1000, 1, 4, 5, 1, False))
    built = kernel.built()
    assert path == ("NumPy" if built is None else f"kernel, {built.isas()[-1]}")
