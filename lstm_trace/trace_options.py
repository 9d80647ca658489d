"""A trace's options checked before anything runs or prints (prepare): the steps shown, the
samples, and the memory the forward pass and the trace's records will need (trace_bytes)."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from .config import DEFAULT_MAX_MEMORY, LSTMConfig
from .errors import SelectionError
from .recorders import RECORD_CHUNK
from .steps import StepSelection, select_steps

#: bytes a kept record costs beside its samples: the record, its JSON dict and JSON text
RECORD_BYTES = 2500
SAMPLE_BYTES = 60


@functools.lru_cache(maxsize=64)  # a frozen config: every trace of it asks again
def widest_tensor(config: LSTMConfig) -> int:
    """The most values any traced tensor holds: (B times) the widest concat, H_out + I_k, or
    the gates' H when a projection makes H_out small."""
    widest_input = max(config.layer_input_size(k) for k in range(min(config.num_layers, 2)))
    return (config.batch or 1) * max(config.hidden_size, config.h_out + widest_input)


def trace_bytes(
    config: LSTMConfig,
    selection: StepSelection,
    samples: int,
    keep_values: bool = False,
    keep_records: bool = True,
) -> int:
    """What a trace adds to the forward pass's memory: its records (unless streamed), the
    recorder's working arrays (the values of up to RECORD_CHUNK numbers at a time, their
    samples, keys and stats: 16 bytes a number) and, with keep_values, a copy of every traced
    tensor."""
    points = len(config.kind.hook_points)
    records = len(selection.steps) * points * config.num_layers * config.num_directions
    widest = widest_tensor(config)
    cost = records * (RECORD_BYTES + SAMPLE_BYTES * min(samples, widest)) if keep_records else 0
    cost += min(len(selection.steps) * points * widest, RECORD_CHUNK) * 16
    if keep_values:
        cost += records * widest * config.itemsize
    return cost


def prepared(
    config: LSTMConfig,
    steps: str | Sequence[int] | None,
    samples: int,
    max_memory: int,
    keep_values: bool,
    keep_records: bool,
) -> StepSelection:
    """prepare(), made once per shape for the default steps (every trace of a shape asks
    again); any other selection each time, so that no cache keeps a long one (--steps all of
    a million steps) after its trace."""
    if steps is None and type(samples) is int:
        return _prepared(config, steps, samples, max_memory, keep_values, keep_records)
    return prepare(config, steps, samples, max_memory, keep_values, keep_records)


def prepare(
    config: LSTMConfig,
    steps: str | Sequence[int] | None = None,
    samples: int = 4,
    max_memory: int = DEFAULT_MAX_MEMORY,
    keep_values: bool = False,
    keep_records: bool = True,
) -> StepSelection:
    """Validate a trace's options before anything runs or prints; return the steps.

    The memory check counts the forward pass and what the trace keeps (trace_bytes)."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 0:
        raise SelectionError(
            f"samples must be a whole number >= 0 (0 shows none), got {samples!r}",
            option="samples",
        )
    selection = select_steps(steps, config.seq_len)
    config.check_memory(
        max_memory, extra=trace_bytes(config, selection, samples, keep_values, keep_records)
    )
    return selection


_prepared = functools.lru_cache(maxsize=64)(prepare)
