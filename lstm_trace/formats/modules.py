"""A file's recurrent modules: what a reader finds, and which one a trace takes.

A module is one recurrent layer object as its framework holds it: an nn.LSTM or nn.GRU with
all its layers, an nn.LSTMCell or nn.GRUCell, one Keras recurrent layer (a Bidirectional and
its two halves are one), one ONNX LSTM or GRU node. A stacked module is a chain of a file's
modules of one size with nothing between them (a Keras Sequential of stacked LSTMs), traced
as one multi-layer module; its parts are named.

Every reader gives a file's Contents: its modules, each with its tensors in one framework's
layout (PyTorch names without a prefix, or Keras layers) and the architecture they imply,
and what the file holds that is not traced (an embedding, an optimizer's state, an nn.RNN).
pick_module chooses the one a trace takes: the module named, else the file's only module
(or the stacked module that holds all of them); anything else is a usage error listing the
names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from numpy.typing import NDArray

from ..errors import ConfigError, FileError
from ..frameworks import Architecture, KerasLayer
from .layer_kinds import not_traced

#: the kinds of module, as inspect names them
MODULE_KINDS = ("lstm", "lstm_cell", "peephole_lstm", "gru", "gru_cell")


def module_kind(arch: Architecture, cell: bool = False) -> str:
    """'lstm', 'lstm_cell', 'peephole_lstm', 'gru' or 'gru_cell' of an architecture (cell:
    an nn.LSTMCell or nn.GRUCell, a Keras cell, stepped by its framework one call at a time)."""
    if arch.peepholes:
        return "peephole_lstm"
    return arch.cell + ("_cell" if cell else "")


@dataclass(frozen=True)
class Untraced:
    """Something a file holds that is not traced: a tensor, a layer, an entry of a checkpoint.

    what says what it is, in a few words ('tensor (1000, 32)', 'nn.RNN: no gates, 2,080
    parameters', 'int', 'argparse.Namespace, not unpickled')."""

    name: str
    what: str


class Named(NamedTuple):
    """What a reader of named tensors gives: {name: array}, the dtypes as stored (bfloat16
    is read as float32, and said), and what the file holds that is not a tensor."""

    arrays: dict[str, NDArray[Any]]
    dtypes: list[str]
    untraced: tuple[Untraced, ...] = ()


@dataclass(frozen=True)
class Module:
    """One recurrent module of a file: its tensors in one framework's layout, and its facts.

    pytorch: nn.LSTM's or nn.GRU's names without a prefix (weight_ih_l0, weight_peep_l0, ...)
    and PyTorch's layout, for the readers of PyTorch names, own names and ONNX; keras: the
    layers as frameworks.from_keras takes them. Exactly one of the two is set.
    """

    name: str
    kind: str
    #: 'pytorch', 'keras' or 'onnx': the framework the file is in
    framework: str
    architecture: Architecture
    pytorch: dict[str, NDArray[Any]] | None = None
    keras: list[KerasLayer] | None = None
    #: facts a Keras model's config adds (return_sequences, go_backwards, seq_len, ...)
    keras_config: dict[str, Any] | None = None
    #: what the user should know about how the module was read (shown on stderr)
    notes: tuple[str, ...] = ()
    #: facts the file cannot tell, only assumed, with the values an option may give instead
    assumed: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    #: a stacked module's parts, bottom first (empty for a module of the file's own)
    parts: tuple[str, ...] = ()
    #: the dtype the tensors are stored in ('float32', 'bfloat16', ...), for inspect
    stored_dtype: str | None = None
    #: initial states the file holds (ONNX's initial_h, initial_c), as lstm-trace's h0/c0:
    #: (layers * D, [B,] H_out) and (layers * D, [B,] H)
    initial: dict[str, NDArray[Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Contents:
    """Everything a reader found in a file: its modules, in file order, and the rest."""

    path: Path
    modules: tuple[Module, ...]
    untraced: tuple[Untraced, ...] = ()
    #: notes about the whole file (a half-precision file's)
    notes: tuple[str, ...] = ()

    def names(self) -> list[str]:
        return [m.name for m in self.modules]


def default_module(contents: Contents) -> Module | None:
    """The module traced without --module: the only one, or the stacked module made of all
    the others; None when the choice is the user's."""
    own = [m for m in contents.modules if not m.parts]
    stacks = [m for m in contents.modules if m.parts]
    if len(own) == 1 and not stacks:
        return own[0]
    whole = [m for m in stacks if set(m.parts) == {o.name for o in own}]
    return whole[0] if len(whole) == 1 else None


#: modules named in a message; a file of more is listed in full by inspect
LISTED = 8


def listed(contents: Contents) -> str:
    """'encoder.lstm (lstm), decoder.gru (gru_cell)': the modules, for a message; the first
    LISTED of a file of more, and how many more, so that the message stays one short line."""
    shown = ", ".join(f"{m.name} ({m.kind})" for m in contents.modules[:LISTED])
    more = len(contents.modules) - LISTED
    if more <= 0:
        return shown
    return f"{shown} and {more:,} more (lstm-trace inspect {contents.path} lists them)"


def shape_text(shape: tuple[int, ...]) -> str:
    """'(10, 32)', '(3)', or 'scalar': a tensor's shape as inspect and the notes say it."""
    return "(" + ", ".join(map(str, shape)) + ")" if shape else "scalar"


def _nothing_traced(contents: Contents) -> str:
    """Why a file without modules cannot be traced: the plain RNN it holds, if any."""
    rnn = next((u for u in contents.untraced if "no gates" in u.what), None)
    if rnn is None:
        return "no recurrent module that lstm-trace traces"
    own = rnn.what.startswith(("nn.", "ONNX"))  # a Keras layer's says only its class
    return not_traced(("an " if own else "a Keras ") + rnn.what)


def pick_module(contents: Contents, name: str | None, how: str = "--module NAME") -> Module:
    """The module named, else the default. A file without a module that lstm-trace traces
    is a FileError (exit 1); a name that is not there, or several modules and none named
    (how says how to name one), a ConfigError (exit 2) listing the names."""
    path = contents.path
    if not contents.modules:
        raise FileError(f"{path}: {_nothing_traced(contents)}")
    if name is None:
        chosen = default_module(contents)
        if chosen is None:
            raise ConfigError(
                f"{path} holds {len(contents.modules)} recurrent modules: {listed(contents)}; "
                f"say which with {how}"
            )
        return chosen
    for module in contents.modules:
        if module.name == name:
            return module
    raise ConfigError(f"{path}: no module {name!r}; its modules are {listed(contents)}")
