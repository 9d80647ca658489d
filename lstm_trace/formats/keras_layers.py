"""A Keras model's layers as a file's Contents: one module per recurrent layer, the stacks
of those that chain, and everything else untraced.

Given the model's graph (keras_graph.model_layers) and each recurrent layer's variables
(however the file stores them: a .keras archive by class counters, a legacy .h5 by layer
name), a traced layer (LSTM, GRU, RNN(LSTMCell), RNN(GRUCell), a Bidirectional of any) is a
module named as the config names it; a SimpleRNN, an Embedding, a Dense, ... is Untraced with
its class and parameter count; layers that only hand their input on at inference (InputLayer,
Dropout) are not listed.

Layers chain when one reads the other's output with nothing between but such hand-on layers,
each is called once, the lower returns its sequences, both are concat Bidirectionals or
neither is one, and their go_backwards and reset_after compose (keras_config.stack_facts);
a chain of one cell and size is also a stacked module 'lstm+lstm_1', the default when it
holds every recurrent layer of the file.

A mask (a Masking layer, an Embedding with mask_zero=True) that reaches a recurrent layer
makes Keras skip the masked steps, carrying the state over them: lstm-trace does not trace
that, and refuses the file naming both layers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import FileError
from ..frameworks import KerasLayer
from .keras_config import layer_facts, merge_note, recurrent, title
from .keras_graph import IDENTITY, GraphLayer
from .keras_modules import keras_module, stack_module, stack_name
from .modules import Contents, Module, Untraced

#: layers after which no mask goes on (they drop the time axis)
_MASK_STOPS = ("Flatten", "GlobalAveragePooling1D", "GlobalMaxPooling1D")


def graph_contents(
    path: Path,
    graph: list[GraphLayer],
    layers: Mapping[str, KerasLayer],
    params: Mapping[str, int],
    notes: tuple[str, ...] = (),
) -> Contents:
    """The Contents of a model: layers holds each traced layer's variables by its full name,
    params every other layer's parameter count."""
    check_masks(path, graph)
    modules: list[Module] = []
    untraced: list[Untraced] = []
    facts: dict[str, dict[str, Any]] = {}
    for gl in graph:
        kind = recurrent(gl.cls, gl.config)
        if kind == "traced":
            facts[gl.name] = layer_facts(
                path, gl.name, gl.cls, gl.config, gl.input_shape, layers[gl.name]
            )
            mode = facts[gl.name].get("merge_mode", "concat")
            own: tuple[str, ...] = ()
            if mode != "concat":
                own = (f"{path}: {merge_note(gl.name, mode)}",)
            own += _states(path, gl)
            modules.append(keras_module(path, gl.name, [layers[gl.name]], facts[gl.name], own))
        elif kind == "other":
            n = params.get(gl.name, 0)
            untraced.append(
                Untraced(gl.name, f"{title(gl.cls, gl.config)} (no gates; {n:,} parameters)")
            )
        elif gl.cls not in IDENTITY:
            n = params.get(gl.name, 0)
            untraced.append(Untraced(gl.name, f"{gl.cls} ({n:,} parameters)" if n else gl.cls))
    stacks, why = _stacks(path, graph, layers, facts)
    return Contents(path, (*modules, *stacks), tuple(untraced), notes + why)


def _states(path: Path, gl: GraphLayer) -> tuple[str, ...]:
    """The note for a recurrent layer given its initial state by the model (Keras 3:
    initial_state=; tf.keras 2: further inputs); any other tensor it is given is refused."""
    other = [k for k in gl.tensor_kwargs if k not in ("mask", "initial_state")]
    if other:
        raise FileError(
            f"{path}: layer {gl.name!r} is given {', '.join(other)} by the model; lstm-trace "
            "traces a recurrent layer given its input sequence and initial states only"
        )
    given = gl.kwargs_from if "initial_state" in gl.tensor_kwargs else gl.inputs[1:]
    if not given:
        return ()
    return (
        f"{path}: layer {gl.name!r} is given its initial state by the model (from "
        f"{', '.join(dict.fromkeys(given))}); lstm-trace starts it from zeros unless "
        "--h0/--c0 give that state",
    )


