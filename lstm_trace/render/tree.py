"""The tree view: cell (LSTM or GRU) -> layer -> direction -> step -> tensors, and more."""

from __future__ import annotations

from rich.console import RenderableType
from rich.markup import escape
from rich.tree import Tree

from ..summary import describe
from ..trace import Trace
from .common import config_line, count_text, matrix_text, numel, sample_text, shape_text
from .health_view import first_nonfinite_note, mostly_note, segments_line, tree_lines


def render_tree(trace: Trace) -> RenderableType:
    """Trace -> a Rich Tree; every tensor line: symbol, name, shape, equation, values."""
    cfg = trace.config
    root = Tree(f"[bold]{escape(config_line(cfg))}[/]")
    count, missing = trace.param_count, cfg.kind.unsupported(cfg)
    keras = count_text(count.keras, missing.get("keras"))
    pytorch = count_text(count.pytorch, missing.get("pytorch"))
    root.add(escape(f"parameters: Keras {keras}, PyTorch {pytorch}"))
    root.add(f"steps: {escape(trace.selection.rule)}")
    layers: dict[int, Tree] = {}
    directions: dict[tuple[int, str], Tree] = {}
    steps: dict[tuple[int, str, int], Tree] = {}
    for p in trace.parameters:
        key = (p.layer, p.direction)
        if key not in directions:
            if p.layer not in layers:
                layers[p.layer] = root.add(f"[bold]layer {p.layer}[/]")
            directions[key] = layers[p.layer].add(f"[bold]{p.direction}[/]")
            directions[key].add("weights")
        directions[key].children[0].add(f"{p.name}  {matrix_text(p.shape)}  ({p.count:,})")
    for r in trace.tensors:
        key3 = (r.layer, r.direction, r.step)
        if key3 not in steps:
            steps[key3] = directions[(r.layer, r.direction)].add(f"step {r.step}")
        more = trace.samples > 0 and len(r.sample) < numel(r.shape)
        values = sample_text(r.sample, more, r.marks) if trace.samples else ""
        steps[key3].add(
            f"{escape(r.symbol)} [cyan]{r.name}[/] {shape_text(r.shape)} = {escape(r.equation)}"
            f"\n[dim]{escape(values)}  {escape(describe(r.stats, digits=2))}[/]"
        )
    outputs = root.add("[bold]outputs[/]")
    for name, shape in trace.outputs.items():
        outputs.add(f"{name} {shape_text(shape)}")
    health = root.add(
        "[bold]gate health[/] (saturated share low and high, every step; over time: low, "
        "high per segment): " + escape(first_nonfinite_note(trace.health))
    )
    for (layer, direction), lines in tree_lines(trace.health, cfg.kind.report_order).items():
        place = health.add(f"layer {layer} {direction}")
        for line in lines:
            place.add(escape(line))
    mostly = mostly_note(trace.health, cfg.kind.report_order)
    if mostly:
        health.add(escape(mostly.rstrip()))
    over = segments_line(trace.health)
    if over:
        health.add(f"[dim]over time: {escape(over[0])}, t = 0 on the left; {escape(over[1])}[/]")
    return root
