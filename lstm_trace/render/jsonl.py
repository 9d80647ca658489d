"""JSON Lines: a header line, one line per tensor record as it is computed, an outputs line.

Every line is one strict JSON object with a "type" of "header", "tensor" or "outputs"
(schema: lstm_trace/schema/trace-jsonl.schema.json). Nothing is held back: a consumer sees
each record as soon as the forward pass reaches it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from ..cells.base import FloatArray
from ..config import LSTMConfig
from ..document import header_dict, outputs_dict
from ..records import RecordTable, TensorRecord, point_size, symbol_and_equation
from ..steps import StepSelection
from ..summary import StatsRows
from ..weights import DIRECTIONS
from . import numbers


def _line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, allow_nan=False, separators=(",", ":")) + "\n"


def header_line(config: LSTMConfig, selection: StepSelection, weights: dict[str, Any]) -> str:
    """The first line; weights is the document's ``weights`` object (digest.weights_dict)."""
    return _line({"type": "header", **header_dict(config, selection, weights)})


def tensor_line(record: TensorRecord) -> str:
    return _line({"type": "tensor", **record.to_dict()})


def table_lines(table: RecordTable) -> Iterator[str]:
    """The text of tensor_line of every record of table in the order added, byte for byte, in
    one or more pieces (each whole lines): with orjson, a window of rows at a time
    (_window_text); without, a line at a time from the rows as Python values (_plain_lines)."""
    orjson = numbers.orjson_module()
    if orjson is None:
        yield from _plain_lines(table)
        return
    keys, stats, samples = table.columns()
    size = max(1, table.WINDOW_NUMBERS // (4 + table.samples))
    for start in range(0, len(keys), size):
        rows = slice(start, start + size)
        yield _window_text(orjson, table, keys[rows], stats[rows], samples[rows])


def _plain_lines(table: RecordTable) -> Iterator[str]:
    """table_lines made from its rows (RecordTable.raw_rows) without a TensorRecord or a dict
    each: what does not change between the steps of a hook point is made once (_around), and
    each number is written as json.dumps writes it (repr of a float, null for None)."""
    around: dict[tuple[int, int, int], tuple[str, str]] = {}
    for keys, sample, stats, counts in table.raw_rows():
        layer, d, step, point = keys
        parts = around.get((layer, d, point))
        if parts is None:
            parts = around[(layer, d, point)] = _around(table.config, layer, d, point)
        low, high, mean, std = stats
        yield (
            f"{parts[0]}{step}{parts[1]}{','.join(map(_number, sample))}]"
            f',"stats":{{"min":{_number(low)},"max":{_number(high)},"mean":{_number(mean)},'
            f'"std":{_number(std)},"nan":{counts[0]},"inf":{counts[1]}}}}}\n'
        )


#: the text of a line between its stats, and its end when it counts no NaN and no Inf
_STATS_TEXT = (b'],"stats":{"min":', b',"max":', b',"mean":', b',"std":')
_COUNTS_TEXT = (b',"nan":', b',"inf":', b"}}\n")
_NO_COUNTS = b',"nan":0,"inf":0}}\n'


def _window_text(
    orjson: ModuleType,
    table: RecordTable,
    keys: npt.NDArray[np.int64],
    stats: StatsRows,
    samples: FloatArray,
) -> str:
    """The lines of r rows (keys (r, 4), samples (r, k)) as one text. Each line is a fixed
    list of pieces (the text before the step, the step, the text to the sample, the sample,
    each stat and the text between them, the counts or their common text); each piece is
    made for all r lines at once (a column's numbers by one orjson call: render/numbers.py)
    and laid into its place by a slice assignment, and one join makes the text: no Python
    per line (but for the few numbers whose form numbers.py mends)."""
    config, r = table.config, len(keys)
    dtype = np.dtype(config.dtype)
    before, after, lengths = _groups(config, table.samples)
    points = len(config.kind.hook_points)
    group = (keys[:, 0] * len(DIRECTIONS) + keys[:, 1]) * points + keys[:, 3]
    values = np.stack([stats.min, stats.max, stats.mean, stats.std], axis=1).reshape(-1)
    numbers_of = numbers.json_column(orjson, values, dtype)  # min, max, mean, std of each row
    columns = [
        before[group].tolist(),
        numbers.json_column(orjson, keys[:, 2], keys.dtype),
        after[group].tolist(),
        _samples_text(orjson, samples, dtype, lengths[group]),
    ]
    for i, label in enumerate(_STATS_TEXT):
        columns += [[label] * r, numbers_of[i::4]]
    if stats.nan.any() or stats.inf.any():
        nan, inf, end = _COUNTS_TEXT
        columns += [[nan] * r, numbers.json_column(orjson, stats.nan, stats.nan.dtype)]
        columns += [[inf] * r, numbers.json_column(orjson, stats.inf, stats.inf.dtype), [end] * r]
    else:  # the common case: one piece for the end of every line
        columns.append([_NO_COUNTS] * r)
    step = len(columns)
    pieces: list[bytes] = [b""] * (step * r)
    for i, column in enumerate(columns):
        pieces[i::step] = column
    return b"".join(pieces).decode("ascii")


#: a group's text and sample length, as _groups gives them
_Groups = tuple[npt.NDArray[np.object_], npt.NDArray[np.object_], npt.NDArray[np.intp]]


@functools.lru_cache(maxsize=64)
def _groups(config: LSTMConfig, samples: int) -> _Groups:
    """For each (layer, direction index, hook point), at (layer * 2 + direction) * points +
    point: the text of its lines before the step and from the step to the sample (_around),
    and the length of its sample (the whole tensor's when that is shorter than samples)."""
    before, after, lengths = [], [], []
    for layer in range(config.num_layers):
        for d in range(len(DIRECTIONS)):
            for point, name in enumerate(config.kind.hook_points):
                parts = _around(config, layer, d, point)
                before.append(parts[0].encode("ascii"))
                after.append(parts[1].encode("ascii"))
                size = point_size(name, layer, config)
                lengths.append(min(samples, (config.batch or 1) * size))
    return (
        np.array(before, dtype=object),
        np.array(after, dtype=object),
        np.array(lengths, dtype=np.intp),
    )


def _samples_text(
    orjson: ModuleType, samples: FloatArray, dtype: np.dtype[Any], lengths: npt.NDArray[np.intp]
) -> list[bytes]:
    """Each row's sample as its numbers joined by commas: row j's first lengths[j] values
    (the padding of a tensor shorter than the sample is not written)."""
    widths = np.unique(lengths).tolist()
    if widths == [samples.shape[1]]:  # the common case: every row's sample is full
        return numbers.json_rows(orjson, samples, dtype)
    texts = np.empty(len(samples), dtype=object)
    for width in widths:
        rows = np.flatnonzero(lengths == width)
        texts[rows] = numbers.json_rows(orjson, samples[rows, :width], dtype)
    out: list[bytes] = texts.tolist()
    return out


def _number(value: float | None) -> str:
    """A number as json.dumps writes it: float.__repr__, or null."""
    return "null" if value is None else float.__repr__(value)


@functools.lru_cache(maxsize=1024)
def _around(config: LSTMConfig, layer: int, d: int, point: int) -> tuple[str, str]:
    """A record's line around its step and its numbers: the text before the step, and from
    after the step to the opening of the sample, as tensor_line writes them."""
    name, direction = config.kind.hook_points[point], DIRECTIONS[d]
    symbol, equation = symbol_and_equation(name, layer, direction, config)
    n = point_size(name, layer, config)
    shape = [n] if config.batch is None else [config.batch, n]

    def text(value: object) -> str:
        return json.dumps(value, separators=(",", ":"))

    before = (
        f'{{"type":"tensor","name":{text(name)},"symbol":{text(symbol)},"layer":{layer},'
        f'"direction":{text(direction)},"step":'
    )
    after = (
        f',"shape":{text(shape)},"dtype":{text(config.dtype)},"equation":{text(equation)},'
        '"sample":['
    )
    return before, after


def outputs_line(
    outputs: dict[str, tuple[int, ...]], tensor_count: int, health: dict[str, Any]
) -> str:
    return _line(
        {
            "type": "outputs",
            "outputs": outputs_dict(outputs),
            "tensor_count": tensor_count,
            "health": health,
        }
    )
