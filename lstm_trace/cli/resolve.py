"""From what the user gave (options and files) to what the tracer runs: config, weights, x.

An option the user did not give is None here. Each configuration value comes from, in order:
the option, the weights file, the input file, the walkthrough's default. An option that
contradicts a file is an error naming both values; nothing is silently overridden.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..cells import CELLS, cell_of
from ..config import ABSURD_BYTES, DEFAULT_MAX_MEMORY, LSTMConfig, format_bytes
from ..errors import ConfigError, FileError, LSTMTraceError
from ..weights import LSTMWeights

if TYPE_CHECKING:
    from ..formats.reading import WeightsFile

#: Config fields as the user typed them, for messages.
OPTION_NAMES = {
    "input_size": "--input",
    "hidden_size": "--hidden",
    "seq_len": "--seq-len",
    "batch": "--batch",
    "num_layers": "--layers",
    "direction": "--direction",
    "cell": "--cell",
    "reset_after": "--reset-after",
    "peepholes": "--peepholes",
    "proj_size": "--proj",
    "bias": "--bias",
    "dtype": "--dtype",
    "seed": "--seed",
    "max_memory": "--max-memory",
    "samples": "--samples",
    "steps": "--steps",
}

_WORDS = {
    "input_size": "input size",
    "hidden_size": "hidden size",
    "num_layers": "number of layers",
    "direction": "direction",
    "cell": "cell",
    "reset_after": "reset_after",
    "peepholes": "peepholes",
    "proj_size": "proj size",
    "seq_len": "sequence length",
    "batch": "batch size",
}

#: the configuration fields that are one cell's own (proj_size, peepholes, reset_after)
CELL_OPTIONS = {name for cell in CELLS.values() for name in cell.options}

#: what a field is when neither an option nor a file sets it: LSTMConfig's own defaults
DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(LSTMConfig)}


def check_option_pairs(
    *,
    fmt: str,
    as_json: bool = False,
    dump: Path | None = None,
    dump_all: bool = False,
    gate: str | None = None,
    x_path: Path | None = None,
    seq_first: bool = False,
    save_weights: Path | None = None,
    save_as: str | None = None,
) -> None:
    """The trace's options that need another or contradict one (a usage error, before any
    file is read). fmt is --format's value ('table', ...); save_as is --to's."""
    if as_json and fmt not in ("table", "json"):
        raise LSTMTraceError(f"--json contradicts --format {fmt}; give one of them")
    if dump_all and dump is None:
        raise LSTMTraceError("--dump-all needs --dump FILE.npz")
    if gate is not None and fmt != "heatmap":
        raise LSTMTraceError("--gate chooses what --format heatmap shows; add --format heatmap")
    if seq_first and x_path is None:
        raise LSTMTraceError("--seq-first says how --x is laid out; it needs --x FILE.npy")
    if save_as is not None and save_weights is None:
        raise LSTMTraceError("--to says how --save-weights writes; it needs --save-weights FILE")


@dataclass(frozen=True)
class Resolved:
    """Everything a trace run needs; weights and x are None when seeded."""

    config: LSTMConfig
    weights: LSTMWeights | None
    weights_file: WeightsFile | None
    x: NDArray[Any] | None
    h0: NDArray[Any] | None
    c0: NDArray[Any] | None


def _show(field: str, value: Any) -> str:
    return str(value)


def _typed(field: str, given: Any, typed: Mapping[str, str]) -> str:
    """The option as the user typed it: '--hidden 64', '--bidirectional', '--no-bias'."""
    if field in typed:
        return typed[field]
    if field in ("bias", "reset_after", "peepholes"):
        name = OPTION_NAMES[field]
        return name if given else name.replace("--", "--no-", 1)
    return f"{OPTION_NAMES[field]} {_show(field, given)}"


def _fact(field: str, fact: Any) -> str:
    """What a file says: 'whose hidden size is 70', 'which has no biases'."""
    if field == "bias":
        return "which has biases" if fact else "which has no biases"
    return f"whose {_WORDS[field]} is {_show(field, fact)}"


def _merge(
    options: Mapping[str, Any],
    source: str,
    facts: Mapping[str, Any],
    values: dict[str, Any],
    typed: Mapping[str, str],
) -> None:
    """Fill values from facts, refusing an option that contradicts them."""
    for field, fact in facts.items():
        if fact is None:
            continue
        given = options.get(field)
        if given is not None and given != fact:
            raise ConfigError(
                f"{_typed(field, given, typed)} contradicts {source}, {_fact(field, fact)}; "
                "drop the option or use other files",
                option=field,
            )
        values.setdefault(field, fact)


def resolve(
    options: Mapping[str, Any],
    weights_path: Path | None = None,
    x_path: Path | None = None,
    h0_path: Path | None = None,
    c0_path: Path | None = None,
    seq_first: bool = False,
    typed: Mapping[str, str] | None = None,
    *,
    max_memory: int = DEFAULT_MAX_MEMORY,
    check_run: bool = True,
    module: str | None = None,
    names: Mapping[str, str] | None = None,
) -> Resolved:
    """Combine options (None: not given) with the files they name into a runnable config.

    typed: per field, the option as the user typed it where two options set the field
    (options.typed_options), for messages. Every file's declared size is checked against
    max_memory before it is read, and so is the configuration the files imply, before any
    weight is built: a size that comes from a file and is too large is the file's fault
    (FileError), not --max-memory's. check_run False skips the latter (explain computes
    nothing). module picks the weights file's module (None: its only one); names renames
    its tensors first (--names)."""
    typed = typed or {}
    if weights_path is None and (module or names):
        raise ConfigError(
            f"{'--module' if module else '--names'} picks from a weights file; give --weights"
        )
    values: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
    wf = _read_weights(weights_path, max_memory, module, names) if weights_path else None
    if wf is not None:
        _merge_file(wf, options, values, typed)
    x = None
    if x_path is not None:
        x = _input(x_path, seq_first, max_memory)
        facts_x = {
            "seq_len": x.shape[-2],
            "batch": x.shape[0] if x.ndim == 3 else None,
            "input_size": x.shape[-1],
        }
        if x.ndim == 2 and options.get("batch") is not None:
            raise ConfigError(
                f"--batch {options['batch']} contradicts {x_path}, which is unbatched"
            )
        _merge(options, str(x_path), facts_x, values, typed)  # an option it contradicts first
        if values["input_size"] != facts_x["input_size"]:  # then the weights it does not fit
            raise FileError(
                f"{x_path} has {facts_x['input_size']} features per step, but the "
                f"{cell_of(values.get('cell') or 'lstm').title} reads {values['input_size']}"
            )
    if wf is not None and wf.keras_config and wf.keras_config.get("seq_len"):
        values.setdefault("seq_len", wf.keras_config["seq_len"])  # the model's Input((T, I))
    for field, default in DEFAULTS.items():
        values.setdefault(field, default)
    try:
        config = LSTMConfig(**values)
    except ConfigError as exc:
        given = exc.option is not None and options.get(exc.option) is not None
        source = wf.path if wf is not None else x_path
        if given or source is None:
            raise
        raise FileError(f"{source}: {exc.message}") from None
    if check_run:
        check_files_memory(config, options, [p for p in (weights_path, x_path) if p], max_memory)
    weights = wf.build(config) if wf is not None else None
    initial = {} if wf is None else wf.initial  # what the file holds (ONNX's initial_h/_c)
    h0 = _state(h0_path, "h0", config, config.h_out, max_memory, initial.get("h0"))
    if c0_path is not None and not config.kind.carried:
        raise LSTMTraceError(f"--c0: a {config.kind.title} has no cell state; give --h0 only")
    c0 = _state(c0_path, "c0", config, config.hidden_size, max_memory, initial.get("c0"))
    return Resolved(config, weights, wf, x, h0, c0)


def _merge_file(
    wf: WeightsFile, options: Mapping[str, Any], values: dict[str, Any], typed: Mapping[str, str]
) -> None:
    """Fill values from what the weights file says (its architecture, the batch of the
    initial states it holds, its dtype), refusing an option that contradicts it."""
    facts = wf.architecture.as_options()
    dtype = facts.pop("dtype")
    for name, allowed in wf.assumed.items():  # what the file only assumed: an option says
        if options.get(name) in allowed:
            facts.pop(name)
    for name in CELL_OPTIONS - set(cell_of(facts["cell"]).options):  # not the file's
        facts.pop(name, None)  # cell's to say: an option for it is the cell's error
    _merge(options, str(wf.path), facts, values, typed)
    held = wf.initial.get("h0")
    if held is not None and held.ndim == 3:  # an initial state of a batch: the batch
        _merge(options, f"{wf.path} (its initial h)", {"batch": held.shape[1]}, values, typed)
    if dtype is not None:
        values.setdefault("dtype", dtype)


def _read_weights(
    path: Path, max_memory: int, module: str | None, names: Mapping[str, str] | None
) -> WeightsFile:
    """The weights file's module; the readers (zip, HDF5 and torch glue, some 10 ms of
    imports) load only when a file is read, and the walkthrough reads none."""
    from ..formats.reading import read_weights  # lazy: see the docstring

    return read_weights(path, max_memory=max_memory, module=module, names=names)


def _read_array(path: Path, what: str, max_memory: int) -> NDArray[Any]:
    """An .npy input (x, h0 or c0); see _read_weights."""
    from ..formats.npz import read_array  # lazy: only for --x, --h0 and --c0

    return read_array(path, what, max_memory=max_memory)


def _input(path: Path, seq_first: bool, max_memory: int) -> NDArray[Any]:
    """--x: (B, T, I) batch first, (T, B, I) with seq_first (returned batch first), or (T, I)
    unbatched; no dimension empty."""
    x = _read_array(path, "x", max_memory)
    if x.ndim not in (2, 3):
        raise FileError(
            f"{path}: x must be (T, features) or "
            f"{'(T, batch, features)' if seq_first else '(batch, T, features)'}, "
            f"got shape {x.shape}"
        )
    if seq_first and x.ndim == 3:
        x = x.transpose(1, 0, 2)
    if 0 in x.shape:
        raise FileError(f"{path}: x has an empty dimension, shape {x.shape}")
    return x


_SIZES = ("input_size", "hidden_size", "seq_len", "batch", "num_layers", "proj_size")


def check_files_memory(
    config: LSTMConfig, options: Mapping[str, Any], files: list[Path], limit: int
) -> None:
    """The run's memory, before the weights are built. Over the limit even with every size
    the user gave put back to its default, it is the files' fault: a FileError naming them
    (exit status 1), not a hint to raise --max-memory (exit status 2). Without files the
    trace checks the run itself (explain, which computes nothing, never does)."""
    if not files or config.estimate_bytes() <= limit:
        return
    given = {f: DEFAULTS[f] for f in _SIZES if options.get(f) is not None}
    try:
        need = replace(config, **given).estimate_bytes()  # the files' sizes alone
    except ConfigError:
        need = config.estimate_bytes()
    if need <= limit:
        return  # the options' sizes make it too large: the trace says so (--max-memory)
    names = " and ".join(map(str, files))
    its = "its" if len(files) == 1 else "their"
    if need > ABSURD_BYTES:
        raise FileError(
            f"{names}: {its} sizes need more than {format_bytes(ABSURD_BYTES)} of memory, more "
            "than any machine has"
        )
    raise FileError(
        f"{names}: {its} sizes need about {format_bytes(need)} of memory, more than the limit "
        f"of {format_bytes(limit)} (--max-memory)"
    )


def _state(
    path: Path | None,
    name: str,
    config: LSTMConfig,
    size: int,
    limit: int,
    held: NDArray[Any] | None = None,
) -> NDArray[Any] | None:
    """An initial state: (D*layers, batch, size), or (D*layers, size) when unbatched; from
    path, else the one the weights file holds (held), else None (zeros)."""
    if path is None and held is None:
        return None
    a = _read_array(path, name, limit) if path is not None else held
    assert a is not None
    n = config.num_directions * config.num_layers
    want = (n, size) if config.batch is None else (n, config.batch, size)
    if a.shape != want:
        axes = (
            "D*layers",
            *(() if config.batch is None else ("batch",)),
            "H_out" if name == "h0" and config.proj_size else "H",
        )
        where = path if path is not None else f"the weights file's initial {name}"
        raise FileError(
            f"{where}: {name} must have shape {want} ({', '.join(axes)}) for this "
            f"{config.kind.title}, got {a.shape}"
        )
    return np.asarray(a, dtype=config.dtype)
