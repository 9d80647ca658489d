"""What a cell is: the one description of a recurrence's gates, states, hook points and weights.

Every shape in lstm-trace follows from a cell's gate count G, as nn.RNNBase's ``mode`` sets it
(G = 4 for the LSTM, 3 for the GRU): a layer and direction stores w_ih (G*H, I_k), w_hh
(G*H, H_out), b_ih and b_hh (G*H,), in PyTorch's row order of the gates. Each cell module
(lstm.py, gru.py) describes its gates, hook points, equations, parameters and counts, and
holds its step arithmetic; everything else asks the cell (config.cell, cells.cell_of).

No I/O, nothing about how results are shown.
"""

from __future__ import annotations

import functools
import math
import operator
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:  # annotations only: config imports the cells to validate against them
    from ..config import LSTMConfig

FloatArray = NDArray[np.floating]

#: the forward pass works on blocks of steps of about this many numbers (16 MB in float32):
#: one matrix product for an ordinary sequence, bounded memory for a very long one.
PROJECTION_BLOCK = 1 << 22

#: Calls the hooks of one layer and direction at one hook point: (name, step, value (B, n))
#: -> (the value or its replacement, whether it was replaced).
Fire = Callable[[str, int, FloatArray], tuple[FloatArray, bool]]
#: Receives a block's steps (visiting order) and its gate activations (c, B, G*H).
Watch = Callable[[Sequence[int], FloatArray], None]
#: Receives a block's steps and every array a StepBlock holds (cell.forward makes one).
Whole = Callable[..., None]


class HealthWatch(Protocol):
    """Gate health of one layer and direction (health.py's monitor, through forward()): the
    running totals a kernel counts a block into, and every block with what it counted."""

    def totals(self, dtype: np.dtype[Any]) -> tuple[tuple[np.ndarray[Any, Any], ...],
                                                    NDArray[np.int64]]:  # fmt: skip
        """The kernel's health arrays but the steps' segments (below, above, lo, hi, n_low,
        n_high, n_bad, rows: kernel.c's lstm()), and (T,) each step's segment, for values of
        dtype."""
        ...

    def __call__(self, steps: Sequence[int], block: FloatArray, bad: int | None) -> None:
        """A block's activations (c, B, G*H), rows in time order, steps in visiting order;
        bad the NaN and Inf the kernel counted in it, None where it did not count it (the
        NumPy path)."""
        ...


@dataclass(frozen=True)
class Gate:
    """One gate: its hook point, the walkthrough's letter (W_f, b_f) and symbol (f_t), its
    activation, and its block's position in each framework's order (PyTorch's is its index
    in Cell.gates)."""

    name: str  # the hook point: 'input_gate'
    letter: str  # 'f'
    symbol: str  # 'f_t'
    activation: str  # 'sigmoid' or 'tanh'
    keras: int  # position in Keras's kernel columns
    onnx: int  # position in ONNX's W, R and B


@dataclass(frozen=True)
class ParamCount:
    """Parameter counts as each framework reports them; None where it has no such layer."""

    keras: int | None
    pytorch: int | None
    onnx: int | None = None


def sigmoid(z: FloatArray) -> FloatArray:
    """1 / (1 + e^-z), written as the equations read (for the reference steps)."""
    out: FloatArray = 1.0 / (1.0 + np.exp(-z))
    return out


