"""Capturing Keras layers in memory: LSTM, GRU, Bidirectional of either, RNN(LSTMCell|GRUCell).

Keras has no forward hooks, so for the with's duration each such layer's ``call`` is wrapped
(an attribute of the layer itself, which Keras's __call__ looks up; removed on leaving the
with): the wrapper records the sequences the layer really received, its initial_state and
what it returned, converted to NumPy in lstm-trace's layout. This sees layers of nested
models, and model(batch) and model.predict(batch) alike, on every backend whose calls run
eagerly (torch; TensorFlow and JAX outside a compiled function: there, model.predict and fit
compile, a layer's input has no values, and the call is refused in one line).

Layouts: x (B, T, I); initial_state [h, c] per direction ([h] for a GRU) becomes h0, c0
(D, B, H). A layer with go_backwards=True is lstm-trace's reverse direction: Keras returns its
sequence in the order it read it, last step first, so it is flipped to time order. Without
return_sequences the layer returns each direction's last h, which is h_n. The weights follow
frameworks.from_keras (kernel, recurrent_kernel and bias per direction, a GRU's reset_after
from its cell).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import numpy as np

from ..cells.base import FloatArray
from ..errors import ConfigError, LSTMTraceError
from ..frameworks import KerasLayer, from_keras, infer_keras
from ..weights import LSTMWeights
from .replay import Call, CallLog, LiveTrace
from .session import Session

TRACED = "LSTM, GRU, Bidirectional(LSTM | GRU) or RNN(LSTMCell | GRUCell)"


def _keras() -> Any:
    return sys.modules["keras"]


def is_keras_layer(model: object) -> bool:
    """Whether model is a Keras layer or model (False when keras was never imported)."""
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(model, keras.layers.Layer)


def _cell_kind(rnn: Any) -> str | None:
    """'lstm' or 'gru' for an RNN layer whose cell lstm-trace traces, else None."""
    layers = _keras().layers
    cell = getattr(rnn, "cell", None)
    if isinstance(rnn, layers.RNN) and isinstance(cell, layers.LSTMCell):
        return "lstm"
    if isinstance(rnn, layers.RNN) and isinstance(cell, layers.GRUCell):
        return "gru"
    return None


def halves(layer: Any) -> list[Any] | None:
    """The RNN layers that run a traced layer's directions: [itself], or a Bidirectional's
    [forward_layer, backward_layer]; None for a layer lstm-trace does not trace."""
    if isinstance(layer, _keras().layers.Bidirectional):
        parts = [layer.forward_layer, layer.backward_layer]
        return parts if all(_cell_kind(p) for p in parts) else None
    return [layer] if _cell_kind(layer) else None


def recurrent_layers(model: Any) -> list[tuple[str, Any]]:
    """(name, layer) of every traced layer: model itself when it is one, else its layers,
    those of nested models named '<model>/<layer>'. A layer shared by two places is found
    once, under its first name."""
    if halves(model) is not None:
        return [(model.name, model)]
    found: list[tuple[str, Any]] = []
    seen: set[int] = set()

    def walk(parent: Any, prefix: str) -> None:
        for layer in getattr(parent, "layers", []):
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            if halves(layer) is not None:
                found.append((prefix + layer.name, layer))
            elif isinstance(layer, _keras().Model):
                walk(layer, f"{prefix}{layer.name}/")

    walk(model, "")
    if not found:
        raise ConfigError(f"found no Keras {TRACED} layer in {model.name!r}")
    return found


def check_layer(name: str, layer: Any) -> None:
    """Refuse, before the with, what lstm-trace cannot replay: other activations, stateful
    layers, a Bidirectional that does not concatenate, weights not float32 or float64."""
    parts = halves(layer) or []
    if getattr(layer, "merge_mode", "concat") != "concat":
        raise ConfigError(
            f"{name}: merge_mode={layer.merge_mode!r}; lstm-trace traces a Bidirectional "
            "whose directions are concatenated (merge_mode='concat')"
        )
    if len(parts) == 2 and parts[0].go_backwards:
        raise ConfigError(f"{name}: the Bidirectional's forward layer has go_backwards=True")
    shapes = {(_cell_kind(p), p.cell.units, p.cell.use_bias) for p in parts}
    if len(shapes) > 1:
        forward, backward = (
            f"{(_cell_kind(p) or '').upper()}({p.cell.units}, use_bias={p.cell.use_bias})"
            for p in parts
        )
        raise ConfigError(
            f"{name}: the Bidirectional's forward layer is {forward} and its backward layer "
            f"{backward}; lstm-trace traces two directions of one cell, size and bias"
        )
    for part in parts:
        cell = part.cell
        acts = (cell.activation.__name__, cell.recurrent_activation.__name__)
        if acts != ("tanh", "sigmoid"):
            raise ConfigError(
                f"{name}: activation={acts[0]!r}, recurrent_activation={acts[1]!r}; lstm-trace "
                "traces the cells' tanh and sigmoid"
            )
        if part.stateful:
            raise ConfigError(
                f"{name}: stateful=True carries states between calls that lstm-trace does not "
                "see; capture a stateful=False copy of the model, or pass initial_state"
            )
        if cell.built:  # an unbuilt layer's weights are checked at its first call
            check_dtype(name, part)


def check_dtype(name: str, part: Any) -> None:
    """Refuse weights that are not float32 or float64, or that compute in another dtype
    (a mixed-precision policy)."""
    dtypes = {str(part.cell.kernel.dtype), str(part.compute_dtype)}
    if not dtypes <= {"float32", "float64"} or len(dtypes) > 1:
        raise ConfigError(
            f"{name}: weights {part.cell.kernel.dtype}, computed in {part.compute_dtype}; "
            "lstm-trace traces float32 or float64 layers that compute in their own dtype"
        )


def _array(value: Any) -> FloatArray:
    """A NumPy copy (the torch backend would share the variable's memory, which training
    changes in place)."""
    out: FloatArray = np.array(_keras().ops.convert_to_numpy(value), copy=True)
    return out


def _variables(layer: Any) -> KerasLayer:
    """The layer's kernel, recurrent_kernel and bias (with use_bias) per direction."""
    out = []
    for part in halves(layer) or []:
        cell = part.cell
        variables = {
            "kernel": _array(cell.kernel),
            "recurrent_kernel": _array(cell.recurrent_kernel),
        }
        if cell.use_bias:
            variables["bias"] = _array(cell.bias)
        out.append(variables)
    return out


