"""lstm-trace benchmarks: speed against torch.nn.LSTM and nn.GRU, trace overhead, cold start,
memory.

It measures the checkout it sits in, whatever copy of lstm-trace is installed (torch and
torchinfo optional; without them their columns are empty):

    python bench/run.py            # everything, a few minutes
    python bench/run.py --quick    # fewer repeats

Medians of repeated runs, float32. lstm-trace's NumPy uses OpenBLAS with all cores; torch is
given the same number of threads. Ratios, not absolute times, are what the targets mean:
forward <= 1.5 x torch, default trace <= 1.2 x forward, full trace <= 3 x forward, cold start
<= 0.3 s and >= 3 x faster than torchinfo's summary. The GRU's forward against nn.GRU is
reported beside the LSTM's (skipped, with a line saying so, by a version without the GRU).
Never run as part of the tests.
"""

from __future__ import annotations

import argparse
import compileall
import inspect
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

# The checkout this script sits in, never another copy of lstm_trace that happens to be
# installed: a script's own folder, not the working directory, starts sys.path.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shapes import SHAPES, Shape, shape_name  # noqa: E402

from lstm_trace import HOOK_POINTS, LSTMConfig, forward, init_input, init_weights, trace  # noqa: E402
from lstm_trace.frameworks import to_torch  # noqa: E402
from lstm_trace.trace import prepare, trace_bytes  # noqa: E402

THREADS = os.cpu_count() or 1


