"""A traced run becomes a Trace: tensor records (records.py), parameters, counts, shapes.

A Trace is everything a renderer needs and nothing it must compute: each record holds a
tensor's name, symbol, equation, shape, dtype, a sample of values and stats, never the full
array, so a trace of a long sequence stays small. ``Trace.to_dict()`` is the JSON document
(schema_version 2: version 1 plus the ``weights`` object, digest.py).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, overload

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from .heatmaps import Heatmap

from .cell import BlockObserver, Hook, StepBlock, forward
from .cells import ParamCount
from .cells.base import FloatArray
from .config import DEFAULT_MAX_MEMORY, LSTMConfig
from .digest import IN_MEMORY, SEEDED, weights_dict
from .document import header_dict, outputs_dict
from .errors import ConfigError, SelectionError
from .health import HealthMonitor, all_finite
from .parameters import Parameter, parameters
from .recorders import BlockRecorder, Recorder
from .records import RecordBatches, TensorRecord
from .state_maps import MAP_ROWS, StateMaps, auto_rows, map_columns
from .steps import StepSelection
from .trace_options import prepare as prepare  # the CLI's and the bench's, from here as before
from .trace_options import prepared, widest_tensor
from .trace_options import trace_bytes as trace_bytes
from .weights import (
    LSTMWeights,
    init_input,
    init_weights,
    param_count,
)

Report = dict[str, Any]


class _BuiltOnRead:
    """A Trace field that may be given a function of no arguments instead of its value: it is
    called, once, when the field is first read. trace() hands Trace.health its monitor's
    report(), so the JSON 'health' object is built from the pass's counts on request, as the
    records' objects are (RecordTable): a trace read for its records or output never builds
    it. The default is an empty report."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = "_" + name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Callable[[], Report]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> Report: ...
    def __get__(
        self, obj: object | None, owner: type | None = None
    ) -> Report | Callable[[], Report]:
        if obj is None:
            return dict  # the dataclass's default (what a class reads): built on read, {}
        try:
            value = obj.__dict__[self.slot]
        except KeyError:  # never set (an object not made by __init__): as a plain attribute
            raise AttributeError(f"{type(obj).__name__!r} object has no attribute "
                                 f"{self.slot[1:]!r}") from None  # fmt: skip
        if callable(value):
            value = obj.__dict__[self.slot] = value()
        return value  # type: ignore[no-any-return]

    def __set__(self, obj: object, value: Report | Callable[[], Report]) -> None:
        obj.__dict__[self.slot] = value