def check_masks(path: Path, graph: list[GraphLayer]) -> None:
    """Refuse a mask that reaches a traced recurrent layer, naming both layers."""
    masked: dict[str, str] = {}  # layer -> the layer whose mask its output carries
    for gl in graph:
        source = next((masked[i] for i in gl.inputs if i in masked), None)
        if "mask" in gl.tensor_kwargs:
            source = source or "(a mask given to the call)"
        if gl.cls == "Masking" or (gl.cls == "Embedding" and gl.config.get("mask_zero")):
            source = gl.name
        kind = recurrent(gl.cls, gl.config)
        if source is not None and kind == "traced":
            raise FileError(
                f"{path}: layer {source!r} masks the steps that layer {gl.name!r} reads "
                "(Masking, or Embedding with mask_zero=True): Keras skips masked steps and "
                "carries the state over them, which lstm-trace does not trace"
            )
        sequences = _returns_sequences(gl) if kind else True
        if source is not None and sequences and gl.cls not in _MASK_STOPS:
            masked[gl.name] = source


def _returns_sequences(gl: GraphLayer) -> bool:
    inner = gl.config.get("layer") if gl.cls == "Bidirectional" else gl.config
    return bool((inner or {}).get("return_sequences", False))


def _source(gl: GraphLayer, by_name: Mapping[str, GraphLayer]) -> GraphLayer | None:
    """The layer whose output gl reads, past layers that hand it on; None if several."""
    inputs = gl.inputs
    while len(inputs) == 1:
        below = by_name[inputs[0]]
        if below.cls not in IDENTITY:
            return below
        inputs = below.inputs
    return None


def _links(graph: list[GraphLayer], facts: Mapping[str, dict[str, Any]]) -> dict[str, str]:
    """{lower: upper} for each pair of traced layers that chain (one reads the other)."""
    by_name = {gl.name: gl for gl in graph}
    uppers: dict[str, list[str]] = {}
    for gl in graph:
        if gl.name not in facts:
            continue
        below = _source(gl, by_name)
        if below is None or below.name not in facts or gl.calls != 1 or below.calls != 1:
            continue
        if gl.tensor_kwargs or facts[below.name]["return_state"]:
            continue  # given states, or handing on its states: not a plain stack
        if "merge_mode" in facts[gl.name] or "merge_mode" in facts[below.name]:
            continue  # only concat Bidirectionals hand on what lstm-trace stacks
        uppers.setdefault(below.name, []).append(gl.name)
    # a layer read by two recurrent layers starts no stack: a stack is one line of layers
    return {lower: ups[0] for lower, ups in uppers.items() if len(ups) == 1}


def _stacks(
    path: Path,
    graph: list[GraphLayer],
    layers: Mapping[str, KerasLayer],
    facts: Mapping[str, dict[str, Any]],
) -> tuple[list[Module], tuple[str, ...]]:
    """The stacked modules of the chains of traced layers, and why a chain is not one."""
    links = _links(graph, facts)
    starts = [n for n in links if n not in links.values()]
    stacks: list[Module] = []
    why: list[str] = []
    for start in starts:
        chain = [start]
        while chain[-1] in links:
            chain.append(links[chain[-1]])
        for names, reason in _runs(path, chain, layers, facts):
            if isinstance(reason, Module):
                stacks.append(reason)
            elif reason:
                why.append(f"{path}: {stack_name(names)} is not traced as one stack: {reason}")
    return stacks, tuple(why)


def _runs(
    path: Path,
    chain: list[str],
    layers: Mapping[str, KerasLayer],
    facts: Mapping[str, dict[str, Any]],
) -> list[tuple[list[str], Module | str]]:
    """A chain cut where its layers stop stacking (another cell or size, a go_backwards
    above the first): each run of two or more layers with its stacked module, and each cut
    with why ('' when the layers plainly differ)."""

    def attempt(names: list[str]) -> tuple[Module | None, str]:
        return stack_module(path, names, [layers[n] for n in names], [facts[n] for n in names])

    out: list[tuple[list[str], Module | str]] = []
    run = chain[:1]
    for name in chain[1:]:
        module, reason = attempt([*run, name])
        if module is not None:
            run.append(name)
            continue
        if len(run) > 1:
            out.append((run, attempt(run)[0] or ""))
        if reason:
            out.append(([*run, name], reason))
        run = [name]
    if len(run) > 1:
        out.append((run, attempt(run)[0] or ""))
    return out
