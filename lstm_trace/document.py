"""The JSON document's parts known before the pass runs: the header (configuration, weights,
steps, parameters, counts, frameworks; the JSONL stream's first line) and the outputs' shapes."""

from __future__ import annotations

from typing import Any

from .config import LSTMConfig
from .locations import frameworks_dict
from .parameters import parameters
from .steps import StepSelection
from .weights import param_count

#: the JSON document's layout. 2 added ``weights`` (digest and source); ``lstm-trace diff``
#: still reads version 1 documents, which users keep as golden traces.
SCHEMA_VERSION = 2


def header_dict(
    config: LSTMConfig, selection: StepSelection, weights: dict[str, Any]
) -> dict[str, Any]:
    """Everything the JSON document says before the tensors; known before the pass runs
    (the JSONL stream's first line). weights: the ``weights`` object (Trace.weights_info)."""
    from . import __version__  # lazy: importlib.metadata, only when a document is written

    count = param_count(config)
    return {
        "schema_version": SCHEMA_VERSION,
        "lstm_trace_version": __version__,
        "config": {
            "input_size": config.input_size,
            "hidden_size": config.hidden_size,
            "seq_len": config.seq_len,
            "batch": config.batch,
            "num_layers": config.num_layers,
            "cell": config.cell,
            "direction": config.direction,
            "proj_size": config.proj_size,
            "bias": config.bias,
            "peepholes": config.peepholes,
            "reset_after": config.reset_after if "reset_after" in config.kind.options else None,
            "dtype": config.dtype,
            "seed": config.seed,
        },
        "weights": weights,
        "steps": {"selected": list(selection.steps), "rule": selection.rule},
        "parameters": [p.to_dict() for p in parameters(config)],
        "param_count": {"keras": count.keras, "pytorch": count.pytorch, "onnx": count.onnx},
        "frameworks": frameworks_dict(config),
    }


def outputs_dict(outputs: dict[str, tuple[int, ...]]) -> dict[str, Any]:
    return {name: {"shape": list(shape)} for name, shape in outputs.items()}
