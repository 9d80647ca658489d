"""Comparing two saved traces (JSON documents or JSONL streams): what moved, line by line.

The documents come from trace_doc.load_trace_doc, which has checked every record, so nothing
here needs to guard against a malformed one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .trace_doc import implied, parameter_key, tensor_key

#: at most this many value differences are listed; the rest are counted.
MAX_VALUE_LINES = 20


def diff_traces(
    a: dict[str, Any], b: dict[str, Any], values: bool = False, atol: float = 0.0
) -> tuple[list[str], int]:
    """(lines that say what differs from a to b, how many differences): ([], 0) when they
    agree. Value differences beyond MAX_VALUE_LINES are counted but summed up in one line.

    Compared: the configuration, the weights (by digest, when both documents have one),
    every weight's shape, the parameter counts, the output shapes, and each tensor's shape;
    with values, also samples and stats beyond atol.
    """
    ca, cb = implied(a, b)
    lines = [
        f"config.{k}: {_show(ca.get(k))} -> {_show(cb.get(k))}"
        for k in _keys(ca, cb)
        if ca.get(k) != cb.get(k)
    ]
    weights = weights_line(a, b)
    if weights:
        lines.append(weights)
    lines += _keyed("parameter", _params(a), _params(b))
    for fw in ("keras", "pytorch", "onnx"):
        counts = (a.get("param_count", {}), b.get("param_count", {}))
        if fw == "onnx" and not all(fw in c for c in counts):
            continue  # documents written before ONNX was counted: unknown is not different
        x, y = (c.get(fw) for c in counts)
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


def _digest(doc: dict[str, Any]) -> str | None:
    weights = doc.get("weights")
    return weights.get("digest") if isinstance(weights, dict) else None


def _source(doc: dict[str, Any]) -> str:
    weights = doc["weights"]
    source = str(weights.get("source", "unknown source"))
    return f"{source}, seed {weights['seed']}" if "seed" in weights else source


def weights_line(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """'weights: sha256:... (seeded, seed 0) -> sha256:... (model.pt)' when the digests
    differ; None when they agree or either document has none (unknown is not different)."""
    x, y = _digest(a), _digest(b)
    if x is None or y is None or x == y:
        return None
    return f"weights: {x} ({_source(a)}) -> {y} ({_source(b)})"


def weights_unknown(a: dict[str, Any], b: dict[str, Any]) -> list[int]:
    """Which documents (0 the first, 1 the second) have no weights digest to compare."""
    return [i for i, doc in enumerate((a, b)) if _digest(doc) is None]


def _keys(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys([*a, *b]))


def _show(v: Any) -> str:
    return "none" if v is None else json.dumps(v)


def _shape(v: Any) -> str:
    return "none" if v is None else str(tuple(v))


def _params(doc: dict[str, Any]) -> dict[str, Any]:
    return {parameter_key(p): p["shape"] for p in doc.get("parameters", [])}


def _tensors(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {tensor_key(t): t for t in doc.get("tensors", [])}


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
        pairs += [(f"stats.{s}", x["stats"].get(s), y["stats"].get(s)) for s in x["stats"]]
        for what, u, v in pairs:
            if _differs(u, v, atol):
                yield f"tensor {key}: {what} {_show(u)} -> {_show(v)}"
                break  # one line per tensor is enough to find it


def _differs(u: Any, v: Any, atol: float) -> bool:
    if u is None or v is None or isinstance(u, bool) or isinstance(v, bool):
        return bool(u != v)
    return bool(abs(float(u) - float(v)) > atol)
