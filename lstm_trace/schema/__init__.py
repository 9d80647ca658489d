"""JSON Schemas (draft 2020-12) of lstm-trace's output, shipped inside the package.

- ``trace``: the JSON document of ``lstm-trace --json`` and ``Trace.to_dict()``
  (schema_version 2), ``$id`` https://lstm-trace.invalid/schema/trace-2.json. Later
  releases add to version 2 (new keys) and extend the schema with them.
- ``trace-jsonl``: one line of ``lstm-trace --format jsonl`` (a header, tensor or outputs
  line, told apart by ``type``), ``$id`` https://lstm-trace.invalid/schema/trace-jsonl-2.json.
  It ``$ref``s the ``$defs`` of ``trace`` by that schema's ``$id``, so a validator needs both
  in its registry; nothing is fetched over the network (the ``.invalid`` host never resolves).

lstm-trace itself does not validate, so it does not depend on a validator. With the
``jsonschema`` package::

    from jsonschema import Draft202012Validator
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012
    from lstm_trace.schema import load_schema, schemas_by_id

    registry = Registry().with_resources(
        (uri, DRAFT202012.create_resource(s)) for uri, s in schemas_by_id().items()
    )
    Draft202012Validator(load_schema("trace-jsonl"), registry=registry).validate(line)
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

#: the schemas this package ships, by name; each is the file ``<name>.schema.json``.
SCHEMA_NAMES: tuple[str, ...] = ("trace", "trace-jsonl")

__all__ = ["SCHEMA_NAMES", "bundled_schema", "load_schema", "schemas_by_id"]


def load_schema(name: str = "trace") -> dict[str, Any]:
    """The schema called name ('trace' or 'trace-jsonl') as a fresh dict.

    Raises ValueError for any other name.
    """
    if name not in SCHEMA_NAMES:
        raise ValueError(f"no schema named {name!r}; the schemas are {', '.join(SCHEMA_NAMES)}")
    text = files(__name__).joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def schemas_by_id() -> dict[str, dict[str, Any]]:
    """Every shipped schema keyed by its ``$id``: what a local registry needs to resolve the
    references between them without the network."""
    out: dict[str, dict[str, Any]] = {}
    for name in SCHEMA_NAMES:
        schema = load_schema(name)
        out[schema["$id"]] = schema
    return out


def bundled_schema(name: str = "trace") -> dict[str, Any]:
    """The schema with every definition it borrows from another shipped schema copied in,
    so that a validator needs nothing else (what ``lstm-trace schema`` prints)."""
    schema = load_schema(name)
    if name == "trace":
        return schema
    trace = load_schema("trace")
    prefix = trace["$id"] + "#"
    defs = schema.setdefault("$defs", {})
    clash = set(defs) & set(trace["$defs"])
    if clash:  # pragma: no cover - a guard for whoever adds definitions
        raise ValueError(f"definitions in both schemas: {', '.join(sorted(clash))}")
    defs.update(trace["$defs"])
    defs["parameters"] = trace["properties"]["parameters"]

    def local(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: local(v) for k, v in node.items()}
            ref = out.get("$ref")
            if isinstance(ref, str) and ref.startswith(prefix):
                out["$ref"] = "#" + ref[len(prefix) :].replace(
                    "/properties/parameters", "/$defs/parameters"
                )
            return out
        if isinstance(node, list):
            return [local(v) for v in node]
        return node

    bundled: dict[str, Any] = local(schema)
    return bundled
