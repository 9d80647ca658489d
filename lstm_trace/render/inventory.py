"""inspect's view of a file: its modules as one table, then what is not traced.

Works from formats.inventory's document, so that the table and --json say the same. The
untraced tensors of one module path are shown as one row ('decoder.* (12 tensors)').
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from .sections import Section


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _variants(row: dict[str, Any]) -> str:
    """'proj 3, no bias', 'reset_after=false': what sets the module apart from the plain cell."""
    parts = [f"proj {row['proj_size']}"] if row["proj_size"] else []
    if not row["bias"]:
        parts.append("no bias")
    if row["reset_after"] is False:
        parts.append("reset_after=false")
    if row.get("merge_mode") not in (None, "concat"):
        parts.append(f"merge {row['merge_mode']}")
    if row["initial_states"]:
        parts.append("+".join(row["initial_states"]) + " given")
    return ", ".join(parts) or "-"


def modules_section(doc: dict[str, Any]) -> Section:
    """One row per module: name, kind, sizes, layers, direction, variants (a column only when
    some module has one), dtype."""
    variants = [_variants(row) for row in doc["modules"]]
    shown = any(v != "-" for v in variants)
    columns = ["module", "kind", "input>", "hidden>", "layers>", "direction"]
    section = Section.of(
        f"lstm-trace inspect {doc['file']}", *columns, *(["variants"] if shown else [])
    )
    for row, variant in zip(doc["modules"], variants, strict=True):
        mark = " *" if row["name"] == doc["default"] and len(doc["modules"]) > 1 else ""
        section.add(
            row["name"] + mark,
            row["kind"],
            str(row["input_size"]),
            str(row["hidden_size"]),
            str(row["num_layers"]),
            row["direction"],
            *([variant] if shown else []),
        )
    return section


def counts_section(doc: dict[str, Any]) -> Section:
    """Each module's framework and dtype, and its parameters as each framework counts them
    ('-': it has no such layer)."""
    section = Section.of(
        "parameters", "module", "framework", "dtype", "PyTorch>", "Keras>", "ONNX>"
    )
    for row in doc["modules"]:
        counts = row["param_count"]
        section.add(
            row["name"],
            row["framework"],
            row["dtype"] or "-",
            _count(counts["pytorch"]),
            _count(counts["keras"]),
            _count(counts["onnx"]),
        )
    return section


def untraced_section(doc: dict[str, Any], limit: int = 40) -> Section:
    """What the file holds besides its modules. The entries under one top-level name are one
    row when there are more than three ('optimizer.*: 36 entries, 12 of them tensors'):
    --json lists every one."""
    section = Section.of("not traced", "name", "what")
    groups: dict[str, list[dict[str, str]]] = {}
    for item in doc["untraced"]:
        top = item["name"].split(".", 1)[0]
        groups.setdefault(top + ".*" if "." in item["name"] else item["name"], []).append(item)
    rows: list[tuple[str, str]] = []
    for key, items in groups.items():
        if len(items) > 3:
            tensors = sum(i["what"].startswith("tensor") for i in items)
            of = f", {tensors} of them tensors" if 0 < tensors < len(items) else ""
            what = "tensors" if tensors == len(items) else "entries"
            rows.append((key, f"{len(items)} {what}{of}"))
        else:
            rows += [(i["name"], i["what"]) for i in items]
    for name, what in rows[:limit]:
        section.add(name, what)
    if len(rows) > limit:
        section.add(f"... and {len(rows) - limit} more", "(--json lists every one)")
    return section


def footnotes(doc: dict[str, Any]) -> list[str]:
    """The lines under the table: which module is traced without --module, the stacks."""
    lines = []
    if not doc["modules"]:
        lines.append("no recurrent module that lstm-trace traces (the rest is listed below)")
    if len(doc["modules"]) > 1:
        if doc["default"] is not None:
            lines.append(f"* traced when no --module is given: {doc['default']}")
        else:
            lines.append("several modules: pick one with --module NAME")
    for row in doc["modules"]:
        if row["parts"]:
            lines.append(f"{row['name']}: {' -> '.join(row['parts'])} traced as one stack")
    return lines


def names_whole(table: Table) -> Table:
    """The table with its first column (the names a user types after --module) never
    shortened or wrapped: the other columns give way, folded rather than cut short."""
    for column in table.columns[1:]:
        column.overflow = "fold"
    first = table.columns[0]
    first.no_wrap = True
    first.min_width = max((len(str(cell)) for cell in first.cells), default=0)
    return table
