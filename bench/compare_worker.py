"""The worker of bench/compare.py: times one checkout's lstm-trace, driven over a pipe.

    python bench/compare_worker.py CHECKOUT

imports lstm_trace from CHECKOUT (and nothing else: CHECKOUT goes first on sys.path, the
script's own folder is dropped), prints one JSON line {"ready": path of the lstm_trace it
imported}, then answers one JSON line per request line on stdin until stdin closes:

    {"shape": [T, B, I, H, layers, bidirectional], "measure": "forward", "calls": 5,
     "clock": "wall"}
    -> {"times": [seconds of each call]}

clock "wall" (the default) is time.perf_counter; "cpu" is time.process_time, the CPU
seconds of the whole process, which another process taking the cores does not inflate.
A burst is one untimed call, then `calls` timed calls back to back, so it is timed warm. The
weights and input of a shape are made once, from LSTMConfig's default seed, so both sides of
a comparison run the same numbers. A failure is answered {"error": "one line"}.

Only the public API is used (LSTMConfig, init_weights, init_input, forward, trace), which
every revision being compared has.
"""

from __future__ import annotations

import gc
import inspect
import json
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

MEASURES = ("forward", "default", "full")


def import_checkout(checkout: Path) -> Any:
    """The lstm_trace package of `checkout`, whatever else is installed or on sys.path."""
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if p not in ("", here)]
    sys.path.insert(0, str(checkout))
    import lstm_trace

    where = Path(lstm_trace.__file__ or "").resolve().parent
    if where != (checkout / "lstm_trace").resolve():
        raise ImportError(f"imported lstm_trace from {where}, not from {checkout}")
    return lstm_trace


def make_config(api: Any, shape: list[Any]) -> Any:
    """LSTMConfig of (T, B, I, H, layers, bidirectional), float32, default seed. A version
    whose LSTMConfig takes `direction` is given "bi" / "uni"; an older one `bidirectional`."""
    t, b, i, h, layers, bi = shape
    sizes = {"input_size": i, "hidden_size": h, "seq_len": t, "batch": b, "num_layers": layers}
    if "direction" in inspect.signature(api.LSTMConfig).parameters:
        sizes["direction"] = "bi" if bi else "uni"
    else:
        sizes["bidirectional"] = bool(bi)
    return api.LSTMConfig(**sizes, dtype="float32")


class Cases:
    """The callables of each (shape, measure), made on first use and kept, so that a burst
    times the computation and never the set-up."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.made: dict[tuple[Any, ...], dict[str, Callable[[], Any]]] = {}

    def get(self, shape: list[Any], measure: str) -> Callable[[], Any]:
        if measure not in MEASURES:
            raise ValueError(f"measure {measure!r}: expected one of {', '.join(MEASURES)}")
        key = tuple(shape)
        if key not in self.made:
            api = self.api
            cfg = make_config(api, shape)
            w, x = api.init_weights(cfg), api.init_input(cfg)
            self.made[key] = {
                "forward": partial(api.forward, w, x),
                "default": partial(api.trace, cfg, w, x),
                "full": partial(api.trace, cfg, w, x, steps="all"),
            }
        return self.made[key][measure]


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def burst(fn: Callable[[], Any], calls: int, clock: Callable[[], float]) -> list[float]:
    """Seconds of each of `calls` calls, after one untimed call. The garbage of the last
    burst is collected first, so that neither side pays for the other's pace."""
    gc.collect()
    fn()
    times = []
    for _ in range(calls):
        start = clock()
        fn()
        times.append(clock() - start)
    return times


def answer(cases: Cases, line: str) -> dict[str, Any]:
    try:
        request = json.loads(line)
        fn = cases.get(request["shape"], request["measure"])
        clock = CLOCKS[request.get("clock", "wall")]
        return {"times": burst(fn, int(request["calls"]), clock)}
    except Exception as error:  # reported to the parent, which names the checkout
        return {"error": f"{type(error).__name__}: {error}".replace("\n", " ")}


def reply(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: compare_worker.py CHECKOUT\n")
        return 2
    checkout = Path(argv[0]).resolve()
    try:
        api = import_checkout(checkout)
    except Exception as error:
        reply({"error": f"cannot import lstm_trace from {checkout}: {error}"})
        return 1
    reply({"ready": str(Path(api.__file__).resolve().parent)})
    cases = Cases(api)
    for line in sys.stdin:
        if line.strip():
            reply(answer(cases, line))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