# eq=False: arrays have no == to compare by (compared by identity)
@dataclass(eq=False)
class Trace:
    """The result of a traced run. ``to_dict()`` is the JSON document, schema_version 2."""

    config: LSTMConfig
    selection: StepSelection
    samples: int
    parameters: list[Parameter]
    param_count: ParamCount
    tensors: Sequence[TensorRecord]  # sorted by layer, direction, step, hook point
    weights: LSTMWeights = field(repr=False)
    output: FloatArray = field(repr=False)
    h_n: FloatArray = field(repr=False)
    c_n: FloatArray | None = field(repr=False)  # None for a GRU
    #: full values of the traced tensors, when trace(keep_values=True)
    values: dict[tuple[str, int, str, int], FloatArray] | None = field(default=None, repr=False)
    #: gate health over every step (health.py), the JSON 'health' object: given as the
    #: monitor's report(), built when first read (_BuiltOnRead)
    health: _BuiltOnRead = _BuiltOnRead()
    #: where the weights came from: 'seeded' (from config.seed), a file's path, 'in memory'
    source: str = IN_MEMORY
    #: the module of the weights file traced ('encoder.lstm'), None when not from a file
    module: str | None = None
    #: every gate and state over time (state_maps.py), when the trace kept them (maps=)
    maps: StateMaps | None = field(default=None, repr=False)

    @property
    def outputs(self) -> dict[str, tuple[int, ...]]:
        """The shapes of output, h_n and (an LSTM's) c_n."""
        return {name: a.shape for name, a in self.arrays().items()}

    def arrays(self, seq_first: bool = False, every_tensor: bool = False) -> dict[str, FloatArray]:
        """output, h_n, c_n (an LSTM's; PyTorch's layout) and, when kept, every traced tensor as
        '<name>.layer<k>.<direction>.step<t>'. seq_first gives output as (T, B, D*H_out)."""
        output = self.output
        if seq_first and output.ndim == 3:
            output = output.transpose(1, 0, 2)
        out = {"output": output, "h_n": self.h_n}
        if self.c_n is not None:
            out["c_n"] = self.c_n
        if every_tensor and self.values is not None:
            for (name, layer, direction, step), value in sorted(self.values.items()):
                out[f"{name}.layer{layer}.{direction}.step{step}"] = value
        return out

    def weights_info(self) -> dict[str, Any]:
        """The document's ``weights`` object: digest and source (and seed, when seeded).
        Computed on request: a trace that is only checked never hashes its weights."""
        return weights_dict(self.weights, self.source, self.module)

    def to_dict(self) -> dict[str, Any]:
        doc = header_dict(self.config, self.selection, self.weights_info())
        doc["tensors"] = [r.to_dict() for r in self.tensors]
        doc["outputs"] = outputs_dict(self.outputs)
        doc["health"] = self.health
        return doc

    def heatmap(
        self, gate: str | None = None, layer: int = 0, direction: str | None = None
    ) -> Heatmap:
        """One gate (or hidden_state, cell_state) of layer and direction over time, from
        Trace.maps: gate defaults to the cell's first (the LSTM's forget_gate), direction to
        the layer's first. A trace that kept no maps says to trace with maps=True."""
        from .heatmaps import heatmap_of  # lazy: drawing code, for heatmaps only

        return heatmap_of(self.maps, self.config, gate, layer, direction)

    # How a trace shows itself: str() and a notebook's text/plain are the table view, the
    # notebook's HTML the same with the cell diagram (render/notebook.py, loaded when shown);
    # repr() stays one line, as a container's or a log's repr of it should.
    def __repr__(self) -> str:
        c = self.config
        batch = "" if c.batch is None else f" B={c.batch}"
        return (
            f"<{type(self).__name__} {c.kind.title} input={c.input_size} hidden={c.hidden_size} "
            f"layers={c.num_layers} {c.direction} T={c.seq_len}{batch}: "
            f"{len(self.tensors)} records; print() it for the table>"
        )

    def __str__(self) -> str:
        from .render.notebook import trace_text  # lazy: Rich's tables, when shown

        return trace_text(self)

    def _repr_html_(self) -> str:
        from .render.notebook import trace_html  # lazy: the notebook's HTML, when shown

        return trace_html(self)

    def _repr_mimebundle_(
        self, include: Container[str] | None = None, exclude: Container[str] | None = None
    ) -> dict[str, str]:
        from .render.notebook import mimebundle  # lazy: the notebook's HTML, when shown

        return mimebundle(self._repr_html_, self.__str__, include, exclude)


