"""Capturing PyTorch modules in memory: nn.LSTM, nn.GRU, nn.LSTMCell and nn.GRUCell.

A forward hook (with_kwargs=True, so that hx passed by name is seen too) on every such module
of model.named_modules() records each call: its input, the state it started from (hx; None is
zeros) and what the module returned, all copied to NumPy in lstm-trace's layout:

- nn.LSTM / nn.GRU: x (B, T, I), transposed from (T, B, I) when batch_first=False; unbatched
  (T, I) stays unbatched. hx and h_n, c_n are (D*L, [B,] H_out) in both.
- nn.LSTMCell / nn.GRUCell: one step per call, x (B, I) or (I,), hx (B, H); the steps of a
  loop are stitched into sequences (replay.Steps).

The weights are the module's state_dict at the call, converted again only when a value has
changed since the last call. torch is never
imported here: the model's own module (already loaded) is asked.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from ..cells.base import FloatArray
from ..config import LSTMConfig
from ..errors import ConfigError
from ..frameworks import from_pytorch
from ..weights import LSTMWeights
from .replay import Call, CallLog, LiveTrace
from .session import Session

#: the torch classes traced, and the cell each computes
LAYERS = {"LSTM": "lstm", "GRU": "gru"}
CELLS = {"LSTMCell": "lstm", "GRUCell": "gru"}
TRACED = "nn.LSTM, nn.GRU, nn.LSTMCell or nn.GRUCell"


def _torch() -> Any:
    return sys.modules["torch"]


def is_torch_module(model: object) -> bool:
    """Whether model is a torch.nn.Module (False when torch was never imported)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


def _kind(module: Any) -> tuple[str, bool] | None:
    """(cell, is a cell module) of a traced torch module, None for any other."""
    nn = _torch().nn
    for title, cell in LAYERS.items():
        if isinstance(module, getattr(nn, title)):
            return cell, False
    for title, cell in CELLS.items():
        if isinstance(module, getattr(nn, title)):
            return cell, True
    return None


def recurrent_modules(model: Any) -> list[tuple[str, Any]]:
    """(name, module) of every traced module in model.named_modules() ('' for the model
    itself). TorchScript is refused: it runs no Python hooks, and its code is not read."""
    script = _torch().jit.ScriptModule
    found = []
    for name, module in model.named_modules():
        if isinstance(module, script):
            where = f"{name!r} is" if name else "the model is"
            raise ConfigError(
                f"{where} a TorchScript module (torch.jit.ScriptModule), which runs no Python "
                "hooks; capture the nn.Module before scripting it, or save the script "
                "(module.save('model.jit')) and read it with lstm-trace --weights model.jit"
            )
        if _kind(module) is not None:
            found.append((name, module))
    if not found:
        raise ConfigError(f"found no {TRACED} in this {type(model).__name__}")
    return found


def module_config(module: Any) -> LSTMConfig:
    """The configuration of a traced module (T and the batch are the input's, set later)."""
    kind = _kind(module)
    if kind is None:
        raise ConfigError(f"trace_module takes an {TRACED}, got a {type(module).__name__}")
    cell, stepped = kind
    dtype = str(next(module.parameters()).dtype).removeprefix("torch.")
    if dtype not in ("float32", "float64"):
        raise ConfigError(
            f"the {type(module).__name__} holds {dtype} weights; lstm-trace traces float32 and "
            "float64 (module.float() or module.double() first)"
        )
    if stepped:
        sizes: dict[str, Any] = {}
    else:
        sizes = {
            "num_layers": module.num_layers,
            "bidirectional": module.bidirectional,
            "proj_size": getattr(module, "proj_size", 0),
        }
    return LSTMConfig(
        input_size=module.input_size,
        hidden_size=module.hidden_size,
        bias=module.bias,
        dtype=dtype,  # type: ignore[arg-type]
        cell=cell,
        **sizes,
    )


def _array(tensor: Any) -> FloatArray:
    """A NumPy copy of a tensor (detached, on the CPU): a later in-place change of the
    tensor (h.zero_()) does not reach what was recorded."""
    out: FloatArray = tensor.detach().cpu().numpy().copy()
    return out


class _Weights:
    """A module's weights as LSTMWeights, converted again only when a value has changed.

    Compared value by value with a copy of the last ones read: torch's version counter would
    miss a change made through .data, and a copy to NumPy at every step of a cell's loop
    costs more than a comparison."""

    def __init__(self, module: Any, config: LSTMConfig, stepped: bool) -> None:
        self._module, self._config, self._stepped = module, config, stepped
        self._seen: dict[str, Any] = {}
        self._weights: LSTMWeights | None = None

    def now(self) -> LSTMWeights:
        torch = _torch()
        with torch.no_grad():
            state = self._module.state_dict()
            same = state.keys() == self._seen.keys() and all(
                torch.equal(v, self._seen[k]) for k, v in state.items()
            )
            if self._weights is None or not same:
                self._seen = {k: v.detach().clone() for k, v in state.items()}
                arrays = {k: _array(v) for k, v in state.items()}
                if self._stepped:  # nn.LSTMCell's weight_ih is a one-layer nn.LSTM's _l0
                    arrays = {f"{k}_l0": v for k, v in arrays.items()}
                self._weights = from_pytorch(arrays, self._config)
        return self._weights


