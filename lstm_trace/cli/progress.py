"""Progress bars on stderr for long work: the forward pass, and a full trace being written.

A bar appears only when the work is still running after DELAY seconds (so a short run and
the walkthrough print nothing extra), only when stderr is a terminal, and neither --quiet nor
the CI environment variable (any non-empty value) is set. It is transient: cleared when the
work ends, so the terminal keeps only the answer, which goes to stdout as before.

The pass reports through trace()'s observers (a BlockObserver per piece of a block of steps,
cells/recurrence.py): total work = layers x directions x T steps. The work side of a Tally
is an integer addition and a clock read; the bar is drawn from the Tally's calls, at most
REFRESH times a second, on the pass's own thread (no refresh thread to contend with it for
the interpreter), and rich.progress is imported only when a bar is actually shown
(start-up time).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from . import console

if TYPE_CHECKING:
    from ..cell import BlockObserver
    from ..cells.base import FloatArray
    from ..config import LSTMConfig

#: seconds of work before a bar appears
DELAY = 1.0
#: at most how often, per second, a Tally passes its count on and the bar is redrawn
REFRESH = 10


def wanted() -> bool:
    """Whether a bar may be shown: stderr is a terminal, no --quiet, no CI variable."""
    if console._QUIET[0] or os.environ.get("CI"):
        return False
    return _is_terminal(sys.stderr)


def _is_terminal(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # closed, or replaced by something file-less
        return False


def pass_steps(config: LSTMConfig) -> int:
    """The steps a forward pass visits: every layer and direction runs over all T steps."""
    return config.num_layers * config.num_directions * config.seq_len


class Tally:
    """Counts work done out of total and passes the count to `show` (done, total) when a bar
    is due: after `delay` seconds of work (DELAY when None), then at most REFRESH times a
    second. `clock` is time.monotonic, or a test's. The work only ever pays for advance().
    (A plain class: making a dataclass would cost every start-up about 0.6 ms.)"""

    __slots__ = ("clock", "done", "due", "show", "total")

    def __init__(
        self,
        total: int,
        show: Callable[[int, int], None],
        delay: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.show, self.clock, self.done = total, show, clock, 0
        #: the clock reading at which show is next called
        self.due = clock() + (DELAY if delay is None else delay)

    def advance(self, n: int) -> None:
        self.done += n
        now = self.clock()
        if now >= self.due:
            self.due = now + 1.0 / REFRESH
            self.show(self.done, self.total)

    def observe(self, layer: int, direction: str, steps: Sequence[int], block: FloatArray) -> None:
        """A BlockObserver: each piece of a block of steps the pass has finished."""
        self.advance(len(steps))


class Bar:
    """A Rich progress bar on stderr, made at its first show() (rich.progress loads then),
    with units done out of the total, the rate and the time left; redrawn at each show(),
    cleared by close(). console: where it is drawn instead of stderr (a Rich Console;
    bench/progress.py draws into memory)."""

    def __init__(self, unit: str, description: str, console: Any = None) -> None:
        self.unit, self.description, self.console = unit, description, console
        self.progress: Any = None  # rich.progress.Progress once shown
        self.task: Any = None

    def show(self, done: int, total: int) -> None:
        if self.progress is None:
            self.progress, self.task = _start(
                self.unit, self.description, done, total, self.console
            )
        else:
            self.progress.update(self.task, completed=done, refresh=True)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def _start(
    unit: str, description: str, done: int, total: int, console: Any = None
) -> tuple[Any, Any]:
    """A started Progress with one task, drawn as one line of text (line()): a quarter of
    the time Rich's table of columns takes to draw (0.2 against 0.85 ms a redraw here).
    rich.progress is imported here, when a bar shows."""
    from rich.console import Console, RenderableType
    from rich.progress import Progress  # lazy: only when a bar is shown

    class OneLine(Progress):
        def get_renderables(self) -> Iterator[RenderableType]:
            for task in self.tasks:
                yield line(task, unit, self.console.width)

    progress = OneLine(
        console=Console(stderr=True) if console is None else console,
        transient=True,  # cleared when done: the terminal keeps only the answer
        auto_refresh=False,  # drawn by show(), which the Tally calls at most REFRESH a second
        redirect_stdout=False,  # the answer is never touched
        redirect_stderr=False,
    )
    task = progress.add_task(description, total=total, completed=done)  # drawn from the first
    progress.start()
    return progress, task


#: the widest a bar is drawn, in characters
BAR_WIDTH = 40


def line(task: Any, unit: str, width: int) -> Any:
    """A rich.progress Task as one line of at most width characters: 'tracing ━━━━━━━━━━
    81920/200000 steps 95,312 steps/s 0:00:01', the bar narrowed to fit (Rich's own colours:
    the bar's, a count's, time left's)."""
    from rich.text import Text

    total, done = int(task.total or 0), int(task.completed)
    speed, left = task.speed, task.time_remaining
    count = f"{done:>{len(str(total))}}/{total}"
    rate = "" if speed is None else f" {speed:,.0f} {unit}/s"
    eta = "-:--:--" if left is None else _clock(left)
    rest = len(task.description) + len(count) + len(unit) + len(rate) + len(eta) + 4
    bar = max(0, min(BAR_WIDTH, width - rest))
    filled = bar * done // total if total else 0
    text = Text(f"{task.description} ")
    text.append("━" * filled, style="bar.complete")
    text.append("━" * (bar - filled), style="bar.back")
    text.append(f" {count}", style="progress.download")
    text.append(f" {unit}{rate} ")
    text.append(eta, style="progress.remaining")
    return text


def _clock(seconds: float) -> str:
    """0:01:05: hours, minutes and seconds, as Rich writes the time left."""
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


@contextlib.contextmanager
def tracking(
    total: int, unit: str, description: str, answer: TextIO | None = None
) -> Iterator[Tally | None]:
    """A Tally of total units whose bar shows on stderr when wanted() and the work lasts;
    None when no bar may be shown (the caller then pays nothing at all). answer: the stream
    the answer is written to during the work, if any: no bar when it is a terminal, where
    its lines and the bar's redrawing would mix."""
    if not wanted() or total <= 0 or (answer is not None and _is_terminal(answer)):
        yield None
        return
    bar = Bar(unit, description)
    try:
        yield Tally(total, bar.show)
    finally:
        bar.close()


@contextlib.contextmanager
def pass_observers(
    config: LSTMConfig, description: str = "tracing", answer: TextIO | None = None
) -> Iterator[list[BlockObserver]]:
    """trace()'s observers for a bar of the pass's steps: [] when no bar may be shown
    (tracking() says when)."""
    with tracking(pass_steps(config), "steps", description, answer) as tally:
        yield [] if tally is None else [tally.observe]
