"""Layers, directions and hooks: a recurrent layer over a sequence, with a hook on every gate.

For each layer k and each of its directions (config.directions), the cell (cells/: its
equations and step arithmetic) runs over the sequence; layer k > 0 reads the layer below's
output, (T, B, D*H_out). Hooks see every hook point of the cell (config.kind.hook_points)
at every step; observers see the gate activations of every block of steps; on_block sees
everything a block computed (a StepBlock).

This module does no I/O and knows nothing of how results are shown.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike

from .cells import LSTM
from .cells.base import FloatArray, HealthWatch, Runner
from .config import LSTMConfig
from .weights import DirectionWeights, LSTMWeights

#: The LSTM's hook points, in the order they fire within a step (a GRU's:
#: cells.GRU.hook_points, or config.kind.hook_points for any configuration).
HOOK_POINTS: tuple[str, ...] = LSTM.hook_points


# eq=False: arrays have no == to compare by (compared by identity)
@dataclass(frozen=True, eq=False)
class HookEvent:
    """What a hook sees: where it is, and the (read-only) value: unbatched (n,), batched
    (B, n), n being the size of the hook point (I_k for x, H_out + I_k for concat, H_out for
    h_prev and hidden_state, H for the rest)."""

    name: str  # one of the cell's hook points
    layer: int
    direction: str  # "forward" or "backward"
    step: int  # the time index t of the input the cell reads, in both directions
    value: FloatArray


#: A hook observes an event and returns None, or returns an array (anything broadcastable to
#: the value's shape) that replaces the value downstream.
Hook = Callable[[HookEvent], "ArrayLike | None"]


#: Receives, for each layer, direction and block of steps, the gate activations of those
#: steps, (c, B, G*H) in PyTorch's gate order (LSTM [i, f, g, o], GRU [r, z, n]), rows in
#: time order, and the steps in visiting order: a cheap way to summarise every step (gate
#: health, heatmaps) without hooks. The block is read-only and valid only during the call
#: (its buffer holds the next block after): copy to keep.
BlockObserver = Callable[[int, str, Sequence[int], "FloatArray"], None]


# eq=False: arrays have no == to compare by (compared by identity)
@dataclass(frozen=True, eq=False)
class StepBlock:
    """Everything the pass computed over one block of steps of one layer and direction: enough
    to summarise every hook point at every step without a hook (the trace's fast path; the
    cell's block_values reads it).

    Arrays are (c, B, n), rows in time order, read-only, and valid only during the call
    (their buffers are reused for the next block). gates holds the activations in PyTorch's
    order; extra the cell's own per-step values (the LSTM's C_t, the GRU's reset_hidden);
    before the carried states the first visited step reads besides h (the LSTM's C_(t-1)).
    """

    layer: int
    direction: str
    steps: Sequence[int]  # visiting order
    x: FloatArray  # (c, B, I_k) the layer's input
    gates: FloatArray  # (c, B, G*H) activations
    hidden: FloatArray  # (c, B, H_out) h_t
    h_before: FloatArray  # (B, H_out) the state the first visited step reads
    extra: Mapping[str, FloatArray]  # (c, B, H) each
    before: Mapping[str, FloatArray]  # (B, H) each


class GateHealth(Protocol):
    """Gate health over a pass (health.HealthMonitor): a HealthWatch for each layer and
    direction, which sees every block first, with what the compiled kernel counted of it."""

    def at(self, layer: int, direction: str) -> HealthWatch:
        """The watch of layer and direction."""
        ...


class HookError(ValueError):
    """A hook returned something that cannot replace the value it was given."""


def forward(
    weights: LSTMWeights,
    x: ArrayLike,
    h0: ArrayLike | None = None,
    c0: ArrayLike | None = None,
    hooks: Sequence[Hook] = (),
    hook_steps: Collection[int] | None = None,
    observer: BlockObserver | None = None,
    on_block: Callable[[StepBlock], None] | None = None,
    health: GateHealth | None = None,
) -> tuple[FloatArray, tuple[FloatArray, FloatArray]] | tuple[FloatArray, FloatArray]:
    """Run the recurrent layer over a sequence, firing hooks at every hook point.

    x: (B, T, I) batch first, or (T, I) unbatched.
    h0: (D*L, B, H_out) or (D*L, H_out); c0 (LSTM only): (D*L, B, H) or (D*L, H); zeros when
    omitted. hooks: called in order at every hook point; hook_steps limits them to those
    time steps (all steps when None). With no hooks the loop is the plain one and pays
    nothing. observer, when given, receives every step's gate activations block by block;
    on_block receives every block's StepBlock (not with hooks). Both see read-only views
    valid only during the call. health (trace()'s gate health) sees every block before the
    observer, with the counts the compiled kernel made as it ran the block's steps.

    Returns what PyTorch returns with batch_first=True: an LSTM (output, (h_n, c_n)), a GRU
    (output, h_n); output (B, T, D*H_out) or (T, D*H_out); h_n (D*L, B, H_out); c_n
    (D*L, B, H) (without the B axis when unbatched). h_n[k*D + d] is layer k, direction d.
    """
    if on_block is not None and hooks:
        # a StepBlock is read from the plain loop: it cannot show what hooks replaced
        raise ValueError("on_block cannot be combined with hooks")
    cfg = weights.config
    dtype = np.dtype(cfg.dtype)
    seq, unbatched = _sequence(cfg, x, c0, dtype)  # (T, B, I)
    steps, batch = seq.shape[0], seq.shape[1]
    d_count, h_out = cfg.num_directions, cfg.h_out
    n_states = cfg.num_layers * d_count
    h_init = _initial_state(h0, "h0", (n_states, batch, h_out), unbatched, dtype)
    c_init = _initial_state(c0, "c0", (n_states, batch, cfg.hidden_size), unbatched, dtype)
    h_n, c_n = np.empty_like(h_init), np.empty_like(c_init)
    active = None if hook_steps is None else frozenset(hook_steps)
    watchers = _Watchers(hooks, active, observer, on_block, health)

    layer_in = seq
    for k, layer in enumerate(weights.layers):
        # Stored batch first, the layout returned, and used through a (T, B, ...) view: the
        # output is never copied, which matters for long sequences.
        result = np.empty((batch, steps, d_count * h_out), dtype=dtype)
        layer_out = result.transpose(1, 0, 2)  # (T, B, D*H_out) view
        for d, w in enumerate(layer):
            s = k * d_count + d
            out = layer_out[:, :, d * h_out : (d + 1) * h_out]
            h_n[s], carried = watchers.run(
                cfg, k, d, w, layer_in, out, h_init[s], c_init[s], unbatched
            )
            if carried:
                c_n[s] = carried[0]
        layer_in = layer_out

    if unbatched:
        result, h_n, c_n = result[0], h_n[:, 0, :].copy(), c_n[:, 0, :].copy()
    return (result, (h_n, c_n)) if cfg.kind.carried else (result, h_n)


def _sequence(
    cfg: LSTMConfig, x: ArrayLike, c0: ArrayLike | None, dtype: np.dtype[np.floating]
) -> tuple[FloatArray, bool]:
    """x as (T, B, I) in the run's dtype, and whether it was unbatched; refuses a shape that
    is not the configuration's, and a c0 for a cell without one."""
    xa = np.asarray(x, dtype=dtype)
    if xa.ndim not in (2, 3) or xa.shape[-1] != cfg.input_size or xa.shape[-2] == 0:
        raise ValueError(
            f"x must be (T, {cfg.input_size}) or (B, T, {cfg.input_size}) with T >= 1, "
            f"got shape {xa.shape}"
        )
    if c0 is not None and not cfg.kind.carried:
        raise ValueError(f"c0: a {cfg.kind.title} has no cell state, only h0")
    unbatched = xa.ndim == 2
    seq: FloatArray = xa[:, None, :] if unbatched else xa.transpose(1, 0, 2)
    return seq, unbatched


@dataclass(frozen=True)
class _Watchers:
    """Who sees a pass: hooks (at the steps in active, None for all), the observer of gate
    blocks, the receiver of whole StepBlocks, gate health."""

    hooks: Sequence[Hook]
    active: frozenset[int] | None
    observer: BlockObserver | None
    on_block: Callable[[StepBlock], None] | None
    health: GateHealth | None

    def run(
        self,
        cfg: LSTMConfig,
        k: int,
        d: int,
        w: DirectionWeights,
        seq: FloatArray,
        out: FloatArray,
        h: FloatArray,
        c: FloatArray,
        unbatched: bool,
    ) -> tuple[FloatArray, tuple[FloatArray, ...]]:
        """Layer k's direction d over seq (T, B, I_k) into out (T, B, H_out): (h_n, carried)."""
        name, cell = cfg.directions[d], cfg.kind
        runner: Runner = cell.runner(cfg, w, seq, out)
        observer, on_block = self.observer, self.on_block
        return runner.run(
            h,
            (c,) if cell.carried else (),
            backward=name == "backward",
            fire=_Fire(self.hooks, k, name, unbatched) if self.hooks else None,
            active=self.active,
            watch=None if observer is None else partial(_observe, observer, k, name),
            whole=None if on_block is None else partial(_whole, on_block, k, name),
            health=None if self.health is None else self.health.at(k, name),
        )  # the runner's buffers and weight copies go before the next direction's come


def _whole(
    on_block: Callable[[StepBlock], None],
    layer: int,
    direction: str,
    steps: Sequence[int],
    x: FloatArray,
    gates: FloatArray,
    hidden: FloatArray,
    h_before: FloatArray,
    extra: Mapping[str, FloatArray],
    before: Mapping[str, FloatArray],
) -> None:
    """A runner's `whole` callback: the arrays of a StepBlock, made read-only."""
    on_block(
        StepBlock(
            layer, direction, steps, _read_only(x), _read_only(gates), _read_only(hidden),
            _read_only(h_before), {n: _read_only(a) for n, a in extra.items()},
            {n: _read_only(a) for n, a in before.items()},
        )
    )  # fmt: skip


def _observe(
    observer: BlockObserver, layer: int, direction: str, steps: Sequence[int], block: FloatArray
) -> None:
    observer(layer, direction, steps, _read_only(block))


def _read_only(a: FloatArray) -> FloatArray:
    """A view nobody can write through: blocks are shared by every observer and the pass."""
    view: FloatArray = a.view()
    view.flags.writeable = False
    return view


def _initial_state(
    value: ArrayLike | None,
    name: str,
    shape: tuple[int, int, int],
    unbatched: bool,
    dtype: np.dtype[np.floating],
) -> FloatArray:
    if value is None:
        return np.zeros(shape, dtype=dtype)
    a = np.asarray(value, dtype=dtype)
    want = (shape[0], shape[2]) if unbatched else shape
    if a.shape != want:
        raise ValueError(f"{name} must have shape {want}, got {a.shape}")
    # C order, whatever the caller's: the products then take the same BLAS path (and give the
    # same bits) for every layout of the same numbers; a copy only when needed
    ordered: FloatArray = np.ascontiguousarray(a[:, None, :] if unbatched else a)
    return ordered


class _Fire:
    """Calls the hooks for one layer and direction; applies replacements."""

    def __init__(self, hooks: Sequence[Hook], layer: int, direction: str, unbatched: bool):
        self.hooks, self.layer, self.direction, self.unbatched = hooks, layer, direction, unbatched

    def __call__(self, name: str, step: int, value: FloatArray) -> tuple[FloatArray, bool]:
        """value (B, n) -> (value or its replacement (B, n), whether it was replaced)."""
        replaced = False
        for hook in self.hooks:
            shown = value[0] if self.unbatched else value.view()
            shown.flags.writeable = False  # hooks replace by returning, never in place
            result = hook(HookEvent(name, self.layer, self.direction, step, shown))
            if result is None or result is shown:
                continue
            if np.shape(result) == shown.shape and np.array_equal(result, shown):
                continue  # the same values: keep the fast path and bit-identical results
            try:
                new = np.array(np.broadcast_to(result, shown.shape), dtype=value.dtype)
            except ValueError:
                raise HookError(
                    f"hook for {name!r} returned shape {np.shape(result)}, which does not "
                    f"fit {shown.shape}"
                ) from None
            value = new[None] if self.unbatched else new
            replaced = True
        return value, replaced
