"""What the live API keeps of a framework's call, and its replay as a Trace.

A Call is one run of a recurrent layer over a sequence, in lstm-trace's layout whatever the
framework's: x (B, T, I) batch first, or (T, I) unbatched; h0 (D*L, [B,] H_out) and c0
(D*L, [B,] H), None for zeros; the weights as LSTMWeights; and what the framework itself
returned, under lstm-trace's names ('output' (B, T, D*H_out), 'h_n', 'c_n'), only those the
framework returned. Replaying a Call runs trace() on x, h0 and c0 and compares:

    replay_error = max |trace's value - framework's value| over every value it returned

A cell stepped in a loop (nn.LSTMCell, nn.GRUCell) makes one call per step; Steps stitches
the steps whose state is the previous step's output into one Call. Nothing here imports a
framework: the capture modules hand in NumPy arrays.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ..cells.base import FloatArray
from ..errors import ConfigError
from ..trace import Trace, trace
from ..weights import LSTMWeights

#: trace()'s arguments that a Call provides; the rest (steps, samples, hooks, ...) pass through
_FROM_CALL = frozenset({"config", "weights", "x", "h0", "c0", "source"})


@dataclass(repr=False)  # a Trace's one-line repr, not a dump of every field
class LiveTrace(Trace):
    """A Trace of a module as the framework ran it: the Trace's whole contract (records,
    health, to_dict(), whose weights.source is 'captured: <name>'), and the comparison."""

    #: the module's name: named_modules()'s for torch, layer names joined by '/' for Keras
    name: str = ""
    #: max |lstm-trace - framework| over output, h_n (and c_n), what the framework returned
    replay_error: float | None = None
    #: the framework's calls this trace replays: 1 for a layer, the steps of a stitched cell
    framework_calls: int = 1


@dataclass
class Call:
    """One run of a recurrent layer over a sequence, in lstm-trace's layout (module doc)."""

    name: str
    weights: LSTMWeights
    x: FloatArray
    h0: FloatArray | None
    c0: FloatArray | None
    expected: dict[str, FloatArray]
    framework_calls: int = 1
    _trace: LiveTrace | None = field(default=None, repr=False)

    def replay(self, options: Mapping[str, Any]) -> LiveTrace:
        """trace() of this call (options: trace()'s other arguments), made once."""
        if self._trace is None:
            done = trace(
                weights=self.weights,
                x=self.x,
                h0=self.h0,
                c0=self.c0,
                source=f"captured: {self.name or 'the model itself'}",
                **options,
            )
            values = {f.name: getattr(done, f.name) for f in fields(Trace)}
            self._trace = LiveTrace(
                **values,
                name=self.name,
                replay_error=replay_error(done, self.expected),
                framework_calls=self.framework_calls,
            )
        return self._trace


def replay_error(done: Trace, expected: Mapping[str, FloatArray]) -> float | None:
    """The largest |difference| between the trace's arrays and the framework's (float64),
    over the names the framework returned; None when it returned none. A shape that differs
    is a bug of the capture, not a number: it is raised."""
    ours = done.arrays()
    worst: float | None = None
    for key, theirs in expected.items():
        mine = ours[key]
        if mine.shape != theirs.shape:
            raise AssertionError(f"{key}: lstm-trace {mine.shape} but the framework {theirs.shape}")
        diff = np.abs(mine.astype(np.float64) - theirs.astype(np.float64))
        # NaN in both at the same place is agreement; anywhere else it is the worst error
        both_nan = np.isnan(mine) & np.isnan(theirs)
        err = float(np.where(both_nan, 0.0, np.nan_to_num(diff, nan=np.inf)).max(initial=0.0))
        worst = err if worst is None else max(worst, err)
    return worst


