"""lstm-trace: see what flows through an LSTM (or a GRU), gate by gate.

Public API::

    from lstm_trace import LSTMConfig, init_weights, forward, trace
    cfg = LSTMConfig(input_size=32, hidden_size=70)
    out, (h_n, c_n) = forward(init_weights(cfg, seed=0), x)
    t = trace(cfg)          # t.to_dict() is the JSON document
    t = trace(weights=load_weights("model.pt"), x=x)   # a file's weights on your input
    assert_shapes(cfg, output=(3, 70), W_f=(70, 102), params_keras=28_840)
    with capture(model) as traces:      # a torch or Keras model in memory
        model(batch)
    traces["encoder.lstm"].replay_error  # lstm-trace against the framework's own output
    explain(input_size=32, hidden_size=70)  # the walkthrough; a notebook shows it as HTML
    t.heatmap("forget_gate")                # a gate over time (t.maps), a picture
"""

import importlib
from typing import TYPE_CHECKING, Any

from .cell import HOOK_POINTS, Hook, HookError, HookEvent, forward
from .cells import ParamCount
from .ci.expect import assert_shapes
from .config import LSTMConfig
from .errors import ConfigError, LSTMTraceError, MemoryLimitError, SelectionError
from .frameworks import weights_from_pytorch
from .parameters import Parameter
from .records import TensorRecord
from .steps import StepSelection, select_steps
from .trace import Trace, trace
from .weights import (
    DirectionWeights,
    LSTMWeights,
    init_input,
    init_weights,
    param_count,
)

if TYPE_CHECKING:
    from .formats.reading import load_weights
    from .heatmaps import Heatmap
    from .live import capture, trace_module
    from .walkthrough.explanation import Explanation, explain

__all__ = [
    "HOOK_POINTS",
    "ConfigError",
    "DirectionWeights",
    "Explanation",
    "Heatmap",
    "Hook",
    "HookError",
    "HookEvent",
    "LSTMConfig",
    "LSTMTraceError",
    "LSTMWeights",
    "MemoryLimitError",
    "ParamCount",
    "Parameter",
    "SelectionError",
    "StepSelection",
    "TensorRecord",
    "Trace",
    "__version__",
    "assert_shapes",
    "capture",
    "explain",
    "forward",
    "init_input",
    "init_weights",
    "load_weights",
    "param_count",
    "select_steps",
    "trace",
    "trace_module",
    "weights_from_pytorch",
]


#: names made when first asked for, and the module that holds each: the readers (zip, HDF5
#: and torch glue, some 10 ms of start-up), the live API (most runs have no model in memory),
#: the walkthrough's narration and Heatmap, which only a notebook or a script asks for
_LAZY = {
    "load_weights": ".formats.reading",
    "capture": ".live",
    "trace_module": ".live",
    "explain": ".walkthrough.explanation",
    "Explanation": ".walkthrough.explanation",
    "Heatmap": ".heatmaps",
}


def __getattr__(name: str) -> Any:
    """A name of _LAZY, loaded from its module when first asked for; __version__, read from
    the package metadata (importlib.metadata costs some 15 ms that most runs do not need)."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("lstm-trace")
        except PackageNotFoundError:  # a source tree that was never installed
            value = "0+unknown"
        globals()["__version__"] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The module's names, the ones made when first asked for included."""
    return sorted(set(globals()) | set(__all__))
