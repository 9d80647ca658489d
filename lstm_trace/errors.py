"""Errors that carry a user-facing message.

Every mistake a user can make (a bad size, a bad step selection, an unreadable file) is raised
as one of these, with a message that names the bad value and what would be accepted. The CLI
turns them into one line on stderr and an exit status; the library lets them propagate.
"""

from __future__ import annotations


class LSTMTraceError(Exception):
    """Base class: a problem the user can fix, described in one line."""

    #: the CLI's exit status for this kind of error (2: usage, 1: failed check or bad file).
    exit_code: int = 2

    def __init__(self, message: str, *, option: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: the configuration field or option the error is about, when there is one.
        self.option = option


class ConfigError(LSTMTraceError, ValueError):
    """An LSTM configuration value is out of range or of the wrong kind."""


class SelectionError(LSTMTraceError, ValueError):
    """A step selection (``--steps``) or sample count is malformed or out of range."""


class MemoryLimitError(LSTMTraceError, ValueError):
    """The configuration would need more memory than the limit allows."""


class FileError(LSTMTraceError):
    """A file is missing, unreadable, of the wrong kind, or holds the wrong tensors."""

    exit_code = 1


class ReaderGone(Exception):
    """stdout's reader left (`lstm-trace ... | head`) while a command was still writing:
    stop quietly, as Unix tools do. Raised instead of BrokenPipeError, which Typer would turn
    into exit status 1 before main() could see it."""
