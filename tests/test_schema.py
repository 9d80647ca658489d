"""The shipped JSON Schemas: real documents and JSONL lines validate; broken ones do not."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from importlib.resources import files
from typing import Any

import numpy as np
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from lstm_trace import HOOK_POINTS, LSTMConfig, init_weights, trace
from lstm_trace.cells import CELLS
from lstm_trace.config import DTYPES
from lstm_trace.schema import SCHEMA_NAMES, load_schema, schemas_by_id
from lstm_trace.weights import DIRECTIONS

TRACE_ID = "https://lstm-trace.invalid/schema/trace-2.json"
JSONL_ID = "https://lstm-trace.invalid/schema/trace-jsonl-2.json"

Doc = dict[str, Any]


def local_registry() -> Registry[Any]:
    """Both shipped schemas by $id; no retrieve function, so nothing is ever fetched."""
    return Registry().with_resources(
        (uri, DRAFT202012.create_resource(schema)) for uri, schema in schemas_by_id().items()
    )


REGISTRY = local_registry()
TRACE = Draft202012Validator(load_schema("trace"), registry=REGISTRY)
JSONL = Draft202012Validator(load_schema("trace-jsonl"), registry=REGISTRY)


def strict(value: Any) -> Any:
    """What a consumer reads: the value through strict JSON (no NaN or Infinity tokens)."""
    return json.loads(json.dumps(value, allow_nan=False))


def errors(validator: Draft202012Validator, instance: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]


def nan_everywhere(event: Any) -> Any:
    """A hook that makes every forget gate NaN, so stats have no finite value at all."""
    return np.full_like(event.value, np.nan) if event.name == "forget_gate" else None


def _nan_inf_input() -> Doc:
    x = np.array([[np.nan, np.inf, 1.0, 2.0]], dtype=np.float32)
    return trace(LSTMConfig(input_size=4, hidden_size=3, seq_len=1), x=x).to_dict()


DOCUMENTS: dict[str, Callable[[], Doc]] = {
    "walkthrough": lambda: trace(LSTMConfig()).to_dict(),
    "bi_stacked_batched_all_steps": lambda: trace(
        LSTMConfig(bidirectional=True, num_layers=2, batch=3, seq_len=6), steps="all"
    ).to_dict(),
    "proj": lambda: trace(LSTMConfig(proj_size=5)).to_dict(),
    "samples_0": lambda: trace(LSTMConfig(), samples=0).to_dict(),
    "float64": lambda: trace(LSTMConfig(dtype="float64")).to_dict(),
    "nan_inf_input": _nan_inf_input,
    "all_nan_gate": lambda: trace(
        LSTMConfig(input_size=3, hidden_size=2, seq_len=2, batch=2), hooks=[nan_everywhere]
    ).to_dict(),
    "proj_bi_stacked_f64_long_default_steps": lambda: trace(
        LSTMConfig(
            input_size=5,
            hidden_size=4,
            proj_size=2,
            num_layers=3,
            bidirectional=True,
            batch=1,
            seq_len=9,
            dtype="float64",
            seed=7,
        ),
        samples=100,
    ).to_dict(),
    "steps_list": lambda: trace(LSTMConfig(seq_len=5), steps="0,2,-1").to_dict(),
    "weights_in_memory": lambda: trace(LSTMConfig(), init_weights(LSTMConfig())).to_dict(),
    "weights_from_a_file": lambda: trace(
        LSTMConfig(), init_weights(LSTMConfig()), source="models/encoder.pt"
    ).to_dict(),
    "a_module_of_a_file": lambda: trace(
        LSTMConfig(), init_weights(LSTMConfig()), source="model.pt", module="encoder.lstm"
    ).to_dict(),
}


# --- the schemas themselves -------------------------------------------------------------------


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_shipped_schemas_are_valid_draft_2020_12(name: str) -> None:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] and schema["description"]
    assert files("lstm_trace.schema").joinpath(f"{name}.schema.json").is_file()


def test_load_schema_defaults_to_the_document_and_refuses_unknown_names() -> None:
    assert load_schema()["$id"] == TRACE_ID
    assert load_schema("trace-jsonl")["$id"] == JSONL_ID
    assert set(schemas_by_id()) == {TRACE_ID, JSONL_ID}
    load_schema()["title"] = "changed"  # each call is a fresh dict
    assert load_schema()["title"] != "changed"
    with pytest.raises(ValueError, match="trace-jsonl"):
        load_schema("nope")


def test_enums_match_the_code() -> None:
    defs = load_schema()["$defs"]
    points = [p for cell in CELLS.values() for p in cell.hook_points]
    assert defs["tensorName"]["enum"] == list(dict.fromkeys(points))
    assert tuple(defs["tensorName"]["enum"][: len(HOOK_POINTS)]) == HOOK_POINTS
    assert tuple(defs["direction"]["enum"]) == DIRECTIONS
    assert tuple(defs["dtype"]["enum"]) == DTYPES
    every = [
        LSTMConfig(cell="lstm", peepholes=True, proj_size=2),
        LSTMConfig(cell="gru"),
        LSTMConfig(cell="gru", reset_after=False),
    ]
    names = [name for cfg in every for name, _ in cfg.kind.parameters(cfg, 0)]
    assert sorted(defs["parameterName"]["enum"]) == sorted(set(names))
    gates = [g for cell in CELLS.values() for g in cell.report_order]
    assert defs["gateName"]["enum"] == list(dict.fromkeys(gates))
    assert defs["schemaVersion"]["const"] == 2


def test_documents_top_level_keys_are_exactly_the_required_ones() -> None:
    doc = DOCUMENTS["walkthrough"]()
    assert set(doc) == set(load_schema()["required"])


# --- the JSON document ------------------------------------------------------------------------


@pytest.mark.parametrize("case", DOCUMENTS)
def test_real_documents_validate(case: str) -> None:
    doc = DOCUMENTS[case]()
    assert errors(TRACE, strict(doc)) == []
    assert errors(TRACE, doc) == []  # the dict itself, before JSON


def test_the_cases_cover_what_they_claim() -> None:
    nan_doc = DOCUMENTS["nan_inf_input"]()
    x = next(r for r in nan_doc["tensors"] if r["name"] == "x")
    assert x["sample"][:2] == [None, None] and (x["stats"]["nan"], x["stats"]["inf"]) == (1, 1)
    gates = [r for r in DOCUMENTS["all_nan_gate"]()["tensors"] if r["name"] == "forget_gate"]
    assert gates and all(r["stats"]["min"] is None and r["stats"]["nan"] for r in gates)
    assert DOCUMENTS["proj"]()["param_count"]["keras"] is None
    assert all(r["sample"] == [] for r in DOCUMENTS["samples_0"]()["tensors"])
    assert {r["dtype"] for r in DOCUMENTS["float64"]()["tensors"]} == {"float64"}
    assert DOCUMENTS["walkthrough"]()["weights"]["seed"] == 0
    assert set(DOCUMENTS["weights_in_memory"]()["weights"]) == {"digest", "source"}
    assert DOCUMENTS["weights_from_a_file"]()["weights"]["source"] == "models/encoder.pt"
    assert DOCUMENTS["a_module_of_a_file"]()["weights"]["module"] == "encoder.lstm"
    bi = DOCUMENTS["bi_stacked_batched_all_steps"]()
    assert bi["config"]["batch"] == 3 and {r["direction"] for r in bi["tensors"]} == set(DIRECTIONS)


def test_cli_json_output_validates(capsys: pytest.CaptureFixture[str]) -> None:
    from lstm_trace.cli import main

    args = ["--json", "--bidirectional", "-L", "2", "-B", "3", "-T", "6", "--steps", "all"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert errors(TRACE, json.loads(out)) == []


def _set(path: tuple[Any, ...], value: Any) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _delete(path: tuple[Any, ...]) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


BROKEN_DOCUMENTS: dict[str, Callable[[Doc], None]] = {
    "tensor shape [0]": _set(("tensors", 0, "shape"), [0]),
    "tensor shape []": _set(("tensors", 0, "shape"), []),
    "output shape [3, -1]": _set(("outputs", "output", "shape"), [3, -1]),
    "parameter shape [2.5]": _set(("parameters", 4, "shape"), [2.5]),
    "unknown tensor name": _set(("tensors", 0, "name"), "ghost_gate"),
    "unknown direction": _set(("tensors", 0, "direction"), "sideways"),
    "tensor dtype float16": _set(("tensors", 0, "dtype"), "float16"),
    "negative step": _set(("tensors", 0, "step"), -1),
    "sample item a string": _set(("tensors", 0, "sample", 0), "0.5"),
    "stats min a string": _set(("tensors", 0, "stats", "min"), "nan"),
    "stats nan negative": _set(("tensors", 0, "stats", "nan"), -1),
    "stats inf a float": _set(("tensors", 0, "stats", "inf"), 0.5),
    "stats extra key": _set(("tensors", 0, "stats", "median"), 0.0),
    "stats missing std": _delete(("tensors", 0, "stats", "std")),
    "tensor extra key": _set(("tensors", 0, "values"), [1.0]),
    "tensor missing stats": _delete(("tensors", 0, "stats")),
    "missing outputs": _delete(("outputs",)),
    "missing frameworks": _delete(("frameworks",)),
    "outputs missing c_n": _delete(("outputs", "c_n")),
    "extra key in config": _set(("config", "dropout"), 0.0),
    "config missing seed": _delete(("config", "seed")),
    "config batch 0": _set(("config", "batch"), 0),
    "config batch a bool": _set(("config", "batch"), True),
    "config dtype float16": _set(("config", "dtype"), "float16"),
    "config proj_size negative": _set(("config", "proj_size"), -1),
    "schema_version 1": _set(("schema_version",), 1),
    "schema_version true": _set(("schema_version",), True),
    "missing weights": _delete(("weights",)),
    "weights digest not sha256": _set(("weights", "digest"), "md5:00"),
    "weights digest uppercase": _set(("weights", "digest"), "sha256:" + "A" * 64),
    "weights missing source": _delete(("weights", "source")),
    "weights seeded without seed": _delete(("weights", "seed")),
    "weights file with a seed": _set(("weights", "source"), "model.pt"),
    "weights extra key": _set(("weights", "dtype"), "float32"),
    "unknown parameter name": _set(("parameters", 0, "name"), "W_x"),
    "parameter extra key": _set(("parameters", 0, "dtype"), "float32"),
    "parameter count 0": _set(("parameters", 0, "count"), 0),
    "param_count keras a float": _set(("param_count", "keras"), 1.5),
    "param_count pytorch a string": _set(("param_count", "pytorch"), "29120"),
    "param_count onnx missing": _delete(("param_count", "onnx")),
    "steps selected empty": _set(("steps", "selected"), []),
    "steps selected repeated": _set(("steps", "selected"), [0, 0]),
    "frameworks location direction": _set(("frameworks", "locations", 0, "direction"), "upward"),
    "frameworks gate_order missing onnx": _delete(("frameworks", "gate_order", "onnx")),
    "frameworks returns h_n_index missing": _delete(("frameworks", "returns", "h_n_index")),
}


@pytest.mark.parametrize("case", BROKEN_DOCUMENTS)
def test_broken_documents_fail(case: str) -> None:
    doc = strict(DOCUMENTS["walkthrough"]())
    assert errors(TRACE, doc) == []
    BROKEN_DOCUMENTS[case](doc)
    assert errors(TRACE, doc) != []


def test_free_text_of_frameworks_is_not_constrained() -> None:
    doc = strict(DOCUMENTS["walkthrough"]())
    doc["frameworks"]["locations"][0]["pytorch"] = "anything a person can read"
    doc["frameworks"]["returns"]["pytorch"]["output (some new call)"] = [1, 2, 3]
    doc["frameworks"]["returns"]["keras"]["states order"] = "reworded"
    doc["frameworks"]["gate_order"]["mlx"] = "i f g o"
    assert errors(TRACE, doc) == []


# --- the JSONL stream, one line at a time -----------------------------------------------------

HEADER_KEYS = (
    "schema_version",
    "lstm_trace_version",
    "config",
    "weights",
    "steps",
    "parameters",
    "param_count",
    "frameworks",
)


def jsonl_lines(doc: Doc) -> list[Doc]:
    """The lines --format jsonl writes for doc, built by hand from the JSON document."""
    header = {"type": "header", **{k: doc[k] for k in HEADER_KEYS}}
    tensors = [{"type": "tensor", **record} for record in doc["tensors"]]
    outputs = {
        "type": "outputs",
        "outputs": doc["outputs"],
        "tensor_count": len(tensors),
        "health": doc["health"],
    }
    return [strict(line) for line in (header, *tensors, outputs)]


def test_header_keys_are_the_documents_but_tensors_outputs_and_health() -> None:
    # tensors, outputs and health come after the pass: in their own lines of the stream
    assert set(HEADER_KEYS) == set(load_schema()["required"]) - {"tensors", "outputs", "health"}
    header = load_schema("trace-jsonl")["$defs"]["headerLine"]
    assert set(header["required"]) == {"type", *HEADER_KEYS}


def test_tensor_line_has_exactly_the_records_fields() -> None:
    record = load_schema()["$defs"]["tensorRecord"]
    line = load_schema("trace-jsonl")["$defs"]["tensorLine"]
    assert set(line["properties"]) == {"type", *record["properties"]}
    assert set(line["required"]) == {"type", *record["required"]}
    assert line["additionalProperties"] is False and record["additionalProperties"] is False
    for name, sub in line["properties"].items():
        if name != "type":  # every field is the record's own schema, by reference
            assert sub == {"$ref": f"{TRACE_ID}#/$defs/tensorRecord/properties/{name}"}


@pytest.mark.parametrize("case", DOCUMENTS)
def test_real_jsonl_lines_validate(case: str) -> None:
    lines = jsonl_lines(DOCUMENTS[case]())
    assert [line["type"] for line in (lines[0], lines[-1])] == ["header", "outputs"]
    for line in lines:
        assert errors(JSONL, line) == [], line["type"]


def test_jsonl_schema_needs_the_document_schema_and_fetches_nothing() -> None:
    alone = Registry().with_resource(
        JSONL_ID, DRAFT202012.create_resource(load_schema("trace-jsonl"))
    )
    validator = Draft202012Validator(load_schema("trace-jsonl"), registry=alone)
    header = jsonl_lines(DOCUMENTS["walkthrough"]())[0]
    with pytest.raises(Unresolvable):
        validator.validate(header)


def _line(kind: str) -> Doc:
    lines = jsonl_lines(DOCUMENTS["walkthrough"]())
    return copy.deepcopy(next(line for line in lines if line["type"] == kind))


BROKEN_LINES: dict[str, Callable[[], Any]] = {
    "unknown type": lambda: {**_line("tensor"), "type": "tensors"},
    "no type": lambda: {k: v for k, v in _line("tensor").items() if k != "type"},
    "tensor line missing stats": lambda: {k: v for k, v in _line("tensor").items() if k != "stats"},
    "tensor line extra key": lambda: {**_line("tensor"), "tensor_count": 1},
    "tensor line shape [0]": lambda: {**_line("tensor"), "shape": [0]},
    "tensor line unknown name": lambda: {**_line("tensor"), "name": "ghost_gate"},
    "header typed as tensor": lambda: {**_line("header"), "type": "tensor"},
    "header missing config": lambda: {k: v for k, v in _line("header").items() if k != "config"},
    "header config extra key": lambda: {
        **_line("header"),
        "config": {**_line("header")["config"], "dropout": 0.0},
    },
    "header schema_version 1": lambda: {**_line("header"), "schema_version": 1},
    "header missing weights": lambda: {k: v for k, v in _line("header").items() if k != "weights"},
    "header unknown parameter": lambda: {
        **_line("header"),
        "parameters": [{**_line("header")["parameters"][0], "name": "W_x"}],
    },
    "outputs line negative tensor_count": lambda: {**_line("outputs"), "tensor_count": -1},
    "outputs line missing tensor_count": lambda: {
        k: v for k, v in _line("outputs").items() if k != "tensor_count"
    },
    "outputs line missing h_n": lambda: {
        **_line("outputs"),
        "outputs": {k: v for k, v in _line("outputs")["outputs"].items() if k != "h_n"},
    },
    "not an object": lambda: ["tensor"],
}


@pytest.mark.parametrize("case", BROKEN_LINES)
def test_broken_jsonl_lines_fail(case: str) -> None:
    assert errors(JSONL, BROKEN_LINES[case]()) != []