def trace(
    config: LSTMConfig | None = None,
    weights: LSTMWeights | None = None,
    x: ArrayLike | None = None,
    *,
    h0: ArrayLike | None = None,
    c0: ArrayLike | None = None,
    steps: str | Sequence[int] | None = None,
    samples: int = 4,
    hooks: Sequence[Hook] = (),
    max_memory: int = DEFAULT_MAX_MEMORY,
    keep_values: bool = False,
    sink: Callable[[TensorRecord], None] | RecordBatches | None = None,
    observers: Sequence[BlockObserver] = (),
    source: str | None = None,
    module: str | None = None,
    maps: bool | None = None,
    map_rows: int = MAP_ROWS,
) -> Trace:
    """Run the LSTM of config and record every hook point at the selected steps.

    weights and x default to the seeded ones (init_weights, init_input); x is batch first,
    (B, T, I) or (T, I), and must match config's batch and seq_len. steps: None (the default
    selection), 'all', '0,2,-1', '1:4' or a list of ints. samples: values kept per tensor.
    hooks run before the recorder, so the trace shows what they replaced. keep_values keeps
    a full copy of every traced tensor in Trace.values (memory grows with the selection).
    sink, when given, receives each record as it is computed (in the order the pass visits
    layers, directions and steps) and Trace.tensors stays empty: memory stays flat; a
    records.RecordBatches receives them a batch (a RecordTable) at a time.
    observers receive every step's gate activations block by block (see forward()), beside
    the gate-health monitor that every trace runs. source names where given weights came
    from (a file's path) for the document's ``weights.source``: 'in memory' when not given;
    'seeded' when weights is None (they are drawn here) or is init_weights(config). module
    names the module of that file (``weights.module``). maps keeps every gate and state over
    time in at most map_rows rows (Trace.maps, the heatmaps): None keeps them when they are
    small (state_maps.auto_rows), True always, False never.
    """
    if config is None:
        config = _config_of(weights, x)
    selection = prepared(config, steps, samples, max_memory, keep_values, sink is None)
    samples = min(samples, widest_tensor(config))  # more than any tensor holds shows them all
    if weights is None:
        weights, source = init_weights(config), SEEDED
    elif weights.config is not config and weights.config != config:
        weights = _rebuilt(weights, config)
    xa = _input_array(config, x)
    x_finite = all_finite(xa)  # now, while x is in cache: the pass leaves it cold
    monitor = HealthMonitor(config)
    state_maps = _maps(config, maps, map_rows, max_memory)
    if state_maps is not None:
        observers = [*observers, state_maps.observe]

    def observe(layer: int, direction: str, steps: Sequence[int], block: FloatArray) -> None:
        for observer in observers:
            observer(layer, direction, steps, block)

    recorder = _recorder(config, samples, selection.steps, keep_values, sink, bool(hooks))
    on_block = _blocks(recorder, state_maps) if isinstance(recorder, BlockRecorder) else None
    if isinstance(recorder, Recorder):
        hooks = [*hooks, recorder, *([state_maps.hook] if state_maps is not None else [])]
    # NaN and Inf are counted and located by the trace; NumPy's warnings would only repeat it
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        output, states = forward(
            weights, xa, h0, c0, hooks=hooks, observer=observe if observers else None,
            on_block=on_block, health=monitor,
        )  # fmt: skip
    h_n, c_n = states if isinstance(states, tuple) else (states, None)
    tensors: Sequence[TensorRecord] = [] if sink is not None else recorder.table  # sorted
    return Trace(
        config=config,
        selection=selection,
        samples=samples,
        parameters=parameters(config),
        param_count=param_count(config),
        tensors=tensors,
        weights=weights,
        output=output,
        h_n=h_n,
        c_n=c_n,
        values=recorder.values,
        health=_health(monitor, xa, x_finite, h0, c0, config, output),  # built on read
        source=IN_MEMORY if source is None else source,
        module=module,
        maps=state_maps,
    )


def _maps(config: LSTMConfig, maps: bool | None, rows: int, max_memory: int) -> StateMaps | None:
    """The maps trace(maps=) asks for: rows checked, their memory counted when asked for
    (an automatic trace keeps small ones only)."""
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise SelectionError(f"map_rows must be a whole number >= 1, got {rows!r}")
    if maps is None:
        rows = auto_rows(config, rows)
        return StateMaps(config, rows) if rows else None
    if not maps:
        return None
    rows = min(rows, config.seq_len)
    config.check_memory(max_memory, extra=rows * map_columns(config) * 8)
    return StateMaps(config, rows)


