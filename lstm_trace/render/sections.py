"""What the human-readable views say, as data: titled tables and notes.

The Rich table view and the Markdown view both render these sections, so the two never
disagree. Building them needs no console.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ..cells.base import gate_slice
from ..config import LSTMConfig
from ..locations import return_shapes, tensor_counts, weight_locations
from ..parameters import Parameter
from ..records import TensorRecord, point_size, symbol_and_equation
from ..summary import describe
from ..trace import Trace
from ..weights import DIRECTIONS
from . import health_view
from .common import config_line, matrix_text, numel, sample_text, shape_text

Row = tuple[str, ...]


@dataclass
class Section:
    """A titled table; a column name ending in '>' is right-aligned; a None row is a break."""

    title: str
    columns: tuple[str, ...]
    rows: list[Row | None] = field(default_factory=list)

    @classmethod
    def of(cls, title: str, *columns: str) -> Section:
        return cls(title, columns)

    def add(self, *cells: str) -> None:
        self.rows.append(tuple(cells))


@dataclass(frozen=True)
class Note:
    """A paragraph between tables; dim ones are asides."""

    text: str
    dim: bool = False


Item = Section | Note


def sections(trace: Trace, frameworks: bool = False) -> list[Item]:
    """Everything the table view shows, in order; frameworks adds the PyTorch/Keras/ONNX part."""
    items: list[Item] = [
        Note(config_line(trace.config)),
        _weights(trace),
        _counts(trace),
        *_cell_tables(trace),
        *_value_tables(trace),
        _outputs(trace),
        *_health(trace),
    ]
    if frameworks:
        items += framework_tables(trace)
    return items


def _weights(trace: Trace) -> Section:
    """One row per kind and shape of weight and place: 'W_f W_i W_c W_o  70 x 102  4 x 7,140 =
    28,560' (in the cell's order of its parameters)."""
    table = Section.of("Weights", "layer>", "direction", "weights", "shape, each", "count>")
    by_place: dict[tuple[int, str], list[Parameter]] = defaultdict(list)
    for p in trace.parameters:
        by_place[(p.layer, p.direction)].append(p)
    for (layer, direction), params in by_place.items():
        kinds: dict[tuple[str, tuple[int, ...]], list[Parameter]] = defaultdict(list)
        for p in params:
            kinds[(p.name.split("_")[0], p.shape)].append(p)
        first = True
        for group in kinds.values():
            each = group[0].count
            total = (
                f"{len(group)} x {each:,} = {each * len(group):,}"
                if len(group) > 1
                else f"{each:,}"
            )
            table.add(
                str(layer) if first else "",
                direction if first else "",
                " ".join(p.name for p in group),
                matrix_text(group[0].shape),
                total,
            )
            first = False
    return table


def _counts(trace: Trace) -> Note:
    """'Parameters: Keras 28,840; PyTorch 29,120; ONNX 29,120, ...', none where a framework
    has no such layer, and why."""
    cfg, count = trace.config, trace.param_count
    missing = cfg.kind.unsupported(cfg)
    parts = []
    for name, title, value in (
        ("keras", "Keras", count.keras),
        ("pytorch", "PyTorch", count.pytorch),
        ("onnx", "ONNX", count.onnx),
    ):
        parts.append(
            f"none in {title} ({missing[name]})" if value is None else f"{title} {value:,}"
        )
    if not cfg.bias:
        tail = "no biases (PyTorch bias=False, Keras use_bias=False)"
    else:
        tail = cfg.kind.bias_note(cfg)
    return Note(f"Parameters: {'; '.join(parts)}; {tail}.")


def _cell_tables(trace: Trace) -> list[Item]:
    """The equations once per distinct layer shape: layer 0, and the layers above it if any."""
    cfg = trace.config
    out: list[Item] = []
    for layer in range(min(cfg.num_layers, 2)):
        if cfg.num_layers == 1:
            title = "The cell"
        elif layer == 0:
            title = "The cell, layer 0"
        else:
            above = ", ".join(str(k) for k in range(1, cfg.num_layers))
            title = f"The cell, layer{'s' if cfg.num_layers > 2 else ''} {above}"
        table = Section.of(title, "tensor", "symbol", "size>", "equation")
        for name in cfg.kind.hook_points:
            symbol, equation = symbol_and_equation(name, layer, cfg.directions[0], cfg)
            size = point_size(name, layer, cfg)
            if name == "concat":
                equation += f": {cfg.h_out} + {cfg.layer_input_size(layer)} = {size}"
            table.add(name, symbol, str(size), equation)
        out.append(table)
    if "backward" in cfg.directions:
        out.append(Note(_backward_note(cfg)))
    return out


def _backward_note(cfg: LSTMConfig) -> str:
    """How the backward direction reads the sequence, naming the cell's carried states."""
    states = ("h_prev", *cfg.kind.carried)
    which = (
        "The backward direction"
        if cfg.bidirectional
        else "This layer runs backward only (direction reverse): it"
    )
    are = "are its states" if len(states) > 1 else "is its state"
    return (
        f"{which} reads x_t from t = T-1 down to 0; its {' and '.join(states)} at step t "
        f"{are} from step t+1."
    )


