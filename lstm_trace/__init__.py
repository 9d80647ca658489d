"""lstm-trace: see what flows through an LSTM, gate by gate.

Public API::

    from lstm_trace import LSTMConfig, init_weights, forward, trace
    cfg = LSTMConfig(input_size=32, hidden_size=70)
    out, (h_n, c_n) = forward(init_weights(cfg, seed=0), x)
    t = trace(cfg)          # t.to_dict() is the JSON document
    assert_shapes(cfg, output=(3, 70), W_f=(70, 102), params_keras=28_840)
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lstm-trace")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

from .cell import HOOK_POINTS, Hook, HookError, HookEvent, forward
from .config import LSTMConfig
from .errors import ConfigError, LSTMTraceError, MemoryLimitError, SelectionError
from .expect import assert_shapes
from .steps import StepSelection, select_steps
from .trace import Parameter, TensorRecord, Trace, trace
from .weights import (
    DirectionWeights,
    LSTMWeights,
    ParamCount,
    init_input,
    init_weights,
    param_count,
    weights_from_pytorch,
)

__all__ = [
    "HOOK_POINTS",
    "ConfigError",
    "DirectionWeights",
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
    "forward",
    "init_input",
    "init_weights",
    "param_count",
    "select_steps",
    "trace",
    "weights_from_pytorch",
]
