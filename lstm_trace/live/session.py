"""The capture's context manager and what it hands back: the traces by module name."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any

from ..errors import LSTMTraceError
from .replay import CallLog, LiveTrace

#: puts a capture's hooks in place; returns what takes them away again
Install = Callable[[CallLog], Callable[[], None]]


class NotCaptured(LSTMTraceError, KeyError):
    """traces[name] for a name that no captured module has, or one that never ran."""

    def __str__(self) -> str:  # KeyError would show the message quoted
        return self.message


class Captured(Mapping[str, LiveTrace]):
    """The traces of a capture, by module name (the names of the modules that ran).

    traces[name] is the Trace of name's last call; traces.calls(name) every call's, in
    order. A cell stepped in a loop (nn.LSTMCell, nn.GRUCell) is stitched: each run of steps
    whose state is the previous step's output is one sequence, one Trace; traces[name] is
    the last sequence and traces.calls(name) every sequence. Each Trace is made when first
    asked for, and kept.
    """

    def __init__(self, log: CallLog, options: Mapping[str, Any]) -> None:
        self._log = log
        self._options = dict(options)

    @property
    def modules(self) -> list[str]:
        """Every recurrent module the capture found, called or not, in the model's order."""
        return list(self._log.names)

    def calls(self, name: str) -> list[LiveTrace]:
        """Every call's Trace of the module name, in the order they ran."""
        calls = self._log.calls(name)
        if not calls:
            if name not in self._log.names:
                found = ", ".join(repr(n) for n in self._log.names)
                raise NotCaptured(f"no recurrent module named {name!r} was captured; found {found}")
            raise NotCaptured(f"{name!r} was captured but not called inside the with")
        return [call.replay(self._options) for call in calls]

    def __getitem__(self, name: str) -> LiveTrace:
        return self.calls(name)[-1]

    def __iter__(self) -> Iterator[str]:
        return self._log.called()

    def __len__(self) -> int:
        return sum(1 for _ in self._log.called())

    def __repr__(self) -> str:
        ran = {n: len(self._log.calls(n)) for n in self._log.called()}
        return f"Captured({ran})"


class Session:
    """``with capture(model) as traces:``: the hooks are in place inside the with only, and
    taken away on leaving it, also when its body raises."""

    def __init__(self, install: Install, names: list[str], options: Mapping[str, Any]) -> None:
        self._install = install
        self.log = CallLog(names)
        self.captured = Captured(self.log, options)
        self._remove: Callable[[], None] | None = None

    def __enter__(self) -> Captured:
        if self._remove is not None:
            raise LSTMTraceError("this capture is already in use; make a new one per with")
        self._remove = self._install(self.log)
        return self.captured

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        remove, self._remove = self._remove, None
        if remove is not None:
            remove()
