"""The `lstm-trace` command's entry point (the console script and `python -m lstm_trace`).

What can be answered without the Typer app is answered here, before Typer, Rich or NumPy is
imported: `lstm-trace --version` (version.py) and the top-level `lstm-trace --help` in the
form a pipe or a file gets (help.py). Everything else is handed to the Typer app
(lstm_trace.cli), which gives the same answers the slow way. `serve` is what every way in
shares: a closed or full stdout, a reader that left and Ctrl-C become the right exit.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing's, without importing typing (some 2 ms of a quick answer)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import NoReturn

__all__ = ["quiet_stdout", "run", "serve"]


def run() -> NoReturn:
    """Console-script entry point: the quick answers, else the Typer app, on sys.argv."""
    serve(_answer)


def _answer() -> int:
    """The exit status of the command line in sys.argv, its answer written to stdout."""
    args = sys.argv[1:]
    quick = quick_answer(args)
    if quick is not None:
        sys.stdout.write(quick)
        return 0
    from ..cli.app import main  # lazy: Typer, Rich, NumPy and the app; not for quick answers

    return main(args)


def quick_answer(args: list[str]) -> str | None:
    """The whole of stdout for args that need no Typer app (--version; --help when the
    committed text is what Typer would print here), else None."""
    if args == ["--version"]:
        from .version import version_text  # lazy: for --version only

        return version_text() + "\n"
    if args in (["--help"], ["-h"]):
        from .help import served_help  # lazy: for --help only

        return served_help()
    return None


def serve(answer: Callable[[], int]) -> NoReturn:
    """Run answer() and exit with its status: a reader that left (`lstm-trace | head`) is a
    quiet exit 0, as Unix tools' is; a full disk or an unwritable stdout one line and exit 1;
    Ctrl-C exit 130.

    The process ends as soon as its streams are flushed (os._exit): every file the command
    wrote is closed by then, and tearing down NumPy, Rich and Typer's objects one by one
    would add 15 to 30 ms to a 0.2 s walkthrough. LSTM_TRACE_DEBUG set exits the usual way
    (atexit handlers, a profiler's report)."""
    if sys.stdout is None:  # started with stdout closed (`lstm-trace >&-`)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    try:
        code = answer()
        sys.stdout.flush()
    except BrokenPipeError:
        quiet_stdout()
        code = 0
    except OSError as exc:  # a full disk, a closed or unwritable stdout
        sys.stderr.write(f"lstm-trace: error: cannot write the output: {exc.strerror or exc}\n")
        code = 1
    except KeyboardInterrupt:
        code = 130
    if os.environ.get("LSTM_TRACE_DEBUG"):
        sys.exit(code)
    _leave(code)


def _leave(code: int) -> NoReturn:
    """Exit with code at once, stderr flushed (stdout was): no teardown of the modules."""
    try:  # noqa: SIM105 - contextlib.suppress would import contextlib for this line
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed or gone: nothing more can be said
        pass
    os._exit(code)


def quiet_stdout() -> None:
    """`lstm-trace ... | head`: the reader left. What is still buffered goes nowhere, so the
    exit is quiet, as Unix tools' is."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