class _Weights:
    """A layer's weights as LSTMWeights, converted again only when its values changed."""

    def __init__(self, layer: Any) -> None:
        self._layer = layer
        self._seen: KerasLayer | None = None
        self._weights: LSTMWeights | None = None

    def now(self) -> LSTMWeights:
        variables = _variables(self._layer)
        if self._weights is None or not _same(variables, self._seen):
            parts = halves(self._layer) or []
            cell = _cell_kind(parts[0]) or "lstm"
            reset = parts[0].cell.reset_after if cell == "gru" else None
            config = infer_keras([variables], cell, reset).config(str(parts[0].cell.kernel.dtype))
            if len(parts) == 1 and parts[0].go_backwards:
                config = replace(config, direction="reverse")
            self._seen, self._weights = variables, from_keras([variables], config)
        return self._weights


def _same(a: KerasLayer, b: KerasLayer | None) -> bool:
    return b is not None and all(
        x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x)
        for x, y in zip(a, b, strict=True)
    )


def _start(states: Any, carried: bool, directions: int) -> tuple[Any, Any]:
    """initial_state ([h, c] per direction, [h] for a GRU) as h0, c0 (D, B, H)."""
    if states is None:
        return None, None
    flat = [_array(s) for s in (states if isinstance(states, (list, tuple)) else [states])]
    n = 2 if carried else 1
    h0 = np.stack([flat[d * n] for d in range(directions)])
    c0 = np.stack([flat[d * n + 1] for d in range(directions)]) if carried else None
    return h0, c0


def _expected(layer: Any, out: Any, carried: bool, directions: int) -> dict[str, FloatArray]:
    """What the layer returned, under lstm-trace's names and in its layout (module doc)."""
    returned = list(out) if layer.return_state else [out]
    first = _array(returned[0])
    expected: dict[str, FloatArray] = {}
    if layer.return_sequences:
        backwards = directions == 1 and halves(layer)[0].go_backwards  # type: ignore[index]
        expected["output"] = first[:, ::-1].copy() if backwards else first
    else:  # each direction's last h: h_n (D, B, H)
        expected["h_n"] = np.stack(np.split(first, directions, axis=-1))
    states = [_array(s) for s in returned[1:]]
    if states:
        n = 2 if carried else 1
        expected["h_n"] = np.stack(states[0::n])
        if carried:
            expected["c_n"] = np.stack(states[1::n])
    return expected


def _check_call(name: str, layer: Any, mask: Any, training: Any) -> None:
    """Refuse a call a replay could not match: masked steps, dropout drawn in training."""
    if mask is not None:
        raise ConfigError(
            f"{name}: a mask reaches this layer (a Masking layer, or mask_zero=True); "
            "lstm-trace runs every step of every sequence: capture without the mask"
        )
    for part in halves(layer) or []:
        rates = (part.cell.dropout, part.cell.recurrent_dropout)
        if training and any(rates):
            raise ConfigError(
                f"{name}: dropout={rates[0]}, recurrent_dropout={rates[1]} are drawn at random "
                "in training, so a replay would not match; call the model with training=False"
            )


