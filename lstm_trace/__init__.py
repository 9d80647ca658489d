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

from __future__ import annotations

import importlib
import sys
import types

#: typing's own TYPE_CHECKING, without importing typing (some 2 ms of `lstm-trace --version`);
#: mypy reads a TYPE_CHECKING block as typing's whatever it is bound to
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .cell import HOOK_POINTS, Hook, HookError, HookEvent, forward
    from .cells import ParamCount
    from .ci.expect import assert_shapes
    from .config import LSTMConfig
    from .errors import ConfigError, LSTMTraceError, MemoryLimitError, SelectionError
    from .formats.reading import load_weights
    from .frameworks import weights_from_pytorch
    from .heatmaps import Heatmap
    from .live import capture, trace_module
    from .parameters import Parameter
    from .records import TensorRecord
    from .steps import StepSelection, select_steps
    from .trace import Trace, trace
    from .walkthrough.explanation import Explanation, explain
    from .weights import DirectionWeights, LSTMWeights, init_input, init_weights, param_count
del TYPE_CHECKING  # not one of the package's names

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


#: every public name, made when first asked for, and the module that holds it. Nothing is
#: imported with the package: `lstm-trace --version` and `--help` import lstm_trace and must
#: not pay for NumPy (some 45 ms) or the numeric core; a script's first `from lstm_trace
#: import trace` loads what that name needs, and only that.
_LAZY = {
    "HOOK_POINTS": ".cell",
    "Hook": ".cell",
    "HookError": ".cell",
    "HookEvent": ".cell",
    "forward": ".cell",
    "ParamCount": ".cells",
    "assert_shapes": ".ci.expect",
    "LSTMConfig": ".config",
    "ConfigError": ".errors",
    "LSTMTraceError": ".errors",
    "MemoryLimitError": ".errors",
    "SelectionError": ".errors",
    "load_weights": ".formats.reading",
    "weights_from_pytorch": ".frameworks",
    "Heatmap": ".heatmaps",
    "capture": ".live",
    "trace_module": ".live",
    "Parameter": ".parameters",
    "TensorRecord": ".records",
    "StepSelection": ".steps",
    "select_steps": ".steps",
    "Trace": ".trace",
    "trace": ".trace",
    "explain": ".walkthrough.explanation",
    "Explanation": ".walkthrough.explanation",
    "DirectionWeights": ".weights",
    "LSTMWeights": ".weights",
    "init_input": ".weights",
    "init_weights": ".weights",
    "param_count": ".weights",
}


class _Package(types.ModuleType):
    """The package's module type: `lstm_trace.trace` is the function trace(), as the API says,
    although a submodule has the same name. Importing a submodule binds it on its package
    (setattr); for that one name the function is bound instead, from the module just loaded."""

    def __setattr__(self, name: str, value: object) -> None:
        if name == "trace" and isinstance(value, types.ModuleType):
            value = value.trace
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    """A name of _LAZY, loaded from its module when first asked for; __version__, read from
    the package's metadata when asked for; a submodule not loaded yet (`import lstm_trace;
    lstm_trace.config`), as when the package imported its public names' modules itself."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    if name == "__version__":
        from .entry.version import package_version  # lazy: the metadata, for --version

        globals()["__version__"] = value = package_version()
        return value
    if not name.startswith("_"):
        try:
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise  # the submodule exists and is broken: say so, not "no attribute"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The module's names, the ones made when first asked for included."""
    return sorted(set(globals()) | set(__all__))