def _value_tables(trace: Trace) -> list[Item]:
    """One table per layer and direction, a section per step, a row per tensor."""
    groups: dict[tuple[int, str], list[TensorRecord]] = defaultdict(list)
    for r in trace.tensors:
        groups[(r.layer, r.direction)].append(r)
    k = trace.samples
    tables: list[Item] = []
    for (layer, direction), records in sorted(
        groups.items(), key=lambda kv: (kv[0][0], DIRECTIONS.index(kv[0][1]))
    ):
        order = " (visits t = T-1 down to 0)" if direction == "backward" else ""
        first = f"first {k}" + (" of batch row 0" if trace.config.batch is not None else "")
        table = Section.of(
            f"Values, layer {layer}, {direction}{order}",
            "t>",
            "tensor",
            "shape",
            first if k else "stats",
        )
        last_step: int | None = None
        for r in records:
            if last_step is not None and r.step != last_step:
                table.rows.append(None)
            values = sample_text(r.sample, numel(r.shape) > k, r.marks) if k else describe(r.stats)
            if k and (r.stats.nan or r.stats.inf):
                values += "  " + describe(r.stats)
            table.add(
                str(r.step) if r.step != last_step else "",
                r.name,
                shape_text(r.shape),
                values,
            )
            last_step = r.step
        tables.append(table)
    tables.append(Note(f"Showing {trace.selection.rule}.", dim=True))
    return tables


def _outputs(trace: Trace) -> Section:
    cfg = trace.config
    table = Section.of("Outputs", "name", "shape", "what it holds")
    features = f": {cfg.h_out} forward + {cfg.h_out} backward" if cfg.bidirectional else ""
    holds = {
        "output": f"each step's h_t, last layer{features}",
        "h_n": "final h_t per layer and direction, index k*D + d",
        "c_n": "final C_t per layer and direction, same order",
    }
    for name, shape in trace.outputs.items():
        table.add(name, shape_text(shape), holds[name])
    return table


def _health(trace: Trace) -> list[Item]:
    """Per gate, its saturated share low and high over every step (not only the traced ones)
    and per segment of time; then stuck units and NaN or Inf, and the rules."""
    order = trace.config.kind.report_order
    section = Section(
        "Gate health, every step (saturated share, low and high side)",
        health_view.COLUMNS,
        health_view.rows(trace.health, order),
    )
    note = (
        health_view.mostly_note(trace.health, order)
        + health_view.units_note(trace.health, order)
        + health_view.SIDES_RULE
        + health_view.segments_rule(trace.health)
        + health_view.first_nonfinite_note(trace.health)
    )
    return [section, Note(note)]


