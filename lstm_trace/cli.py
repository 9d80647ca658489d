"""The command line: argv -> options and files -> LSTMConfig -> trace -> renderer -> stdout.

This is the only module that prints or chooses exit codes. stdout carries the answer only;
notes ("wrote ...") and errors go to stderr, errors as one line, with exit status 2 for a
usage mistake and 1 for a failed check or an unreadable file. Never a traceback for a user's
mistake.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from . import __version__
from .config import DEFAULT_MAX_MEMORY, format_bytes, parse_bytes
from .errors import LSTMTraceError
from .options import (
    FILES,
    OUTPUT,
    BatchOpt,
    BidirectionalOpt,
    DirectionOpt,
    DTypeOpt,
    HiddenOpt,
    InputOpt,
    LayersOpt,
    ProjOpt,
    SeedOpt,
    SeqLenOpt,
    WeightsOpt,
    config_options,
)
from .resolve import OPTION_NAMES

if TYPE_CHECKING:
    from .expect import Checker
    from .resolve import Resolved
    from .trace import TensorRecord, Trace


class Format(str, Enum):
    table = "table"
    tree = "tree"
    json = "json"
    jsonl = "jsonl"
    markdown = "markdown"


app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Trace every gate of an LSTM: shapes, equations and values, as a table, a tree or JSON.",
)

DEFAULT_MAX_MEMORY_TEXT = format_bytes(DEFAULT_MAX_MEMORY).replace(" ", "")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lstm-trace {__version__}")
        raise typer.Exit()


def note(message: str) -> None:
    """A diagnostic for the user, on stderr, never mixed into the answer."""
    sys.stderr.write(f"lstm-trace: {message}\n")


@app.callback(invoke_without_command=True)
def main_command(
    ctx: typer.Context,
    input_size: InputOpt = None,
    hidden_size: HiddenOpt = None,
    seq_len: SeqLenOpt = None,
    batch: BatchOpt = None,
    num_layers: LayersOpt = None,
    direction: DirectionOpt = None,
    bidirectional: BidirectionalOpt = False,
    proj_size: ProjOpt = None,
    dtype: DTypeOpt = None,
    seed: SeedOpt = 0,
    weights: WeightsOpt = None,
    x_path: Annotated[
        Path | None,
        typer.Option(
            "--x",
            help="Input .npy, (B, T, I) or (T, I); sets T and the batch.",
            rich_help_panel=FILES,
        ),
    ] = None,
    h0_path: Annotated[
        Path | None,
        typer.Option("--h0", help="Initial h .npy, (D*layers, [B,] H_out).", rich_help_panel=FILES),
    ] = None,
    c0_path: Annotated[
        Path | None,
        typer.Option("--c0", help="Initial C .npy, (D*layers, [B,] H).", rich_help_panel=FILES),
    ] = None,
    seq_first: Annotated[
        bool,
        typer.Option(
            "--seq-first",
            help="--x is (T, B, I) and --dump's output (T, B, ...), as batch_first=False.",
            rich_help_panel=FILES,
        ),
    ] = False,
    dump: Annotated[
        Path | None,
        typer.Option(
            "--dump", help="Write output, h_n and c_n to this .npz.", rich_help_panel=FILES
        ),
    ] = None,
    dump_all: Annotated[
        bool,
        typer.Option(
            "--dump-all", help="With --dump: every traced tensor too.", rich_help_panel=FILES
        ),
    ] = False,
    save_weights: Annotated[
        Path | None,
        typer.Option(
            "--save-weights",
            help="Save the weights of this run (PyTorch names; Keras for .weights.h5).",
            rich_help_panel=FILES,
        ),
    ] = None,
    steps: Annotated[
        str | None,
        typer.Option(
            "--steps",
            help="Steps to show: all, a list (0,2,-1) or a range (1:4). "
            "Default: every step of a short sequence, else the first and last.",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    samples: Annotated[
        int,
        typer.Option(
            "--samples", help="Values shown per tensor (0: none).", rich_help_panel=OUTPUT
        ),
    ] = 4,
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="Output format.", rich_help_panel=OUTPUT)
    ] = Format.table,
    as_json: Annotated[
        bool, typer.Option("--json", help="Shorthand for --format json.", rich_help_panel=OUTPUT)
    ] = False,
    expect: Annotated[
        list[str] | None,
        typer.Option(
            "--expect",
            help="NAME=VALUE, repeatable: output=10,140, W_f=70,102, concat@1=*,210, "
            "params.keras=28840. Exit 1 if any fails.",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    frameworks: Annotated[
        bool,
        typer.Option(
            "--frameworks",
            help="Show where each weight lives in PyTorch, Keras and ONNX (on with --weights).",
            rich_help_panel=OUTPUT,
        ),
    ] = False,
    max_memory: Annotated[
        str,
        typer.Option("--max-memory", help="Refuse runs whose arrays would need more than this."),
    ] = DEFAULT_MAX_MEMORY_TEXT,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Trace an LSTM. With no options: the walkthrough's input 32, hidden 70."""
    if ctx.invoked_subcommand is not None:
        return
    from .expect import Checker, parse
    from .resolve import resolve

    if as_json and fmt not in (Format.table, Format.json):
        raise LSTMTraceError(f"--json contradicts --format {fmt.value}; give one of them")
    if dump_all and dump is None:
        raise LSTMTraceError("--dump-all needs --dump FILE.npz")
    fmt = Format.json if as_json else fmt
    limit = parse_bytes(max_memory)
    expectations = [parse(e) for e in expect or []]
    options = config_options(
        input_size=input_size,
        hidden_size=hidden_size,
        seq_len=seq_len,
        batch=batch,
        num_layers=num_layers,
        direction=direction,
        bidirectional=bidirectional,
        proj_size=proj_size,
        dtype=dtype,
        seed=seed,
    )
    run = resolve(options, weights, x_path, h0_path, c0_path, seq_first)
    checker = Checker(run.config, expectations) if expectations else None
    result = _run_and_render(run, fmt, steps, samples, limit, dump_all, frameworks, checker)
    if dump is not None:
        from .io import write_npz

        write_npz(dump, result.arrays(seq_first=seq_first, every_tensor=dump_all))
        note(f"wrote {dump}")
    if save_weights is not None:
        from .io import suffix_of, write_weights

        framework = "keras" if suffix_of(save_weights) == ".weights.h5" else "pytorch"
        write_weights(save_weights, result.weights, framework)
        note(f"wrote {save_weights} ({framework} names)")
    if checker is not None:
        outcomes = checker.finish(result.outputs, result.param_count)
        failed = [o for o in outcomes if not o.passed]
        for o in failed:
            note(o.message)
        if failed:
            note(f"{len(failed)} of {len(outcomes)} expectations failed")
            raise typer.Exit(1)
        note(f"all {len(outcomes)} expectations passed")