class Cell(ABC):
    """A recurrent cell: everything that is specific to it, described once."""

    #: 'lstm' or 'gru': config.cell and the JSON document's config.cell
    name: str
    #: 'LSTM' or 'GRU', for messages
    title: str
    #: the gates in PyTorch's row order
    gates: tuple[Gate, ...]
    #: each framework's order of the gate blocks in its own letters: {"pytorch": "i f g o"}
    orders: ClassVar[dict[str, str]]
    #: the gates' hook points in the walkthrough's order (reports, tables)
    report_order: tuple[str, ...]
    #: every hook point, in the order they fire within a step
    hook_points: tuple[str, ...]
    #: hook points whose value is another's at the step visited before (h_prev: hidden_state)
    previous: ClassVar[dict[str, str]]
    #: the configuration fields only this cell has (a GRU's reset_after): the JSON document
    #: writes null for them under another cell
    options: tuple[str, ...]
    #: the hook points of the states carried from step to step besides h: the LSTM's
    #: C_(t-1), none for the GRU
    carried: tuple[str, ...]

    @property
    def n_gates(self) -> int:
        """G: the gate blocks of w_ih's rows."""
        return len(self.gates)

    def gate(self, name: str) -> Gate:
        """The gate of a hook point name ('input_gate') or letter ('i')."""
        for g in self.gates:
            if name in (g.name, g.letter):
                return g
        raise KeyError(name)

    def gate_index(self, name: str) -> int:
        """The gate's block in PyTorch's row order (and in a StepBlock's gates)."""
        return self.gates.index(self.gate(name))

    @abstractmethod
    def validate(self, config: LSTMConfig) -> None:
        """Refuse options this cell has no use for (ConfigError)."""

    @abstractmethod
    def point_size(self, name: str, layer: int, config: LSTMConfig) -> int:
        """n, the size of a hook point's value ((n,) unbatched, (B, n) batched)."""

    @abstractmethod
    def symbol_and_equation(
        self, name: str, layer: int, direction: str, config: LSTMConfig
    ) -> tuple[str, str]:
        """The walkthrough's symbol and equation of a hook point."""

    @abstractmethod
    def parameters(self, config: LSTMConfig, layer: int) -> list[tuple[str, tuple[int, ...]]]:
        """The weights of one layer and direction in the walkthrough's notation, with shapes."""

    @abstractmethod
    def stored(self, config: LSTMConfig, layer: int) -> dict[str, tuple[int, ...]]:
        """The tensors one layer and direction keeps (PyTorch's layout, DirectionWeights'
        fields) with their shapes; biases are kept (zero) without bias."""

    @abstractmethod
    def locations(self, config: LSTMConfig, layer: int, direction: str) -> list[dict[str, str]]:
        """Where each walkthrough weight of one layer and direction lives in PyTorch, Keras
        and ONNX: [{"name", "pytorch", "keras", "onnx"}, ...]."""

    @abstractmethod
    def keras_shapes(self, config: LSTMConfig, layer: int) -> dict[str, tuple[int, ...]]:
        """Keras's variables of one layer and direction with their shapes (whether Keras has
        such a layer at all is unsupported()'s to say)."""

    def unsupported(self, config: LSTMConfig) -> dict[str, str]:
        """The frameworks that have no such layer, each with why: {"keras": "Keras has no
        LSTM with a projection"}. Their counts are None, and converting to them is refused.
        The cell's own reasons (cell_unsupported), and one of every cell: a stack of Keras
        go_backwards layers is no reverse-only stack, since each layer hands the next its
        output in reading order, so that the second runs forward in time."""
        out = self.cell_unsupported(config)
        if config.direction == "reverse" and config.num_layers > 1:
            out.setdefault(
                "keras",
                "a stack of Keras go_backwards layers reverses the sequence again at every "
                "layer, so it is no reverse-only stack",
            )
        return out

    @abstractmethod
    def cell_unsupported(self, config: LSTMConfig) -> dict[str, str]:
        """The frameworks that have no such layer of this cell, each with why."""

    def biases_apart(self, config: LSTMConfig) -> bool:
        """Whether the cell's two biases act apart (a GRU's b_hn sits inside the reset gate's
        product), so that no framework may store their sum: Keras's bias is then (2, G*H)."""
        bias = self.keras_shapes(config, 0).get("bias", ())
        return len(bias) == 2

    def digest_line(self, config: LSTMConfig) -> str:
        """The weights digest's line naming the cell and its form (digest.py), after the
        first: 'cell gru\\n'. The LSTM has none, so its digests stay as they were before
        there were cells."""
        return f"cell {self.name}\n"

    @abstractmethod
    def parameter_of(self, config: LSTMConfig, field: str, row: int) -> str:
        """The walkthrough's name of a stored tensor's row: ('w_ih', 75) -> 'W_f' (H = 70);
        a GRU's n rows of w_hh -> 'W_hn'."""

    @abstractmethod
    def bias_note(self, config: LSTMConfig) -> str:
        """What the frameworks' biases are, for the counts line (a layer with biases)."""

    @abstractmethod
    def onnx_shapes(self, config: LSTMConfig, layer: int) -> dict[str, tuple[int, ...]]:
        """ONNX's inputs of one layer and direction (W, R, B, P), one direction's share."""

    def pytorch_shapes(self, config: LSTMConfig, layer: int) -> dict[str, tuple[int, ...]]:
        """What PyTorch stores of one layer and direction: the stored tensors, without biases
        when bias is off (zero biases are lstm-trace's own, for the pass)."""
        stored = self.stored(config, layer)
        return {f: s for f, s in stored.items() if config.bias or not f.startswith("b_")}

    def counts(self, config: LSTMConfig) -> ParamCount:
        """Parameters as PyTorch, Keras and ONNX count them: the elements of each one's
        tensors (pytorch_shapes, keras_shapes, onnx_shapes) over every layer and direction;
        None where the framework has no such layer (unsupported). Every layer above the first
        has the same shapes, so the sum is closed-form in the number of layers."""
        missing = self.unsupported(config)

        def total(shapes_of: Callable[[LSTMConfig, int], dict[str, tuple[int, ...]]]) -> int:
            first, above = (
                sum(math.prod(s) for s in shapes_of(config, k).values()) for k in (0, 1)
            )
            return config.num_directions * (first + (config.num_layers - 1) * above)

        return ParamCount(
            pytorch=None if "pytorch" in missing else total(self.pytorch_shapes),
            keras=None if "keras" in missing else total(self.keras_shapes),
            onnx=None if "onnx" in missing else total(self.onnx_shapes),
        )

    @abstractmethod
    def runner(self, config: LSTMConfig, w: Any, seq: FloatArray, out: FloatArray) -> Runner:
        """The recurrence of one layer and direction: w its DirectionWeights, seq (T, B, I_k),
        out the (T, B, H_out) view it writes h_t into."""

    @abstractmethod
    def reference_step(
        self,
        config: LSTMConfig,
        w: Any,
        x: FloatArray,
        h: FloatArray,
        states: tuple[FloatArray, ...],
    ) -> tuple[FloatArray, tuple[FloatArray, ...], dict[str, FloatArray]]:
        """One step written as the equations read, in float64 and without any of the fast
        loop's tricks: x (B, I_k), h (B, H_out), states the carried ones (B, H) ->
        (h_t, carried states, every hook point's value). The definition the tests hold the
        fast loop and the hooked step to."""

    def row_values(self, block: Any, row: int, before: int) -> list[FloatArray]:
        """Every hook point's values at one row of a StepBlock, (1, B, n) views (concat a
        copy), in hook-point order; `before` is the row of the step visited just before it,
        outside the block for the block's first visited step (which reads h_before and the
        before states). block_values' numbers for a row, without copying them."""
        inside = 0 <= before < len(block.steps)
        read = {
            prev: _written(block, current)[before : before + 1]
            if inside
            else _read_before(block, prev)[None]
            for prev, current in self.previous.items()
        }
        return list(_points_of(self.hook_points)(self._values(block, slice(row, row + 1), read)))

    def block_values(
        self, block: Any, taken: Any, before: NDArray[np.int64]
    ) -> dict[str, FloatArray]:
        """Every hook point's values at rows `taken` of a StepBlock, (r, B, n), in visiting
        order; `before` holds the rows of the steps visited just before them: only the first
        visited can lie outside the block (its first step reads the block's h_before and
        before states). A state a step reads (h_prev, the LSTM's C_(t-1)) is the one the step
        visited before wrote (Cell.previous)."""
        outside = len(before) > 0 and not 0 <= int(before[0]) < len(block.steps)
        at = before
        if outside:
            at = before.copy()
            at[0] = 0  # any row: replaced below
        read = {}
        for prev, current in self.previous.items():
            read[prev] = _written(block, current)[at]
            if outside:
                read[prev][0] = _read_before(block, prev)
        return self._values(block, taken, read)

    def _values(self, block: Any, taken: Any, read: dict[str, FloatArray]) -> dict[str, FloatArray]:
        """Every hook point's values at rows `taken` of a StepBlock, given the states those
        steps read (read: h_prev, and the LSTM's c_prev, the same rows)."""
        x = block.x[taken]
        out: dict[str, FloatArray] = {"x": x, "hidden_state": block.hidden[taken], **read}
        for name, values in block.extra.items():
            out[name] = values[taken]
        out["concat"] = np.concatenate([read["h_prev"], x], axis=-1)
        gates = block.gates[taken]
        hs = gates.shape[-1] // self.n_gates
        for k, gate in enumerate(self.gates):
            out[gate.name] = gates[..., k * hs : (k + 1) * hs]
        return out


