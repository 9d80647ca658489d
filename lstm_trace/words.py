"""Small pieces of English shared by the messages and the narration."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """(1, 'layer') -> '1 layer'; (2, 'layer') -> '2 layers'; thousands with commas."""
    word = noun if n == 1 else (plural or noun + "s")
    return f"{n:,} {word}"
