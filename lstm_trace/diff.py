"""Comparing two saved traces (JSON documents or JSONL streams): what moved, line by line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import FileError

#: at most this many value differences are listed; the rest are counted.
MAX_VALUE_LINES = 20


def load_trace_doc(path: Path) -> dict[str, Any]:
    """A trace as the JSON document, from a --json file or a --format jsonl stream."""
    if not path.is_file():
        raise FileError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8", errors="replace")

    def refuse(token: str) -> None:
        raise ValueError(f"non-standard token {token}")

    try:
        first = _first_line(text, refuse)
        if isinstance(first, dict) and first.get("type") == "header":
            lines = [
                json.loads(line, parse_constant=refuse)
                for line in text.splitlines()
                if line.strip()
            ]
            doc = {k: v for k, v in lines[0].items() if k != "type"}
            doc["tensors"] = [
                {k: v for k, v in line.items() if k != "type"}
                for line in lines
                if line.get("type") == "tensor"
            ]
            if lines[-1].get("type") != "outputs":
                raise ValueError("the stream ends before its outputs line: cut short?")
            doc["outputs"] = lines[-1]["outputs"]
        else:
            doc = json.loads(text, parse_constant=refuse)
    except (ValueError, KeyError, AttributeError, IndexError) as exc:
        raise FileError(f"{path}: not a JSON or JSONL trace ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema_version") != 1:
        raise FileError(f"{path}: not an lstm-trace trace (schema_version 1)")
    missing = [
        k for k in ("config", "parameters", "param_count", "tensors", "outputs") if k not in doc
    ]
    if missing or not isinstance(doc["config"], dict):
        raise FileError(
            f"{path}: not a whole lstm-trace trace (missing {', '.join(missing) or 'config'})"
        )
    return doc


def _first_line(text: str, refuse: Any) -> Any:
    """The first line as JSON when it is a complete object (a JSONL header), else None."""
    try:
        return json.loads(text.lstrip().split("\n", 1)[0], parse_constant=refuse)
    except ValueError:
        return None


def diff_traces(
    a: dict[str, Any], b: dict[str, Any], values: bool = False, atol: float = 0.0
) -> tuple[list[str], int]:
    """(lines that say what differs from a to b, how many differences): ([], 0) when they
    agree. Value differences beyond MAX_VALUE_LINES are counted but summed up in one line.

    Compared: the configuration, every weight's shape, the parameter counts, the output
    shapes, and each tensor's shape; with values, also samples and stats beyond atol.
    """
    lines = [
        f"config.{k}: {_show(a['config'].get(k))} -> {_show(b['config'].get(k))}"
        for k in _keys(a["config"], b["config"])
        if a["config"].get(k) != b["config"].get(k)
    ]
    lines += _keyed("parameter", _params(a), _params(b))
    for fw in ("keras", "pytorch"):
        x, y = a.get("param_count", {}).get(fw), b.get("param_count", {}).get(fw)
        if x != y:
            lines.append(f"param_count.{fw}: {_show(x)} -> {_show(y)}")
    for name in _keys(a.get("outputs", {}), b.get("outputs", {})):
        x, y = a["outputs"].get(name, {}).get("shape"), b["outputs"].get(name, {}).get("shape")
        if x != y:
            lines.append(f"outputs.{name}: {_shape(x)} -> {_shape(y)}")
    ta, tb = _tensors(a), _tensors(b)
    lines += _keyed(
        "tensor", {k: v["shape"] for k, v in ta.items()}, {k: v["shape"] for k, v in tb.items()}
    )
    total = len(lines)
    if values:
        moved = list(_value_diffs(ta, tb, atol))
        total += len(moved)
        lines += moved[:MAX_VALUE_LINES]
        if len(moved) > MAX_VALUE_LINES:
            lines.append(f"... and {len(moved) - MAX_VALUE_LINES} more value differences")
    return lines, total


def _keys(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys([*a, *b]))


def _show(v: Any) -> str:
    return "none" if v is None else json.dumps(v)


def _shape(v: Any) -> str:
    return "none" if v is None else str(tuple(v))


def _params(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        f"{p['name']} layer {p['layer']} {p['direction']}": p["shape"]
        for p in doc.get("parameters", [])
    }


def _tensors(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{t['name']} layer {t['layer']} {t['direction']} step {t['step']}": t
        for t in doc.get("tensors", [])
    }


def _keyed(kind: str, a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    out = []
    for key in _keys(a, b):
        if key not in b:
            out.append(f"{kind} {key}: only in the first")
        elif key not in a:
            out.append(f"{kind} {key}: only in the second")
        elif a[key] != b[key]:
            out.append(f"{kind} {key}: shape {_shape(a[key])} -> {_shape(b[key])}")
    return out


def _value_diffs(
    a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]], atol: float
) -> Iterator[str]:
    for key in (k for k in a if k in b):  # in the first trace's order, so output is stable
        x, y = a[key], b[key]
        pairs = [
            (f"sample[{i}]", u, v)
            for i, (u, v) in enumerate(zip(x["sample"], y["sample"], strict=False))
        ]
        pairs += [(f"stats.{s}", x["stats"][s], y["stats"][s]) for s in x["stats"]]
        for what, u, v in pairs:
            if _differs(u, v, atol):
                yield f"tensor {key}: {what} {_show(u)} -> {_show(v)}"
                break  # one line per tensor is enough to find it


def _differs(u: Any, v: Any, atol: float) -> bool:
    if u is None or v is None or isinstance(u, bool) or isinstance(v, bool):
        return bool(u != v)
    return bool(abs(float(u) - float(v)) > atol)