def _written(block: Any, name: str) -> FloatArray:
    """A StepBlock's rows of a state its steps write: hidden_state, or one of extra's."""
    written: FloatArray = block.hidden if name == "hidden_state" else block.extra[name]
    return written


def _read_before(block: Any, name: str) -> FloatArray:
    """The state the block's first visited step reads (B, n): h_before, or one of before's."""
    state: FloatArray = block.h_before if name == "h_prev" else block.before[name]
    return state


@functools.cache
def _points_of(names: tuple[str, ...]) -> Callable[[dict[str, FloatArray]], tuple[FloatArray, ...]]:
    """A dict's values at names, in that order, in one call (itemgetter: a hook point list)."""
    get = operator.itemgetter(*names)
    if len(names) == 1:  # itemgetter of one name gives the value, not a tuple of it
        return lambda d: (get(d),)
    return get


def pytorch_name(field: str, layer: int, direction: str) -> str:
    """('w_ih', 1, 'backward') -> 'weight_ih_l1_reverse', as nn.LSTM and nn.GRU name their
    parameters; a reverse-only layer's one direction is 'backward' too ('_reverse')."""
    kind, part = field.split("_")
    base = f"{'weight' if kind == 'w' else 'bias'}_{part}_l{layer}"
    return base + ("_reverse" if direction == "backward" else "")


