"""The trace an explorer page is made from: the held steps' full values and the heatmaps."""

from __future__ import annotations

from collections.abc import Sequence

from numpy.typing import ArrayLike

from ...cell import BlockObserver
from ...config import DEFAULT_MAX_MEMORY, LSTMConfig
from ...trace import Trace, trace
from ...weights import LSTMWeights
from .budget import Holding, held_steps, page_map_rows


def page_trace(
    config: LSTMConfig,
    weights: LSTMWeights | None = None,
    x: ArrayLike | None = None,
    *,
    h0: ArrayLike | None = None,
    c0: ArrayLike | None = None,
    steps: str | None = None,
    must: Sequence[int] = (),
    max_memory: int = DEFAULT_MAX_MEMORY,
    source: str | None = None,
    module: str | None = None,
    observers: Sequence[BlockObserver] = (),
) -> tuple[Trace, Holding]:
    """trace() for a page: the steps budget.held_steps chooses (steps: a --steps value; must:
    steps held whatever the budget) with their full values, and heatmaps of page_map_rows
    rows; observers as trace()'s (a progress bar's). Returns the trace and what it holds,
    whose rule the page prints."""
    holding = held_steps(config, steps, must)
    result = trace(
        config,
        weights,
        x,
        h0=h0,
        c0=c0,
        steps=list(holding.steps),
        samples=0,
        max_memory=max_memory,
        keep_values=True,
        source=source,
        module=module,
        maps=True,
        map_rows=page_map_rows(config),
        observers=observers,
    )
    return result, holding