def _concrete(name: str, x: Any) -> FloatArray:
    """x's values; a layer run inside a compiled function (model.predict or fit on the
    TensorFlow and JAX backends) has none to read, and is refused in one line."""
    try:
        return _array(x)
    except Exception:  # each backend says it its own way: a graph tensor, a tracer
        raise ConfigError(
            f"{name}: the layer ran inside a compiled function, whose values cannot be read "
            f"(its input is a {type(x).__name__}); call model(batch) inside the capture"
        ) from None


@contextmanager
def _one_line() -> Iterator[None]:
    """Keras rewrites an error raised inside a call into several lines (its message and the
    call's arguments) unless it is marked as rewritten already: lstm-trace's stay one line."""
    try:
        yield
    except LSTMTraceError as exc:
        exc._keras_call_info_injected = True  # type: ignore[attr-defined]
        raise


def _wrapped(name: str, layer: Any, log: CallLog) -> Callable[..., Any]:
    original = layer.call  # the class's, or an outer capture's wrapper of it
    signature = inspect.signature(type(layer).call.__get__(layer))  # the class's arguments
    weights = _Weights(layer)
    parts = halves(layer) or []
    carried = _cell_kind(parts[0]) == "lstm"

    def call(*args: Any, **kwargs: Any) -> Any:
        given = signature.bind(*args, **kwargs).arguments
        x = next(iter(given.values()))
        if _keras().backend.is_keras_tensor(x) or getattr(x, "is_meta", False):
            return original(*args, **kwargs)  # Keras working out shapes: no values to trace
        with _one_line():
            _check_call(name, layer, given.get("mask"), given.get("training"))
            for part in parts:
                check_dtype(name, part)
        out = original(*args, **kwargs)
        with _one_line():
            xa = _concrete(name, x)
            h0, c0 = _start(given.get("initial_state"), carried, len(parts))
            expected = _expected(layer, out, carried, len(parts))
            log.add(Call(name, weights.now(), xa, h0, c0, expected))
        return out

    return call


def install(found: list[tuple[str, Any]]) -> Callable[[CallLog], Callable[[], None]]:
    """What wraps each found layer's call; it returns what unwraps them."""

    def put(log: CallLog) -> Callable[[], None]:
        before = []  # (layer, its own call before: another capture's wrapper, or none)
        for name, layer in found:
            # in the instance's own __dict__: Keras's attribute tracking is not involved,
            # and taking it out leaves the class's call exactly as it was
            before.append((layer, layer.__dict__.get("call")))
            layer.__dict__["call"] = _wrapped(name, layer, log)

        def remove() -> None:
            for layer, call in reversed(before):
                if call is None:
                    layer.__dict__.pop("call", None)
                else:
                    layer.__dict__["call"] = call

        return remove

    return put


def capture_keras(model: Any, options: Mapping[str, Any]) -> Session:
    found = recurrent_layers(model)
    for name, layer in found:
        check_layer(name, layer)
    return Session(install(found), [name for name, _ in found], options)


def trace_keras(layer: Any, x: Any, h0: Any, c0: Any, options: Mapping[str, Any]) -> LiveTrace:
    """Run a Keras recurrent layer on x (B, T, I) from h0, c0 (D, B, H; None: zeros) and
    trace that call."""
    parts = halves(layer)
    if parts is None:
        raise ConfigError(f"trace_module takes a Keras {TRACED} layer, got {layer.name!r}")
    if not layer.built:
        layer.build(tuple(np.shape(x)))
    check_layer(layer.name, layer)
    carried = _cell_kind(parts[0]) == "lstm"
    if c0 is not None and not carried:
        raise ConfigError("c0: a GRU has no cell state, only h0")
    keras = _keras()
    dtype = str(parts[0].cell.kernel.dtype)
    xt = keras.ops.convert_to_tensor(np.asarray(keras.ops.convert_to_numpy(x), dtype=dtype))
    kwargs = {}
    if h0 is not None or c0 is not None:
        kwargs["initial_state"] = _initial_state(xt, h0, c0, carried, len(parts), parts, dtype)
    session = Session(install([(layer.name, layer)]), [layer.name], options)
    with session as traces:
        layer(xt, **kwargs)
    return traces[layer.name]


def _initial_state(
    xt: Any, h0: Any, c0: Any, carried: bool, directions: int, parts: list[Any], dtype: str
) -> list[Any]:
    """[h, c] per direction ([h] for a GRU) from h0, c0 (D, B, H), zeros for the one not given."""
    shape = (directions, int(xt.shape[0]), int(parts[0].cell.units))
    h = np.zeros(shape, dtype) if h0 is None else np.asarray(h0, dtype=dtype)
    c = np.zeros(shape, dtype) if c0 is None else np.asarray(c0, dtype=dtype)
    convert = _keras().ops.convert_to_tensor
    states = []
    for d in range(directions):
        states += [convert(h[d]), convert(c[d])] if carried else [convert(h[d])]
    return states
