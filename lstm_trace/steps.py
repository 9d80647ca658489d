"""Which time steps a trace shows: ``all``, a list (``0,2,-1``) or a range (``1:4``).

Negative indices count from the end, as in Python; a range's stop is exclusive. With no
selection, a short sequence shows every step and a long one its first and last.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import SelectionError

#: sequences up to this length show every step by default.
SHORT_SEQUENCE = 4


@dataclass(frozen=True)
class StepSelection:
    """The chosen time steps (sorted, unique) and a sentence that says how they were chosen."""

    steps: tuple[int, ...]
    seq_len: int
    rule: str

    @property
    def complete(self) -> bool:
        return len(self.steps) == self.seq_len


def _all(seq_len: int) -> StepSelection:
    rule = "the only step" if seq_len == 1 else f"all {seq_len} steps"
    return StepSelection(tuple(range(seq_len)), seq_len, rule)


def select_steps(spec: str | Sequence[int] | None, seq_len: int) -> StepSelection:
    """Resolve a --steps value against the sequence length T.

    None (the default): every step when T <= SHORT_SEQUENCE, else steps 0 and T-1.
    """
    if spec is None:  # the default, the same for every trace of a length: made once
        return _default(seq_len)
    return _select(spec, seq_len)


@functools.lru_cache(maxsize=64)
def _default(seq_len: int) -> StepSelection:
    """The default selection of T = seq_len: every step of a short sequence, else two."""
    return _select(None, seq_len)


def _select(spec: str | Sequence[int] | None, seq_len: int) -> StepSelection:
    if spec is None or (isinstance(spec, str) and spec.strip().lower() == "default"):
        if seq_len <= SHORT_SEQUENCE:
            return _all(seq_len)
        return StepSelection(
            (0, seq_len - 1),
            seq_len,
            f"steps 0 and {seq_len - 1} of {seq_len} (the first and last; "
            "--steps all shows every step)",
        )
    if isinstance(spec, str):
        text = spec.strip().lower()
        if text == "all":
            return _all(seq_len)
        chosen = _parse(text, spec, seq_len)
    else:
        chosen = [_index(int(s), str(s), seq_len) for s in spec]
    steps = tuple(sorted(set(chosen)))
    if not steps:
        raise SelectionError(f"--steps {spec!r} selects no step of {seq_len}", option="steps")
    shown = ", ".join(map(str, steps))
    return StepSelection(
        steps, seq_len, f"step{'s' if len(steps) > 1 else ''} {shown} of {seq_len}"
    )


def _parse(text: str, original: str, seq_len: int) -> list[int]:
    chosen: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if ":" in part:
            pieces = part.split(":")
            if len(pieces) > 3:
                raise _bad(original, seq_len)
            try:
                bounds = [int(p) if p.strip() else None for p in pieces]
            except ValueError:
                raise _bad(original, seq_len) from None
            if len(bounds) == 3 and bounds[2] == 0:
                raise _bad(original, seq_len)
            chosen.extend(range(seq_len)[slice(*bounds)])
        else:
            try:
                value = int(part)
            except ValueError:
                raise _bad(original, seq_len) from None
            chosen.append(_index(value, original, seq_len))
    return chosen


def _index(value: int, original: str, seq_len: int) -> int:
    if not -seq_len <= value < seq_len:
        raise SelectionError(
            f"--steps {original!r}: step {value} is out of range for a sequence of {seq_len} "
            f"(valid: 0 to {seq_len - 1}, or -{seq_len} to -1 from the end)",
            option="steps",
        )
    return value % seq_len


def _bad(original: str, seq_len: int) -> SelectionError:
    return SelectionError(
        f"--steps {original!r} is not a step selection; use 'all', a list such as 0,2,-1 "
        f"or a range such as 1:{min(seq_len, 4)} (steps 0 to {seq_len - 1})",
        option="steps",
    )