def _arguments(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, Any]:
    """(input, hx) of a call of forward(input, hx=None), by position or by name."""
    x = args[0] if args else kwargs.get("input")
    hx = args[1] if len(args) > 1 else kwargs.get("hx")
    return x, hx


def _check_call(name: str, module: Any, x: Any) -> None:
    """Refuse what a replay could not match: packed input, dropout between layers."""
    where = name or "the model"
    if isinstance(x, _torch().nn.utils.rnn.PackedSequence):
        raise ConfigError(
            f"{where} was given a PackedSequence, which lstm-trace does not replay; call the "
            "model on the padded tensor (torch.nn.utils.rnn.pad_packed_sequence gives it back "
            "from a PackedSequence), one sequence length per batch"
        )
    dropout = getattr(module, "dropout", 0.0)
    if module.training and dropout > 0 and getattr(module, "num_layers", 1) > 1:
        raise ConfigError(
            f"{where} has dropout={dropout} between its layers, which is drawn at random in "
            "training mode, so a replay would not match; call model.eval() before capturing"
        )


def _states(value: Any) -> tuple[FloatArray, ...]:
    """hx or a returned state as arrays: (h,) or (h, c)."""
    return tuple(_array(v) for v in value) if isinstance(value, tuple) else (_array(value),)


def _layer_call(name: str, module: Any, weights: LSTMWeights, x: Any, hx: Any, out: Any) -> Call:
    """An nn.LSTM's or nn.GRU's call in lstm-trace's layout (module doc)."""
    xa, output = _array(x), _array(out[0])
    if xa.ndim == 3 and not module.batch_first:  # (T, B, I) -> (B, T, I)
        xa, output = xa.transpose(1, 0, 2).copy(), output.transpose(1, 0, 2).copy()
    final = _states(out[1])
    start = (None, None) if hx is None else (*_states(hx), None)[:2]
    expected = {"output": output, "h_n": final[0]}
    if len(final) > 1:
        expected["c_n"] = final[1]
    return Call(name, weights, xa, start[0], start[1], expected)


def _hook(name: str, module: Any, log: CallLog) -> Callable[..., None]:
    stepped = (_kind(module) or ("lstm", False))[1]
    weights = _Weights(module, module_config(module), stepped)

    def hook(mod: Any, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> None:
        x, hx = _arguments(args, kwargs)
        _check_call(name, mod, x)
        if stepped:
            state = None if hx is None else _states(hx)
            log.step(name).add(weights.now(), _array(x), state, _states(out))
        else:
            log.add(_layer_call(name, mod, weights.now(), x, hx, out))

    return hook


def install(found: list[tuple[str, Any]]) -> Callable[[CallLog], Callable[[], None]]:
    """What puts a forward hook on each found module; it returns what removes them."""

    def put(log: CallLog) -> Callable[[], None]:
        handles = []
        try:
            for name, module in found:
                handles.append(
                    module.register_forward_hook(_hook(name, module, log), with_kwargs=True)
                )
        except BaseException:
            for handle in handles:
                handle.remove()
            raise

        def remove() -> None:
            for handle in handles:
                handle.remove()

        return remove

    return put


def capture_torch(model: Any, options: Mapping[str, Any]) -> Session:
    found = recurrent_modules(model)
    for _, module in found:
        module_config(module)  # a float16 module is refused before the with, not in it
    return Session(install(found), [name for name, _ in found], options)


def trace_torch(module: Any, x: Any, h0: Any, c0: Any, options: Mapping[str, Any]) -> LiveTrace:
    """Run module on x (its own layout; for a cell, a sequence (B, T, I) or (T, I) stepped
    in a loop) from h0, c0 (as the module takes them; None: zeros), and trace that call."""
    torch = _torch()
    config = module_config(module)
    where = {"dtype": getattr(torch, config.dtype), "device": next(module.parameters()).device}

    def tensor(a: Any) -> Any:
        """a tensor (detached: trace_module computes no gradient) or an array, on the
        module's device in its dtype."""
        if a is None:
            return None
        return a.detach().to(**where) if torch.is_tensor(a) else torch.as_tensor(a, **where)

    xt, h, c = tensor(x), tensor(h0), tensor(c0)
    if c is not None and not config.kind.carried:
        raise ConfigError(f"c0: a {config.kind.title} has no cell state, only h0")
    name = type(module).__name__  # the document's source: 'captured: LSTM'
    session = Session(install([(name, module)]), [name], options)
    with torch.no_grad(), session as traces:
        hx = _hx(config, h, c)
        if _kind(module) == (config.cell, True):  # a cell: x is a sequence, stepped
            for t in range(xt.shape[-2]):
                hx = module(xt[..., t, :], hx)
        else:
            module(xt, hx)
    return traces[name]


def _hx(config: LSTMConfig, h: Any, c: Any) -> Any:
    """hx as the module takes it: a GRU's h; an LSTM's (h, c), the one not given zeros
    (h (..., H_out), c (..., H): they differ with a projection)."""
    if h is None and c is None:
        return None
    if not config.kind.carried:
        return h
    given = h if h is not None else c
    if h is None:
        h = given.new_zeros((*given.shape[:-1], config.h_out))
    if c is None:
        c = given.new_zeros((*given.shape[:-1], config.hidden_size))
    return (h, c)
