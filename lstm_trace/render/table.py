"""The default view: Rich tables, readable at 80 columns.

Order: the configuration; the weights per layer and direction with the parameter counts; the
cell's equations with their sizes (once, since they do not change with t); the values per
layer, direction and step; the output shapes.
"""

from __future__ import annotations

from collections import defaultdict

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..cell import HOOK_POINTS
from ..config import LSTMConfig
from ..trace import Parameter, TensorRecord, Trace, symbol_and_equation
from ..weights import DIRECTIONS
from .common import (
    add_row,
    config_line,
    make_table,
    matrix_text,
    numel,
    sample_text,
    shape_text,
    stats_text,
)


def render_table(trace: Trace, frameworks: bool = False) -> RenderableType:
    """Trace -> a Group of tables; the caller prints it on the data console.

    frameworks adds where each weight lives in PyTorch, Keras and ONNX.
    """
    parts: list[RenderableType] = [
        Text(config_line(trace.config), style="bold"),
        Text(),
        _weights(trace),
        _counts(trace),
        Text(),
        *_cell_tables(trace),
        *_value_tables(trace),
        _outputs(trace),
    ]
    if frameworks:
        from .frameworks import framework_tables

        parts += framework_tables(trace)
    return Group(*parts)


def _weights(trace: Trace) -> Table:
    """One row per kind of weight and place: 'W_f W_i W_c W_o  70 x 102  4 x 7,140 = 28,560'."""
    table = make_table("Weights", "layer>", "direction", "weights", "shape, each", "count>")
    by_place: dict[tuple[int, str], list[Parameter]] = defaultdict(list)
    for p in trace.parameters:
        by_place[(p.layer, p.direction)].append(p)
    for (layer, direction), params in by_place.items():
        kinds = [
            [p for p in params if p.name[0] == "W" and p.name != "W_hr"],
            [p for p in params if p.name[0] == "b"],
            [p for p in params if p.name == "W_hr"],
        ]
        first = True
        for group in filter(None, kinds):
            each = group[0].count
            total = (
                f"{len(group)} x {each:,} = {each * len(group):,}"
                if len(group) > 1
                else f"{each:,}"
            )
            add_row(
                table,
                str(layer) if first else "",
                direction if first else "",
                " ".join(p.name for p in group),
                matrix_text(group[0].shape),
                total,
            )
            first = False
    return table


def _counts(trace: Trace) -> Text:
    cfg, count = trace.config, trace.param_count
    keras = (
        "none in Keras (it has no projection)" if count.keras is None else f"Keras {count.keras:,}"
    )
    return Text(
        f"Parameters: {keras}; PyTorch {count.pytorch:,}, whose second bias b_hh adds "
        f"4 x {cfg.hidden_size} per layer and direction."
    )


def _cell_tables(trace: Trace) -> list[RenderableType]:
    """The equations once per distinct layer shape: layer 0, and the layers above it if any."""
    cfg = trace.config
    out: list[RenderableType] = []
    for layer in range(min(cfg.num_layers, 2)):
        if cfg.num_layers == 1:
            title = "The cell"
        elif layer == 0:
            title = "The cell, layer 0"
        else:
            above = ", ".join(str(k) for k in range(1, cfg.num_layers))
            title = f"The cell, layer{'s' if cfg.num_layers > 2 else ''} {above}"
        table = make_table(title, "tensor", "symbol", "size>", "equation")
        for name in HOOK_POINTS:
            symbol, equation = symbol_and_equation(name, layer, "forward", cfg)
            size = _size(name, layer, cfg)
            if name == "concat":
                equation += f": {cfg.h_out} + {cfg.layer_input_size(layer)} = {size}"
            add_row(table, name, symbol, str(size), equation)
        out.append(table)
    if cfg.bidirectional:
        out.append(
            Text(
                "The backward direction reads x_t from t = T-1 down to 0; its h_prev and "
                "c_prev at step t are its states from step t+1.\n"
            )
        )
    return out


def _size(name: str, layer: int, cfg: LSTMConfig) -> int:
    i = cfg.layer_input_size(layer)
    sizes = {"x": i, "concat": cfg.h_out + i, "h_prev": cfg.h_out, "hidden_state": cfg.h_out}
    return sizes.get(name, cfg.hidden_size)


def _value_tables(trace: Trace) -> list[RenderableType]:
    """One table per layer and direction, a section per step, a row per tensor."""
    groups: dict[tuple[int, str], list[TensorRecord]] = defaultdict(list)
    for r in trace.tensors:
        groups[(r.layer, r.direction)].append(r)
    k = trace.samples
    tables: list[RenderableType] = []
    for (layer, direction), records in sorted(
        groups.items(), key=lambda kv: (kv[0][0], DIRECTIONS.index(kv[0][1]))
    ):
        table = make_table(
            f"Values, layer {layer}, {direction}",
            "t>",
            "tensor",
            "shape",
            f"first {k}" if k else "stats",
        )
        last_step: int | None = None
        for r in records:
            if last_step is not None and r.step != last_step:
                table.add_section()
            values = sample_text(r.sample, numel(r.shape) > k) if k else stats_text(r.stats)
            if k and (r.stats.nan or r.stats.inf):
                values += "  " + stats_text(r.stats)
            add_row(
                table,
                str(r.step) if r.step != last_step else "",
                r.name,
                shape_text(r.shape),
                values,
            )
            last_step = r.step
        tables.append(table)
    tables.append(Text(f"Showing {trace.selection.rule}.\n", style="dim"))
    return tables


def _outputs(trace: Trace) -> Table:
    cfg = trace.config
    table = make_table("Outputs", "name", "shape", "what it holds")
    features = f": {cfg.h_out} forward + {cfg.h_out} backward" if cfg.bidirectional else ""
    holds = {
        "output": f"each step's h_t, last layer{features}",
        "h_n": "final h_t per layer and direction, index k*D + d",
        "c_n": "final C_t per layer and direction, same order",
    }
    for name, shape in trace.outputs.items():
        add_row(table, name, shape_text(shape), holds[name])
    return table