def check_trace_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The trace() options a capture passes on, checked before anything runs: a Call's own
    arguments are refused, and names trace() does not take."""
    passed = [name for name in inspect.signature(trace).parameters if name not in _FROM_CALL]
    taken = sorted(set(options) & _FROM_CALL)
    unknown = sorted(set(options) - _FROM_CALL - set(passed))
    if taken or unknown:
        what = (
            f"{', '.join(taken)}: the capture takes these from the module and its input"
            if taken
            else f"{', '.join(unknown)}: not an option of trace()"
        )
        raise ConfigError(f"{what}; the options it passes to trace() are {', '.join(passed)}")
    return dict(options)


@dataclass
class _Open:
    """A cell's sequence being stitched: its steps so far."""

    name: str
    weights: LSTMWeights
    first: tuple[FloatArray, ...] | None  # the state the first step read (None: zeros)
    xs: list[FloatArray]
    outs: list[tuple[FloatArray, ...]]

    def chains(self, weights: LSTMWeights, x: FloatArray, state: tuple[FloatArray, ...]) -> bool:
        """Whether a step reading state continues this sequence: the same weights, an input
        of the same shape, and the state equal to the last step's output, value for value."""
        last = self.outs[-1]
        return (
            weights is self.weights
            and x.shape == self.xs[-1].shape
            and len(state) == len(last)
            and all(
                s.shape == o.shape and np.array_equal(s, o)
                for s, o in zip(state, last, strict=True)
            )
        )

    def call(self) -> Call:
        """The steps as one Call: x (B, T, I) or (T, I), h0 (1, [B,] H) the first step's."""
        x = np.stack(self.xs, axis=-2)
        hs = [out[0] for out in self.outs]
        expected = {"output": np.stack(hs, axis=-2), "h_n": hs[-1][None]}
        if len(self.outs[-1]) > 1:
            expected["c_n"] = self.outs[-1][1][None]
        first = self.first or ()
        h0 = first[0][None] if first else None
        c0 = first[1][None] if len(first) > 1 else None
        return Call(self.name, self.weights, x, h0, c0, expected, len(self.xs))


class Steps:
    """One cell's steps, stitched into sequences: a step whose state (h, or (h, c)) equals the
    previous step's output continues its sequence; any other step (no state: zeros, or a
    state from elsewhere, or other weights) starts a new one."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._done: list[Call] = []
        self._open: _Open | None = None

    def add(
        self,
        weights: LSTMWeights,
        x: FloatArray,
        state: tuple[FloatArray, ...] | None,
        out: tuple[FloatArray, ...],
    ) -> None:
        """One step: x (B, I) or (I,), the state it read (None: zeros), the state it made."""
        if self._open is not None and state is not None and self._open.chains(weights, x, state):
            self._open.xs.append(x)
            self._open.outs.append(out)
            return
        if self._open is not None:
            self._done.append(self._open.call())
        self._open = _Open(self.name, weights, state, [x], [out])

    def calls(self) -> list[Call]:
        """Every sequence so far, in order; the open one ends here (a later step may still
        continue it, so it is made again from its steps then)."""
        return [*self._done, *([] if self._open is None else [self._open.call()])]


class CallLog:
    """Every call of every captured module, by name, in the order they ran."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        self._layers: dict[str, list[Call]] = {}
        self._steps: dict[str, Steps] = {}
        self._cache: dict[tuple[str, int], Call] = {}

    def add(self, call: Call) -> None:
        self._layers.setdefault(call.name, []).append(call)

    def step(self, name: str) -> Steps:
        return self._steps.setdefault(name, Steps(name))

    def calls(self, name: str) -> list[Call]:
        """name's calls in order (a cell's: its stitched sequences). A stitched sequence that
        is made again unchanged keeps the Call already made, and so its replay."""
        if name in self._layers:
            return self._layers[name]
        made = self._steps[name].calls() if name in self._steps else []
        kept = []
        for i, call in enumerate(made):
            old = self._cache.get((name, i))
            if old is None or old.framework_calls != call.framework_calls:
                self._cache[(name, i)] = old = call
            kept.append(old)
        return kept

    def called(self) -> Iterator[str]:
        """The names that ran at least once, in the order the modules were found."""
        return (n for n in self.names if n in self._layers or n in self._steps)
