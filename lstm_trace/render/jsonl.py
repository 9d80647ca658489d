"""JSON Lines: a header line, one line per tensor record as it is computed, an outputs line.

Every line is one strict JSON object with a "type" of "header", "tensor" or "outputs"
(schema: lstm_trace/schema/trace-jsonl.schema.json). Nothing is held back: a consumer sees
each record as soon as the forward pass reaches it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..config import LSTMConfig
from ..document import header_dict, outputs_dict
from ..records import RecordTable, TensorRecord, point_size, symbol_and_equation
from ..steps import StepSelection
from ..weights import DIRECTIONS


def _line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, allow_nan=False, separators=(",", ":")) + "\n"


def header_line(config: LSTMConfig, selection: StepSelection, weights: dict[str, Any]) -> str:
    """The first line; weights is the document's ``weights`` object (digest.weights_dict)."""
    return _line({"type": "header", **header_dict(config, selection, weights)})


def tensor_line(record: TensorRecord) -> str:
    return _line({"type": "tensor", **record.to_dict()})


def table_lines(table: RecordTable) -> Iterator[str]:
    """tensor_line of every record of table in the order added, byte for byte, made from its
    rows (RecordTable.raw_rows) without a TensorRecord or a dict each: what does not change
    between the steps of a hook point is made once (_around), and each number is written as
    json.dumps writes it (repr of a float, null for None)."""
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


def _number(value: float | None) -> str:
    """A number as json.dumps writes it: float.__repr__, or null."""
    return "null" if value is None else float.__repr__(value)


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