def _run_and_render(
    run: Resolved,
    fmt: Format,
    steps: str | None,
    samples: int,
    limit: int,
    keep_values: bool,
    frameworks: bool,
    checker: Checker | None,
) -> Trace:
    """Trace and print in the chosen format; JSONL streams each record as it is computed."""
    from .render import render_json, render_markdown, render_table, render_tree
    from .trace import prepare, trace

    if fmt is Format.jsonl:
        from .render.jsonl import header_line, outputs_line, tensor_line

        out = sys.stdout
        out.write(header_line(run.config, prepare(run.config, steps, samples, limit)))
        out.flush()  # the header is known before the pass: show it at once
        count = 0

        def sink(record: TensorRecord) -> None:
            nonlocal count
            out.write(tensor_line(record))
            count += 1
            if checker is not None:
                checker.observe(record)

        result = trace(
            run.config,
            run.weights,
            run.x,
            h0=run.h0,
            c0=run.c0,
            steps=steps,
            samples=samples,
            max_memory=limit,
            keep_values=keep_values,
            sink=sink,
        )
        out.write(outputs_line(result.outputs, count, result.health))
        out.flush()
        return result
    result = trace(
        run.config,
        run.weights,
        run.x,
        h0=run.h0,
        c0=run.c0,
        steps=steps,
        samples=samples,
        max_memory=limit,
        keep_values=keep_values,
    )
    if checker is not None:
        checker.observe_all(result.tensors)
    show_frameworks = frameworks or run.weights_file is not None
    if fmt is Format.json:
        sys.stdout.write(render_json(result))
    elif fmt is Format.markdown:
        sys.stdout.write(render_markdown(result, frameworks=show_frameworks))
    else:
        # NO_COLOR (https://no-color.org) means no escape codes at all, bold included.
        plain = bool(os.environ.get("NO_COLOR"))
        console = Console(highlight=False, color_system=None if plain else "auto")
        if fmt is Format.tree:
            console.print(render_tree(result))
        else:
            console.print(render_table(result, frameworks=show_frameworks))
    sys.stdout.flush()
    return result


def _error_line(exc: LSTMTraceError) -> str:
    flag = OPTION_NAMES.get(exc.option or "")
    if flag and not exc.message.startswith(flag):
        return f"lstm-trace: error: {flag}: {exc.message}"
    return f"lstm-trace: error: {exc.message}"


def _usage_message(exc: typer.TyperException) -> str:
    """Typer's message on one line, naming the value where Typer's own words do not."""
    message = " ".join(exc.format_message().split()).replace("Value error, ", "")
    errors = getattr(exc.__cause__, "errors", None)  # Typer validates values with pydantic
    if callable(errors):
        first = errors()[0]
        if str(first.get("type", "")).startswith("int_"):
            where = message.split(": ", 1)[0]
            message = f"{where}: {first.get('input')!r} is not a whole number"
    return message


def main(argv: list[str] | None = None) -> int:
    """Run the CLI on argv (sys.argv[1:] when None) and return the exit status."""
    args = sys.argv[1:] if argv is None else argv
    try:
        rv = app(args=args, prog_name="lstm-trace", standalone_mode=False)
    except LSTMTraceError as exc:
        sys.stderr.write(_error_line(exc) + "\n")
        return exc.exit_code
    except typer.Abort:
        sys.stderr.write("lstm-trace: aborted\n")
        return 130
    except typer.TyperException as exc:
        # Typer's usage errors (bad integers, unknown choices or options): exit status 2.
        sys.stderr.write(f"lstm-trace: error: {_usage_message(exc)} (see lstm-trace --help)\n")
        return int(getattr(exc, "exit_code", 2))
    except MemoryError:
        sys.stderr.write(
            "lstm-trace: error: out of memory; try smaller sizes or a lower --max-memory\n"
        )
        return 1
    return rv if isinstance(rv, int) else 0


from . import commands as _commands  # noqa: E402,F401  (registers the subcommands)


def run() -> None:
    """Console-script entry point."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # `lstm-trace ... | head`: the reader left; exit quietly as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 0
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
