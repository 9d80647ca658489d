"""Tables of framework conventions: where each gate lives, stored tensors, return shapes."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text

from ..frameworks import ONNX_GATE_ORDER, gate_slice, return_shapes, tensor_counts, weight_locations
from ..trace import Trace
from .common import add_row, make_table, shape_text


def framework_tables(trace: Trace) -> list[RenderableType]:
    """PyTorch, Keras and ONNX views of this configuration, for people moving weights."""
    cfg = trace.config
    h = cfg.hidden_size
    gates = make_table(
        "Gate slices of the 4H axis (PyTorch i f g o, Keras i f c o, ONNX i o f c)",
        "gate",
        "PyTorch rows",
        "Keras columns",
        "ONNX rows",
    )
    for g, name in (("f", "forget"), ("i", "input"), ("c", "candidate"), ("o", "output")):
        add_row(
            gates,
            f"{g} ({name})",
            gate_slice(g, h),
            gate_slice(g, h),
            gate_slice(g, h, ONNX_GATE_ORDER),
        )
    rows = {r["name"]: r for r in weight_locations(cfg)}
    example = Text(
        f"Layer 0 forward: W_f = {rows['W_f']['pytorch']}, b_f = {rows['b_f']['pytorch']}; "
        f"Keras: W_f = {rows['W_f']['keras']}, b_f = {rows['b_f']['keras']}. "
        "Layer k is l<k>, the backward direction adds _reverse (Keras: the backward layer of "
        "Bidirectional). PyTorch's second bias has no Keras twin: converting sums them.\n"
    )
    stored = make_table("Stored tensors", "framework", "tensor", "shape", "count>")
    counts = tensor_counts(cfg)
    for framework, entries in counts.items():
        for i, e in enumerate(entries):
            add_row(
                stored,
                framework if i == 0 else "",
                e["name"],
                shape_text(e["shape"]),
                f"{e['count']:,}",
            )
    if not counts["keras"]:
        add_row(stored, "keras", "none: Keras has no LSTM projection", "", "")
    returns = make_table("What each framework returns", "framework", "value", "shape")
    shapes = return_shapes(cfg)
    for framework in ("pytorch", "keras"):
        table = shapes[framework]
        if table is None:
            add_row(returns, framework, "no equivalent layer (projection)", "")
            continue
        for i, (name, value) in enumerate(table.items()):
            text = (
                value
                if isinstance(value, str)
                else ", ".join(
                    shape_text(v) for v in (value if isinstance(value[0], list) else [value])
                )
            )
            add_row(returns, framework if i == 0 else "", name, text)
    parts: list[RenderableType] = [gates, example, stored, returns]
    if len(shapes["h_n_index"]) > 1:
        index = make_table("Which h_n (and c_n) index is which", "index>", "layer>", "direction")
        for e in shapes["h_n_index"]:
            add_row(index, str(e["index"]), str(e["layer"]), e["direction"])
        parts.append(index)
    return parts