def gate_slice(position: int, hidden: int, offset: int = 0) -> str:
    """2, 70 -> '140:210': the rows (PyTorch, ONNX) or columns (Keras) of the gate block at
    position, shifted by offset (ONNX's recurrent biases follow the input ones)."""
    start = position * hidden + offset
    return f"{start}:{start + hidden}"


def x_equation(layer: int, config: LSTMConfig) -> tuple[str, str]:
    """x's symbol and equation: the input at layer 0, the layer below's h_t above it."""
    if layer == 0:
        return "x_t", "input at step t"
    below = "[forward h_t, backward h_t]" if config.bidirectional else "h_t"
    return "x_t", f"{below} of layer {layer - 1}"


class Runner(ABC):
    """The recurrence of one layer and direction over a whole sequence."""

    @abstractmethod
    def run(
        self,
        h: FloatArray,
        states: tuple[FloatArray, ...],
        *,
        backward: bool,
        fire: Fire | None,
        active: frozenset[int] | None,
        watch: Watch | None = None,
        whole: Whole | None = None,
        health: HealthWatch | None = None,
    ) -> tuple[FloatArray, tuple[FloatArray, ...]]:
        """Step through time (T-1 down to 0 when backward); return the final (h, states).
        watch receives each block's gate activations, rows in time order, after any hook's
        replacement; whole receives (steps, x, gates, hidden, h_before, extra, before):
        extra and before are dicts of the cell's own arrays (StepBlock's fields); health
        receives each block first, with the gate health the kernel counted in it."""
