from __future__ import annotations

import pytest

from lstm_trace import SelectionError, select_steps
from lstm_trace.steps import SHORT_SEQUENCE


@pytest.mark.parametrize(
    ("spec", "t", "steps"),
    [
        ("all", 5, (0, 1, 2, 3, 4)),
        ("0,2,-1", 5, (0, 2, 4)),
        ("1:4", 10, (1, 2, 3)),
        ("-2:", 6, (4, 5)),
        ("::3", 7, (0, 3, 6)),
        ("0, 0, 1", 3, (0, 1)),
        ([2, -1], 4, (2, 3)),
    ],
)
def test_selections(spec: object, t: int, steps: tuple[int, ...]) -> None:
    assert select_steps(spec, t).steps == steps  # type: ignore[arg-type]


def test_default_shows_short_sequences_whole_and_long_ones_first_and_last() -> None:
    short = select_steps(None, SHORT_SEQUENCE)
    assert short.steps == tuple(range(SHORT_SEQUENCE)) and short.complete
    long = select_steps(None, 100)
    assert long.steps == (0, 99) and not long.complete
    assert "first and last" in long.rule and "--steps all" in long.rule


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("7", "out of range"),
        ("-4", "out of range"),
        ("x", "not a step selection"),
        ("1:2:0", "not a"),
        ("2:1", "selects no step"),
        ("1:2:3:4", "not a"),
    ],
)
def test_bad_selections(spec: str, words: str) -> None:
    with pytest.raises(SelectionError, match=words):
        select_steps(spec, 3)
