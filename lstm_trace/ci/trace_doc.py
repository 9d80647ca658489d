"""Saved traces read back for `lstm-trace diff`: a --json document or a --format jsonl stream.

Everything a comparison relies on is checked here, once, so that a bad file is refused with
its own name and the first thing wrong in it, never a traceback and never a silent guess:
the schema_version (an integer this version reads: 1 or 2), the keys a comparison needs, the
fields and types of every parameter and tensor record, and that no record appears twice.
Version 1 documents (no ``weights`` object) are read as they are: users keep them as golden
traces, and what they do not say is unknown, not different.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..document import SCHEMA_VERSION
from ..errors import FileError

#: the schema_versions this version reads: every one up to the one it writes
READABLE_VERSIONS = tuple(range(1, SCHEMA_VERSION + 1))
#: what a document must hold to be compared
REQUIRED = ("config", "parameters", "param_count", "tensors", "outputs")
#: config keys an older document leaves out (version 1, and version 2 before the GRU), and
#: the value it implies for each: filled in only when the other document has the key, so that
#: the older one is compared as it meant
IMPLIED_CONFIG: dict[str, Any] = {
    "bias": True,
    "cell": "lstm",
    "peepholes": False,
    "reset_after": None,
}


def _versions(joined: str) -> str:
    """'1 or 2': READABLE_VERSIONS in words."""
    *head, last = map(str, READABLE_VERSIONS)
    return f"{', '.join(head)}{joined}{last}" if head else last


def _refuse(token: str) -> None:
    raise ValueError(f"non-standard token {token}")


def load_trace_doc(path: Path) -> dict[str, Any]:
    """A trace as the JSON document, from a --json file or a --format jsonl stream; a file
    that is not one raises FileError naming the file and what is wrong."""
    if not path.is_file():
        raise FileError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        doc = _parse(text)
    except RecursionError:  # json's reader recurses once per level of nesting
        raise FileError(f"{path}: not a JSON or JSONL trace (nested too deeply)") from None
    except (ValueError, KeyError, AttributeError, IndexError, TypeError) as exc:
        raise FileError(f"{path}: not a JSON or JSONL trace ({exc})") from None
    version = doc.get("schema_version") if isinstance(doc, dict) else None
    if type(version) is not int or version not in READABLE_VERSIONS:  # bool is an int too
        if type(version) is int and version > max(READABLE_VERSIONS):
            raise FileError(
                f"{path}: schema_version {version} is newer than this lstm-trace reads "
                f"({_versions(' and ')}); upgrade lstm-trace"
            )
        raise FileError(f"{path}: not an lstm-trace trace (schema_version {_versions(' or ')})")
    assert isinstance(doc, dict)
    missing = [k for k in REQUIRED if k not in doc]
    if missing:
        raise FileError(f"{path}: not a whole lstm-trace trace (missing {', '.join(missing)})")
    problem = malformed(doc)
    if problem:
        raise FileError(f"{path}: {problem}")
    return doc


def _parse(text: str) -> Any:
    first = _first_line(text)
    if not (isinstance(first, dict) and first.get("type") == "header"):
        return json.loads(text, parse_constant=_refuse)
    lines = [json.loads(line, parse_constant=_refuse) for line in text.splitlines() if line.strip()]
    if not all(isinstance(line, dict) for line in lines):
        raise ValueError("a line of the stream is not a JSON object")
    doc = {k: v for k, v in lines[0].items() if k != "type"}
    doc["tensors"] = [
        {k: v for k, v in line.items() if k != "type"}
        for line in lines
        if line.get("type") == "tensor"
    ]
    if lines[-1].get("type") != "outputs":
        raise ValueError("the stream ends before its outputs line: cut short?")
    doc["outputs"] = lines[-1]["outputs"]
    return doc


def _first_line(text: str) -> Any:
    """The first line as JSON when it is a complete object (a JSONL header), else None."""
    try:
        return json.loads(text.lstrip().split("\n", 1)[0], parse_constant=_refuse)
    except (ValueError, RecursionError):
        return None


# --- what a record must hold ------------------------------------------------------------------


def _is_int(v: Any) -> bool:
    return type(v) is int


def _is_number(v: Any) -> bool:
    return type(v) in (int, float)


def _is_shape(v: Any) -> bool:
    return type(v) is list and all(type(d) is int for d in v)


def _is_numbers(v: Any) -> bool:
    return type(v) is list and all(x is None or _is_number(x) for x in v)


def _is_stats(v: Any) -> bool:
    return type(v) is dict and all(x is None or _is_number(x) for x in v.values())


def _is_str(v: Any) -> bool:
    return type(v) is str


Check = Callable[[Any], bool]
PARAMETER_FIELDS: dict[str, tuple[Check, str]] = {
    "name": (_is_str, "a name"),
    "layer": (_is_int, "a whole number"),
    "direction": (_is_str, "a direction"),
    "shape": (_is_shape, "a list of whole numbers"),
}
TENSOR_FIELDS: dict[str, tuple[Check, str]] = {
    **PARAMETER_FIELDS,
    "step": (_is_int, "a whole number"),
    "sample": (_is_numbers, "a list of numbers or nulls"),
    "stats": (_is_stats, "an object of numbers or nulls"),
}


def _brief(value: Any) -> str:
    """A value as JSON, cut to a readable length."""
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parameter_key(p: Mapping[str, Any]) -> str:
    """How diff names a parameter: 'W_f layer 0 forward'."""
    return f"{p['name']} layer {p['layer']} {p['direction']}"


def tensor_key(t: Mapping[str, Any]) -> str:
    """How diff names a tensor record: 'input_gate layer 0 forward step 2'."""
    return f"{t['name']} layer {t['layer']} {t['direction']} step {t['step']}"


def malformed(doc: Mapping[str, Any]) -> str | None:
    """The first thing in doc that is not as lstm-trace writes it, or None."""
    for key in ("config", "param_count", "outputs"):
        if type(doc[key]) is not dict:
            return f"{key} is not an object"
    for name, out in doc["outputs"].items():
        if type(out) is not dict or not _is_shape(out.get("shape")):
            return f"outputs.{name} is not an object with a shape (a list of whole numbers)"
    weights = doc.get("weights")
    if weights is not None and (type(weights) is not dict or not _is_str(weights.get("digest"))):
        return "weights is not an object with a digest"
    return _records(doc, "parameters", PARAMETER_FIELDS, parameter_key) or _records(
        doc, "tensors", TENSOR_FIELDS, tensor_key
    )


def _records(
    doc: Mapping[str, Any],
    kind: str,
    fields: Mapping[str, tuple[Check, str]],
    key: Callable[[Mapping[str, Any]], str],
) -> str | None:
    records = doc[kind]
    if type(records) is not list:
        return f"{kind} is not a list"
    seen: set[str] = set()
    for i, record in enumerate(records):
        if type(record) is not dict:
            return f"{kind}[{i}] is not an object"
        for name, (ok, what) in fields.items():
            if name not in record:
                return f"{kind}[{i}] has no {name}"
            if not ok(record[name]):
                return f"{kind}[{i}].{name} must be {what}, got {_brief(record[name])}"
        k = key(record)
        if k in seen:
            return f"{kind[:-1]} {k} appears twice (a record repeated or two traces joined?)"
        seen.add(k)
    return None


def implied(a: dict[str, Any], b: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two configs to compare: an older document's config gains the keys it implied
    (IMPLIED_CONFIG) where the other document states them, and its bidirectional flag
    becomes the direction it meant ('bi' or 'uni')."""
    ca, cb = dict(a["config"]), dict(b["config"])
    for mine in (ca, cb):
        if "bidirectional" in mine and "direction" not in mine:
            mine["direction"] = "bi" if mine.pop("bidirectional") else "uni"
    for mine, other in ((ca, cb), (cb, ca)):
        for k, v in IMPLIED_CONFIG.items():
            if k in other and k not in mine:
                mine[k] = v
    return ca, cb