def _blocks(recorder: BlockRecorder, state_maps: StateMaps | None) -> Callable[[StepBlock], None]:
    """on_block: the recorder's, and the maps' states when kept."""
    if state_maps is None:
        return recorder

    def both(block: StepBlock) -> None:
        recorder(block)
        state_maps.on_block(block)

    return both


def _input_array(config: LSTMConfig, x: ArrayLike | None) -> FloatArray:
    """x in config's dtype, (B, T, I) or (T, I) as config says; the seeded input if None."""
    if type(x) is np.ndarray and x.dtype == config.dtype:
        # nothing to cast (the common case, a pass's own input); a subclass (np.matrix, whose
        # rows stay 2-d) goes through asarray, as any other array-like, to a plain array
        xa = x
    else:
        with np.errstate(over="ignore"):  # float64 1e300 cast to float32 is inf: health says so
            xa = init_input(config) if x is None else np.asarray(x, dtype=config.dtype)
    batch = () if config.batch is None else (config.batch,)
    expected = (*batch, config.seq_len, config.input_size)
    if xa.shape != expected:
        raise ConfigError(f"x must have shape {expected} for this configuration, got {xa.shape}")
    return xa


def _recorder(
    config: LSTMConfig,
    samples: int,
    steps: Sequence[int],
    keep_values: bool,
    sink: Callable[[TensorRecord], None] | RecordBatches | None,
    hooked: bool,
) -> Recorder | BlockRecorder:
    """Without user hooks nothing can change a value, so every hook point is read from the
    blocks of the plain loop (BlockRecorder); a user's hooks may replace values, so then the
    recorder is a hook too, after them (Recorder), and sees what they made."""
    if hooked:
        return Recorder(config, samples, steps, keep_values, sink)
    return BlockRecorder(config, samples, steps, keep_values, sink)


def _config_of(weights: LSTMWeights | None, x: ArrayLike | None) -> LSTMConfig:
    """trace(weights=w, x=x): the weights' configuration, with T and the batch from x
    ((B, T, I) or (T, I)); without x, the weights' own."""
    if weights is None:
        raise ConfigError("trace() needs a config, or weights to take it from")
    if x is None:
        return weights.config
    shape = np.shape(x)
    if len(shape) not in (2, 3):
        raise ConfigError(f"x must be (T, I) or (B, T, I), got shape {shape}")
    batch = shape[0] if len(shape) == 3 else None
    return replace(weights.config, seq_len=shape[-2], batch=batch)


#: the fields that describe the input, not the weights: a trace may change them
_INPUT_FIELDS = ("seq_len", "batch", "seed")


def _rebuilt(weights: LSTMWeights, config: LSTMConfig) -> LSTMWeights:
    """The same weights under config, which may differ in T, the batch and the seed only."""
    old = weights.config
    differ = [
        f.name
        for f in fields(config)
        if f.name not in _INPUT_FIELDS and getattr(config, f.name) != getattr(old, f.name)
    ]
    if differ:
        raise ConfigError(
            "the weights were built for a different configuration ("
            + ", ".join(f"{n} {getattr(old, n)} != {getattr(config, n)}" for n in differ)
            + ")"
        )
    return LSTMWeights(config, weights.layers)


def _health(
    monitor: HealthMonitor,
    x: FloatArray,
    x_finite: bool,
    h0: ArrayLike | None,
    c0: ArrayLike | None,
    config: LSTMConfig,
    output: FloatArray,
) -> Callable[[], Report]:
    """The monitor's report, to build when read, with NaN or Inf that entered through x
    (x_finite: whether it is all finite), h0 or c0 located now (the arrays are not kept),
    and one that only the output holds (a projection's W_hr)."""
    monitor.note_inputs(
        x,
        None if h0 is None else np.asarray(h0, dtype=config.dtype),
        None if c0 is None else np.asarray(c0, dtype=config.dtype),
        config.seq_len,
        x_finite,
    )
    monitor.note_output(output)
    return monitor.report
