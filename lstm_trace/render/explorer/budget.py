"""What an explorer page can hold, decided before the run: the steps whose full values it
embeds and the rows of its heatmaps.

A page stays bounded whatever the run: the full values and stats of at most VALUE_BUDGET
numbers (float32, batch row 0: a held step costs the sum over layers, directions and hook
points of each point's size, plus STATS_NUMBERS a point for its stats), and heatmaps of at
most MAP_BUDGET numbers (every gate and state of every layer and direction, at most
MAP_COLUMNS columns each, at most MAP_ROWS rows). Base64
makes 4 bytes a number 5.3 characters: the two budgets are about 2.6 and 4.3 MB of page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ...config import LSTMConfig
from ...records import point_size
from ...state_maps import state_names
from ...steps import select_steps

#: numbers of full step values a page embeds at most (float32 each), their stats counted in
VALUE_BUDGET = 480_000
#: what a point's stats at one step cost, in numbers: six in JSON, up to about 67 characters,
#: as much as 13 float32 in base64 (a run of H = 1 holds more stats than values)
STATS_NUMBERS = 13
#: numbers of heatmap a page embeds at most (float32 each)
MAP_BUDGET = 800_000
#: rows of a heatmap at most: more than a screen shows, one row per pixel line
MAP_ROWS = 500
#: columns of a heatmap at most: wider layers average consecutive units, as the terminal does
MAP_COLUMNS = 256


@dataclass(frozen=True)
class Holding:
    """The steps a page holds full values of (sorted, unique), and a sentence saying which
    and why."""

    steps: tuple[int, ...]
    rule: str
    #: True when the steps are fewer than were asked for (all of them, or --steps')
    reduced: bool = False


def step_numbers(config: LSTMConfig) -> int:
    """Numbers one held step embeds: every hook point of every layer and direction, batch
    row 0 (x: I_k, concat: H_out + I_k, the gates and C: H, h: H_out)."""
    points = config.kind.hook_points
    per_layer = [sum(point_size(p, k, config) for p in points) for k in range(config.num_layers)]
    return sum(per_layer) * config.num_directions


def step_cost(config: LSTMConfig) -> int:
    """What one held step costs the page, in numbers: its values (step_numbers) and the
    stats of each of its hook points at every layer and direction."""
    points = len(config.kind.hook_points) * config.num_layers * config.num_directions
    return step_numbers(config) + STATS_NUMBERS * points


def held_steps(config: LSTMConfig, steps: str | None = None, must: Sequence[int] = ()) -> Holding:
    """The steps a page of config's run holds: every step when they fit VALUE_BUDGET (values
    and stats, step_cost a step), else
    evenly spaced ones (the first and last among them); those of a --steps value when given
    (evenly spaced among them when they do not fit). must: steps held whatever the budget
    (the first NaN or Inf, so that the page can show it)."""
    T = config.seq_len
    room = max(2, VALUE_BUDGET // step_cost(config))
    wanted = tuple(range(T)) if steps is None else select_steps(steps, T).steps
    chosen = wanted
    if len(wanted) > room:
        picks = np.unique(np.rint(np.linspace(0, len(wanted) - 1, room)).astype(int))
        chosen = tuple(wanted[i] for i in picks)
    extra = sorted(set(must) - set(chosen))
    held = tuple(sorted({*chosen, *extra}))
    return Holding(held, _rule(wanted, chosen, extra, T, steps is None), len(chosen) < len(wanted))


def _rule(
    wanted: Sequence[int], chosen: Sequence[int], extra: Sequence[int], T: int, every: bool
) -> str:
    """'all 40 steps', 'steps 0, 3 of 40 (--steps)', '192 evenly spaced steps of 5,000 (the
    page holds at most 480,000 numbers of values and stats)', then ', and step 17 (the
    first NaN or Inf)'."""
    if len(chosen) == len(wanted):
        if every:
            text = "the only step" if T == 1 else f"all {T:,} steps"
        else:
            text = f"step{'s' if len(chosen) > 1 else ''} {_list(chosen)} of {T:,} (--steps)"
    else:
        among = f"{T:,}" if every else f"the {len(wanted):,} --steps chose, of {T:,}"
        text = (
            f"{len(chosen):,} evenly spaced steps of {among} (a page holds at most "
            f"{VALUE_BUDGET:,} numbers of values and stats): {_list(chosen)}"
        )
    if extra:
        text += f", and step {_list(extra)} (the first NaN or Inf)"
    return text


def _list(steps: Sequence[int], most: int = 12) -> str:
    """'0, 25, 50, ..., 4,999': up to `most` steps named, else the first ones and the last."""
    if len(steps) <= most:
        return ", ".join(f"{s:,}" for s in steps)
    return ", ".join(f"{s:,}" for s in steps[: most - 1]) + f", ..., {steps[-1]:,}"


def map_group(units: int) -> int:
    """Consecutive units averaged into one column of a heatmap of `units` units."""
    return max(1, math.ceil(units / MAP_COLUMNS))


def map_widths(config: LSTMConfig) -> dict[str, int]:
    """Every mapped tensor's units: the gates' H, h's H_out, the cell's own states' H."""
    widths = {g: config.hidden_size for g in config.kind.report_order}
    for name in state_names(config):
        widths[name] = config.h_out if name == "hidden_state" else config.hidden_size
    return widths


def page_map_rows(config: LSTMConfig) -> int:
    """Rows for the heatmaps of config's run: MAP_ROWS (one per step when T is shorter), fewer
    when every gate and state of every layer and direction would exceed MAP_BUDGET numbers."""
    columns = sum(math.ceil(n / map_group(n)) for n in map_widths(config).values())
    columns *= config.num_layers * config.num_directions
    return max(1, min(config.seq_len, MAP_ROWS, MAP_BUDGET // columns))
