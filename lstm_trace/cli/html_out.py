"""--html FILE: the explorer page of a run (render/explorer/), written beside the trace's
own output.

The page needs more than the printed trace keeps: the full values of the steps it holds
(every step of a run that fits the page, evenly spaced ones of a longer one, those of
--steps when given, and always the first NaN or Inf) and heatmaps of every gate and state.
So it is traced once more, with the same weights and inputs: the printed answer stays
exactly what it is without --html, and the first NaN or Inf, known from the first pass, is
among the held steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import MemoryLimitError
from ..trace import Trace, prepare
from .console import note
from .progress import pass_observers

if TYPE_CHECKING:
    from ..config import LSTMConfig
    from .resolve import Resolved


def check_html(config: LSTMConfig, steps: str | None, limit: int) -> None:
    """Refuse, before any work, a page whose trace would exceed --max-memory (its held
    steps' values; one step more for a NaN is within the estimate's rounding)."""
    from ..render.explorer import held_steps  # lazy: the page's modules, for --html only

    held = held_steps(config, steps).steps
    try:
        prepare(config, list(held), 0, limit, keep_values=True)
    except MemoryLimitError as exc:  # the run alone fits (checked first): say it is the page
        raise MemoryLimitError(
            f"with --html, {exc.message} (the page keeps the values of {len(held):,} steps; "
            "--steps keeps fewer)",
            option=exc.option,
        ) from None


def write_html(
    path: Path, run: Resolved, result: Trace, steps: str | None, limit: int, frameworks: bool
) -> None:
    """Trace run again for the page (result's weights, its first NaN or Inf held), build the
    page and write it whole to path (targets.atomic_open), then say so on stderr."""
    from ..formats.targets import atomic_open  # lazy: only when there is a file to write
    from ..render.explorer import explorer_page, page_trace  # lazy: the page, for --html only

    first = result.health.get("first_nonfinite")
    with pass_observers(run.config, "tracing for the page") as bar:  # when the pass is long
        shown, holding = page_trace(
            run.config,
            result.weights,
            run.x,
            h0=run.h0,
            c0=run.c0,
            steps=steps,
            must=[first["step"]] if first else [],
            max_memory=limit,
            source=result.source,
            module=result.module,
            observers=bar,
        )
    text = explorer_page(shown, holding.rule, frameworks or run.weights_file is not None)
    with atomic_open(path) as f:
        f.write(text.encode())
    note(f"wrote {path}")
