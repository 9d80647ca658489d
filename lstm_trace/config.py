"""LSTMConfig: the configuration of a recurrent layer (an LSTM or a GRU) and its input,
validated once, with user-facing error messages.

Notation (ARCHITECTURE.md): I = input size, H = hidden units, H_out = proj_size if set else H,
D = 2 if bidirectional else 1 (a reverse-only layer has one direction), T = sequence length,
B = batch (None: unbatched input).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

from .cells import Cell, cell_of
from .cells.base import PROJECTION_BLOCK
from .errors import ConfigError, MemoryLimitError

DType = Literal["float32", "float64"]
DTYPES: tuple[str, ...] = ("float32", "float64")

#: the default memory limit: far above any configuration a tracer is used for, far below
#: what would make the machine swap.
DEFAULT_MAX_MEMORY = 4 * 1024**3
#: what the interpreter, NumPy, Rich and Typer take before any array (measured: 39 to 41 MB)
BASE_BYTES = 43 * 1024**2


def _positive_int(name: str, value: object, what: str) -> None:
    # bool is an int subclass; True as a size is a mistake, not a 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{what} must be a whole number >= 1, got {value!r}", option=name)
    if value < 1:
        raise ConfigError(f"{what} must be a whole number >= 1, got {value}", option=name)


#: --direction: one direction (forward in time), both, or backward in time only
DIRECTION_NAMES: dict[str, tuple[str, ...]] = {
    "uni": ("forward",),
    "bi": ("forward", "backward"),
    "reverse": ("backward",),
}


def _direction(bidirectional: bool | None, direction: str | None) -> str:
    """The direction LSTMConfig(bidirectional=..., direction=...) means; a contradiction
    (bidirectional=True with direction 'uni') is refused."""
    if bidirectional is None:
        return "uni" if direction is None else direction
    if not isinstance(bidirectional, bool):
        raise ConfigError(
            f"bidirectional must be True or False, got {bidirectional!r}", option="bidirectional"
        )
    said = "bi" if bidirectional else "uni"
    if direction is not None and direction != said and (bidirectional or direction == "bi"):
        raise ConfigError(
            f"bidirectional={bidirectional} contradicts direction={direction!r}",
            option="direction",
        )
    return direction or said


@dataclass(frozen=True, init=False)
class LSTMConfig:
    """The configuration of a (possibly stacked, possibly bidirectional) recurrent layer and
    its input: an LSTM (cell 'lstm', the default) or a GRU (cell 'gru').

    Defaults are the classic walkthrough: x_t of 32, 70 hidden units, so X = [h_(t-1), x_t]
    has 102 entries and every gate weight is 70 x 102. ``bidirectional=True`` is the same as
    ``direction="bi"``.
    """

    input_size: int = 32  # I: features of x_t
    hidden_size: int = 70  # H: units of every gate and of C_t
    seq_len: int = 3  # T: time steps
    batch: int | None = None  # B; None means unbatched input of shape (T, I)
    num_layers: int = 1  # stacked layers; layer k > 0 reads D * H_out features
    proj_size: int = 0  # PyTorch's proj_size: h_t = W_hr (o_t * tanh(C_t)), 0 = off
    bias: bool = True  # False: no b_f ... b_o (PyTorch bias=False, Keras use_bias=False)
    dtype: DType = "float32"
    seed: int = 0  # seeds the weights and the input
    cell: str = "lstm"  # 'lstm' or 'gru' (cells/)
    direction: str = "uni"  # 'uni', 'bi' (D = 2) or 'reverse' (backward in time only)
    peepholes: bool = False  # LSTM: i and f read C_(t-1), o reads C_t (ONNX's P)
    reset_after: bool = True  # GRU: the reset gate after the recurrent product (PyTorch's)

    def __init__(
        self,
        input_size: int = 32,
        hidden_size: int = 70,
        seq_len: int = 3,
        batch: int | None = None,
        num_layers: int = 1,
        bidirectional: bool | None = None,
        proj_size: int = 0,
        bias: bool = True,
        dtype: DType = "float32",
        seed: int = 0,
        *,
        cell: str = "lstm",
        direction: str | None = None,
        peepholes: bool = False,
        reset_after: bool = True,
    ) -> None:
        # written out, not generated: bidirectional (the first API's flag) is a way to say
        # direction, not a field of its own, so that replace() has one source of truth
        given = {
            "input_size": input_size, "hidden_size": hidden_size, "seq_len": seq_len,
            "batch": batch, "num_layers": num_layers, "proj_size": proj_size, "bias": bias,
            "dtype": dtype, "seed": seed, "cell": cell,
            "direction": _direction(bidirectional, direction), "peepholes": peepholes,
            "reset_after": reset_after,
        }  # fmt: skip
        for name, value in given.items():
            object.__setattr__(self, name, value)
        self._validate()

    def _validate(self) -> None:
        _positive_int("input_size", self.input_size, "input size")
        _positive_int("hidden_size", self.hidden_size, "hidden units")
        _positive_int("seq_len", self.seq_len, "sequence length")
        _positive_int("num_layers", self.num_layers, "number of layers")
        if self.batch is not None:
            _positive_int("batch", self.batch, "batch size")
        if self.direction not in DIRECTION_NAMES:
            raise ConfigError(
                f"direction must be one of {', '.join(DIRECTION_NAMES)}, got {self.direction!r}",
                option="direction",
            )
        for name in ("bias", "peepholes", "reset_after"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(
                    f"{name} must be True or False, got {getattr(self, name)!r}", option=name
                )
        p = self.proj_size
        if isinstance(p, bool) or not isinstance(p, int) or p < 0 or p >= self.hidden_size:
            raise ConfigError(
                f"proj size must be a whole number from 0 (off) to {self.hidden_size - 1} "
                f"(below the hidden units, as PyTorch requires), got {p!r}",
                option="proj_size",
            )
        if self.dtype not in DTYPES:
            raise ConfigError(
                f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}", option="dtype"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be a whole number >= 0, got {self.seed!r}", option="seed")
        self.kind.validate(self)

    @property
    def kind(self) -> Cell:
        """The cell's description (cells/): its gates, hook points, equations, counts, step."""
        return cell_of(self.cell)

    @property
    def bidirectional(self) -> bool:
        """True when both directions run (direction 'bi')."""
        return self.direction == "bi"

    @property
    def directions(self) -> tuple[str, ...]:
        """The directions each layer runs, in PyTorch's order: ('forward',), ('forward',
        'backward') or ('backward',)."""
        return DIRECTION_NAMES[self.direction]

    @property
    def num_directions(self) -> int:
        """D: 2 when bidirectional, else 1 (a reverse-only layer has one direction)."""
        return len(self.directions)

    @property
    def h_out(self) -> int:
        """H_out: the size of h_t (proj_size when projecting, else H)."""
        return self.proj_size or self.hidden_size

    @property
    def output_size(self) -> int:
        """D * H_out: the features of each step of a layer's output."""
        return self.num_directions * self.h_out

    def layer_input_size(self, layer: int) -> int:
        """I_layer: I for layer 0, D * H_out for every layer above it."""
        return self.input_size if layer == 0 else self.output_size

    @property
    def itemsize(self) -> int:
        """Bytes per element of the configured dtype."""
        return 4 if self.dtype == "float32" else 8

    def weight_elements(self) -> int:
        """Numbers the pass holds in weights, the cell's stored tensors (cells/: PyTorch's
        layout, with zero biases kept without bias) over every layer and direction. Closed
        form: every layer above the first has the same shapes, so an absurd --layers is
        refused at once, not after a long loop."""
        return _weight_elements(self)

    def estimate_bytes(self, extra: int = 0) -> int:
        """Peak bytes of a traced run: a fixed base for the interpreter and libraries, the
        weights, the input (drawn in float64 when seeded, then cast), the layer outputs
        (the one being written and the one below it, each (B, T, D*H_out)), and the blocks of
        steps the pass works on (of at most PROJECTION_BLOCK gate values: the buffer that
        holds a block's projection, then its gate activations; its carried states; a copy of
        its input), and one direction's weights again (the pass may scale a copy). extra:
        what the trace adds (records, kept values), from trace.prepare.
        """
        t, b, h = self.seq_len, self.batch or 1, self.hidden_size
        g = self.kind.n_gates * h  # G*H: the gates of a step
        block_steps = min(t, max(1, PROJECTION_BLOCK // (b * g)))
        widest = max(self.input_size, self.output_size)
        elements = self.weight_elements()
        elements += g * (widest + self.h_out)  # one direction's weights, copied to scale
        elements += t * b * self.input_size  # x
        elements += (2 if self.num_layers > 1 else 1) * t * b * self.output_size  # outputs
        elements += block_steps * b * (g + h + widest)  # gates, a state, input
        drawn = t * b * self.input_size * 8  # the float64 draw of a seeded input
        return BASE_BYTES + elements * self.itemsize + drawn + extra

    def check_memory(self, limit: int = DEFAULT_MAX_MEMORY, extra: int = 0) -> None:
        """Refuse, before allocating anything, a run that needs more than limit bytes."""
        need = self.estimate_bytes(extra)
        if need > ABSURD_BYTES:  # no machine has it: suggesting a --max-memory would mislead
            raise MemoryLimitError(
                f"this run needs more than {format_bytes(ABSURD_BYTES)} of memory, more than "
                "any machine has; use smaller sizes",
                option="max_memory",
            )
        if need > limit:
            suggestion = format_bytes(int(need * 1.1)).replace(" ", "")
            raise MemoryLimitError(
                f"this run needs about {format_bytes(need)} of memory, more than the limit of "
                f"{format_bytes(limit)}; raise it with --max-memory {suggestion} if you mean it",
                option="max_memory",
            )


_UNITS = ("B", "KB", "MB", "GB", "TB", "PB", "EB")
#: past this (1 PB) a run is refused outright, whatever --max-memory says
ABSURD_BYTES = 1 << 50


@functools.lru_cache(maxsize=64)  # a frozen config: every trace of it asks again
def _weight_elements(config: LSTMConfig) -> int:
    """LSTMConfig.weight_elements."""
    first = sum(_elements(s) for s in config.kind.stored(config, 0).values())
    above = sum(_elements(s) for s in config.kind.stored(config, 1).values())
    return config.num_directions * (first + (config.num_layers - 1) * above)


def _elements(shape: tuple[int, ...]) -> int:
    count = 1
    for n in shape:
        count *= n
    return count


def format_bytes(n: int) -> str:
    """1536 -> '1.5 KB' (binary multiples, the way memory is sold)."""
    value = float(n)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def parse_bytes(text: str) -> int:
    """'4GB', '512 MB', '1.5g', '1000000' -> bytes (binary multiples)."""
    s = text.strip().upper().replace(" ", "").removesuffix("IB").removesuffix("B")
    scale = 1
    for power, unit in enumerate(("K", "M", "G", "T", "P", "E"), start=1):
        if s.endswith(unit):
            s, scale = s[:-1], 1024**power
            break
    try:
        value = float(s)
    except ValueError:
        raise ConfigError(
            f"memory limit must be a size such as 4GB or 512MB, got {text!r}", option="max_memory"
        ) from None
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"memory limit must be positive, got {text!r}", option="max_memory")
    return int(value * scale)