def median_time(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def take_turns(runs: dict[str, tuple[Callable[[], Any], int]], rounds: int) -> dict[str, float]:
    """Median seconds of each run, {name: (function, calls per burst)}, timed in bursts that
    take turns for a few rounds: a slow spell of a shared machine then falls on all of them
    alike. Each burst starts after a pause, so that the threads the previous burst left
    spinning (OpenBLAS's, torch's) are asleep and do not slow it, and with an untimed call, so
    it is timed warm, back to back, as a framework is used in a loop (torch's thread pool is
    then awake: the fair comparison)."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, (fn, calls) in runs.items():
            time.sleep(0.2)
            fn()
            for _ in range(calls):
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def torch_runs(cfg: LSTMConfig) -> dict[str, Callable[[], Any]]:
    """torch.nn.LSTM (nn.GRU for a GRU's config) on the same weights and input: as it runs by
    default (oneDNN's fused RNN primitive, weights packed once), and with oneDNN off (ATen's
    own loop, one matrix product and the gate arithmetic per step, the way lstm-trace works).
    Empty without torch."""
    try:
        import torch
        import torch.backends.mkldnn as onednn
    except ImportError:
        return {}
    torch.set_num_threads(THREADS)
    lstm = to_torch(init_weights(cfg))
    xt = torch.from_numpy(init_input(cfg))

    def run() -> None:
        with torch.no_grad():
            lstm(xt)

    # the flag itself, not torch.backends.mkldnn.flags(), which also sets TF32 and warns;
    # torch's stubs type it as the descriptor behind it (ContextProp), so it is set through
    # an untyped name, which type-checks the same with torch installed or not
    flags: Any = onednn

    def run_aten() -> None:
        flags.enabled = False
        try:
            run()
        finally:
            flags.enabled = True

    return {"torch": run, "aten": run_aten}


def takes(field: str) -> bool:
    """Whether this lstm-trace's LSTMConfig takes `field`: "cell" once it has the GRU."""
    return field in inspect.signature(LSTMConfig).parameters


def make_config(shape: Shape, cell: str | None = None) -> LSTMConfig:
    """The float32 config of a shape; cell None is the default cell, the LSTM. A version with
    the GRU says the direction as "bi" / "uni", an older one has `bidirectional`. Built from a
    dict so that it type-checks against either."""
    t, b, i, h, layers, bi = shape
    sizes: dict[str, Any] = {
        "input_size": i,
        "hidden_size": h,
        "seq_len": t,
        "batch": b,
        "num_layers": layers,
    }
    if takes("direction"):
        sizes["direction"] = "bi" if bi else "uni"
    else:
        sizes["bidirectional"] = bi
    if cell is not None:
        sizes["cell"] = cell
    return LSTMConfig(**sizes)


def torch_row(shape: Shape, fwd: float, median: dict[str, float]) -> list[str]:
    """shape, forward ms, then torch's ms and forward / torch, by default and oneDNN off."""
    row = [shape_name(shape), f"{fwd * 1e3:.1f}"]
    for reference in ("torch", "aten"):
        ref = median.get(reference)
        row += ["", ""] if ref is None else [f"{ref * 1e3:.1f}", f"{fwd / ref:.2f}"]
    return row


def gru_speed(rounds: int) -> list[list[str]]:
    """lstm-trace's GRU forward against torch.nn.GRU on the same weights and input."""
    rows = []
    for shape in SHAPES:
        cfg = make_config(shape, "gru")
        w, x = init_weights(cfg), init_input(cfg)
        runs: dict[str, tuple[Callable[[], Any], int]] = {"forward": (partial(forward, w, x), 5)}
        runs.update((name, (fn, 5)) for name, fn in torch_runs(cfg).items())
        median = take_turns(runs, rounds)
        rows.append(torch_row(shape, median["forward"], median))
    return rows


def speed(rounds: int) -> list[list[str]]:
    rows = []
    for shape in SHAPES:
        cfg = make_config(shape)
        w, x = init_weights(cfg), init_input(cfg)
        runs: dict[str, tuple[Callable[[], Any], int]] = {
            "forward": (partial(forward, w, x), 5),
            "default": (partial(trace, cfg, w, x), 5),
            "full": (partial(trace, cfg, w, x, steps="all"), 2),
        }
        runs.update((name, (fn, 5)) for name, fn in torch_runs(cfg).items())
        median = take_turns(runs, rounds)
        fwd = median["forward"]
        row = torch_row(shape, fwd, median)
        row += [f"{median['default'] / fwd:.2f}", f"{median['full'] / fwd:.2f}"]
        rows.append(row)
    return rows


def cold_start(repeats: int) -> list[list[str]]:
    def run(cmd: list[str]) -> float:
        return median_time(
            partial(subprocess.run, cmd, capture_output=True, check=True, cwd=ROOT), repeats
        )

    # pip compiles an installed package's bytecode; a checkout run with
    # PYTHONDONTWRITEBYTECODE set would otherwise time the compiler (25 ms) at every start.
    compileall.compile_dir(ROOT / "lstm_trace", quiet=1)
    ours = run([sys.executable, "-m", "lstm_trace", "--input", "32", "--hidden", "70"])
    bare = run([sys.executable, "-c", "pass"])
    rows = [
        ["lstm-trace --input 32 --hidden 70", f"{ours:.3f}", ""],
        ["python -c pass (the interpreter alone, for scale)", f"{bare:.3f}", ""],
    ]
    try:
        import torchinfo  # noqa: F401
    except ImportError:
        return rows
    code = (
        "import torch, torchinfo; "
        "torchinfo.summary(torch.nn.LSTM(32, 70), input_size=(1, 3, 32), verbose=1)"
    )
    theirs = run([sys.executable, "-c", code])
    rows.append(
        [
            "torchinfo.summary(nn.LSTM(32, 70)) with import torch",
            f"{theirs:.3f}",
            f"{theirs / ours:.1f} x slower",
        ]
    )
    return rows


def peak_rss(args: list[str]) -> int:
    """Peak resident memory of a fresh `lstm-trace ARGS` in bytes (/usr/bin/time -v)."""
    done = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, "-m", "lstm_trace", *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    kb = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    assert kb, done.stderr
    return int(kb.group(1)) * 1024


def memory() -> list[list[str]]:
    rows = []
    for t in (10_000, 100_000):
        runs = (
            ("default steps, JSON", ["--json"], False),
            ("every step, JSONL", ["--format", "jsonl", "--steps", "all"], True),
        )
        for label, extra, streamed in runs:
            h = 256
            if streamed and t == 100_000:
                h = 70  # a million JSONL lines at H=256 take minutes; the records stay flat
            cfg = LSTMConfig(seq_len=t, hidden_size=h)
            selection = prepare(cfg, "all" if streamed else None, 4, keep_records=not streamed)
            estimate = cfg.estimate_bytes(trace_bytes(cfg, selection, 4, keep_records=not streamed))
            measured = peak_rss(["-T", str(t), "-H", str(h), *extra])
            rows.append(
                [
                    f"T={t} H={h} {label}",
                    f"{measured / 2**20:.0f}",
                    f"{estimate / 2**20:.0f}",
                    f"{estimate / measured:.2f}",
                ]
            )
    return rows


def rendering(repeats: int) -> list[list[str]]:
    """Full traces printed: the time of a fresh process, start-up included, per record."""
    rows = []
    for t, h, fmt in ((20_000, 256, "jsonl"), (1_000, 70, "json")):
        args = ["-T", str(t), "-H", str(h), "--steps", "all", "--format", fmt]
        cmd = [sys.executable, "-m", "lstm_trace", *args]
        seconds = median_time(
            partial(subprocess.run, cmd, stdout=subprocess.DEVNULL, check=True, cwd=ROOT),
            repeats,
        )
        records = t * len(HOOK_POINTS)
        rows.append(
            [
                f"lstm-trace {' '.join(args)}",
                f"{records:,}",
                f"{seconds:.2f}",
                f"{seconds / records * 1e6:.0f}",
            ]
        )
    return rows


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    rounds = 2 if args.quick else 4
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, NumPy {np.__version__}" + _torch_version()
    )
    print(f"lstm-trace: {Path(sys.modules['lstm_trace'].__file__ or '').parent}")
    table(
        "Speed (float32, median ms; ratios: lower is better)",
        [
            "shape",
            "forward",
            "torch",
            "fwd / torch",
            "torch, oneDNN off",
            "fwd / that",
            "default trace / fwd",
            "full trace / fwd",
        ],
        speed(rounds),
    )
    if takes("cell"):
        table(
            "GRU speed (float32, median ms; ratios: lower is better)",
            ["shape", "forward", "torch", "fwd / torch", "torch, oneDNN off", "fwd / that"],
            gru_speed(rounds),
        )
    else:
        print("\nGRU speed: skipped, this lstm-trace has no GRU (LSTMConfig has no `cell` field)")
    table(
        "Cold start (median s of fresh processes)",
        ["command", "seconds", "vs lstm-trace"],
        cold_start(repeats),
    )
    table(
        "Full traces printed (median s of fresh processes, output to /dev/null)",
        ["command", "records", "seconds", "us / record"],
        rendering(3 if args.quick else 5),
    )
    if not args.skip_memory:
        table(
            "Peak memory (MB): measured with /usr/bin/time -v, and the guard's estimate",
            ["run", "measured", "estimate", "estimate / measured"],
            memory(),
        )


def _torch_version() -> str:
    try:
        import torch
    except ImportError:
        return ", torch not installed"
    return f", torch {torch.__version__} ({THREADS} threads)"


if __name__ == "__main__":
    main()