def _direction_note(cfg: LSTMConfig) -> str:
    """How the frameworks name layers and directions, for this configuration's direction."""
    if cfg.direction == "reverse":
        return (
            "Layer k is l<k>; a reverse-only layer's names end in _reverse, as the backward "
            "half of a bidirectional nn.LSTM's (Keras: go_backwards=True, whose output comes "
            "in reading order, t = T-1 first)."
        )
    return (
        "Layer k is l<k>, the backward direction adds _reverse (Keras: the backward layer of "
        "Bidirectional)."
    )


def framework_tables(trace: Trace) -> list[Item]:
    """PyTorch, Keras and ONNX views of this configuration, for people moving weights."""
    cfg = trace.config
    shapes = return_shapes(cfg)
    parts: list[Item] = [_gate_slices(cfg), _example(cfg), _stored(cfg), _returns(cfg, shapes)]
    if len(shapes["h_n_index"]) > 1:
        states = "h_n and c_n" if cfg.kind.carried else "h_n"
        index = Section.of(f"{states} index", "index>", "layer>", "direction")
        for e in shapes["h_n_index"]:
            index.add(str(e["index"]), str(e["layer"]), e["direction"])
        parts.append(index)
    return parts


def _gate_slices(cfg: LSTMConfig) -> Section:
    """Each gate's rows (PyTorch, ONNX) and columns (Keras) of the stacked G*H axis."""
    cell, h = cfg.kind, cfg.hidden_size
    gates = Section.of(
        f"Gate slices of the {cell.n_gates}H axis", "gate", "PyTorch rows", "Keras columns",
        "ONNX rows",
    )  # fmt: skip
    for name in cell.report_order:
        g = cell.gate(name)
        gates.add(
            f"{g.letter} ({name.removesuffix('_gate')})",
            gate_slice(cell.gates.index(g), h),
            gate_slice(g.keras, h),
            gate_slice(g.onnx, h),
        )
    return gates


def _example(cfg: LSTMConfig) -> Note:
    """The gate orders, and where the first gate's W and b of layer 0 live."""
    cell = cfg.kind
    rows = {r["name"]: r for r in weight_locations(cfg)}
    w = f"W_{cell.gate(cell.report_order[0]).letter}"
    b = rows.get("b" + w[1:], {"pytorch": "none (bias=False)", "keras": "none (use_bias=False)"})
    orders = cell.orders
    return Note(
        f"Gate order: PyTorch {orders['pytorch']}, Keras {orders['keras']}, "
        f"ONNX {orders['onnx']}.\n"
        f"Layer 0 {cfg.directions[0]}: {w} = {rows[w]['pytorch']}, b{w[1:]} = {b['pytorch']}.\n"
        f"Keras: {w} = {rows[w]['keras']},\nb{w[1:]} = {b['keras']}.\n"
        + _direction_note(cfg)
        + (f" {cell.bias_note(cfg)}." if cfg.bias else "")
    )


def _stored(cfg: LSTMConfig) -> Section:
    """Every tensor each framework stores, and 'none: why' where it has no such layer."""
    stored = Section.of("Stored tensors", "framework", "tensor", "shape", "count>")
    for framework, entries in tensor_counts(cfg).items():
        for i, e in enumerate(entries):
            stored.add(
                framework if i == 0 else "", e["name"], shape_text(e["shape"]), f"{e['count']:,}"
            )
    missing = cfg.kind.unsupported(cfg)
    for framework in ("pytorch", "keras"):
        if framework in missing:
            stored.add(framework, f"none: {missing[framework]}", "", "")
    return stored


def _returns(cfg: LSTMConfig, shapes: dict[str, Any]) -> Section:
    """What PyTorch and Keras return, shapes as text."""
    returns = Section.of("What each framework returns", "framework", "value", "shape")
    missing = cfg.kind.unsupported(cfg)
    for framework in ("pytorch", "keras"):
        table = shapes[framework]
        if table is None:
            returns.add(framework, f"no equivalent layer ({missing.get(framework, '')})", "")
            continue
        for i, (name, value) in enumerate(table.items()):
            text = (
                value
                if isinstance(value, str)
                else ", ".join(
                    shape_text(v) for v in (value if isinstance(value[0], list) else [value])
                )
            )
            returns.add(framework if i == 0 else "", name, text)
    return returns
