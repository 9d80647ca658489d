"""The live API: trace the recurrent layers of a model in memory, on the input they received.

    with lstm_trace.capture(model) as traces:
        model(batch)
    traces["encoder.lstm"]                 # a Trace of that module's last call
    traces["encoder.lstm"].replay_error    # max |lstm-trace - the framework's own output|
    traces.calls("encoder.lstm")           # every call's Trace, in order
    lstm_trace.trace_module(module, x)     # one module, one input (h0, c0 optional)

PyTorch (torch_capture.py): nn.LSTM, nn.GRU, nn.LSTMCell, nn.GRUCell, by forward hooks.
Keras (keras_capture.py, any backend whose calls run eagerly): LSTM, GRU, Bidirectional of
either, RNN(LSTMCell | GRUCell), by wrapping each such layer's call for the with's duration.
Neither framework is imported here: a model's own library is already loaded.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .keras_capture import capture_keras, is_keras_layer, trace_keras
from .replay import LiveTrace, check_trace_options
from .session import Captured, NotCaptured, Session
from .torch_capture import capture_torch, is_torch_module, trace_torch

__all__ = ["Captured", "LiveTrace", "NotCaptured", "capture", "trace_module"]


def capture(model: Any, **trace_options: Any) -> Session:
    """A context manager that records every call of model's recurrent modules inside it.

    ``with capture(model) as traces:`` gives a Captured: traces[name] is the Trace (a
    LiveTrace, with replay_error) of that module's last call, traces.calls(name) of every
    call. Names are torch's named_modules() ('' for the model itself), or Keras layer names
    with nested models joined by '/'. trace_options go to trace(): steps, samples, hooks,
    max_memory, keep_values, sink, observers. Refused (ConfigError): a model with no
    recurrent module, TorchScript, weights that are not float32 or float64; inside the with,
    a PackedSequence, a mask, dropout that training mode would draw.
    """
    options = check_trace_options(trace_options)
    if is_keras_layer(model):  # first: a Keras layer on the torch backend is a torch Module too
        return capture_keras(model, options)
    if is_torch_module(model):
        return capture_torch(model, options)
    raise ConfigError(
        f"capture takes a torch.nn.Module or a Keras model or layer, got a {type(model).__name__}"
    )


def trace_module(
    module: Any, x: Any, h0: Any = None, c0: Any = None, **trace_options: Any
) -> LiveTrace:
    """Run one recurrent module on x from h0 and c0 (None: zeros) and trace that call.

    torch: an nn.LSTM or nn.GRU takes x in its own layout (batch_first as it says) and h0,
    c0 as (D*L, [B,] H_out) and (D*L, [B,] H); an nn.LSTMCell or nn.GRUCell takes a sequence
    x (B, T, I) or (T, I), stepped in a loop, and h0, c0 (B, H) or (H,). Keras: an LSTM, GRU,
    Bidirectional or RNN layer takes x (B, T, I), and h0, c0 (D, B, H) as its initial_state.
    The Trace's replay_error compares it with the framework's own output.
    """
    options = check_trace_options(trace_options)
    if is_keras_layer(module):
        return trace_keras(module, x, h0, c0, options)
    if is_torch_module(module):
        return trace_torch(module, x, h0, c0, options)
    raise ConfigError(
        f"trace_module takes a torch or Keras recurrent layer, got a {type(module).__name__}"
    )
