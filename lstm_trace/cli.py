"""The command line: argv -> LSTMConfig -> trace -> renderer -> stdout.

This is the only module that prints or chooses exit codes. stdout carries the answer only;
errors go to stderr as one line, with exit status 2 for a usage mistake and 1 for a failed
check or an unreadable file. Never a traceback for a user's mistake.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from typing import Annotated

import typer
from rich.console import Console

from . import __version__
from .config import DEFAULT_MAX_MEMORY, LSTMConfig, format_bytes, parse_bytes
from .errors import LSTMTraceError

# Config fields and trace options as the user typed them, for error messages.
OPTION_NAMES = {
    "input_size": "--input",
    "hidden_size": "--hidden",
    "seq_len": "--seq-len",
    "batch": "--batch",
    "num_layers": "--layers",
    "bidirectional": "--direction",
    "proj_size": "--proj",
    "dtype": "--dtype",
    "seed": "--seed",
    "max_memory": "--max-memory",
    "samples": "--samples",
    "steps": "--steps",
    "format": "--format",
}


class Direction(str, Enum):
    uni = "uni"
    bi = "bi"


class Format(str, Enum):
    table = "table"
    tree = "tree"
    json = "json"


class DType(str, Enum):
    float32 = "float32"
    float64 = "float64"


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


@app.callback(invoke_without_command=True)
def main_command(
    ctx: typer.Context,
    input_size: Annotated[int, typer.Option("--input", "-i", help="Input features I of x_t.")] = 32,
    hidden_size: Annotated[
        int, typer.Option("--hidden", "-H", help="Hidden units H of every gate.")
    ] = 70,
    seq_len: Annotated[int, typer.Option("--seq-len", "-T", help="Sequence length T.")] = 3,
    batch: Annotated[
        int | None,
        typer.Option("--batch", "-B", help="Batch size; omit for unbatched input (T, I)."),
    ] = None,
    num_layers: Annotated[int, typer.Option("--layers", "-L", help="Stacked layers.")] = 1,
    direction: Annotated[
        Direction | None,
        typer.Option("--direction", help="uni (default) or bi.", case_sensitive=False),
    ] = None,
    bidirectional: Annotated[
        bool, typer.Option("--bidirectional", help="Shorthand for --direction bi.")
    ] = False,
    proj_size: Annotated[
        int,
        typer.Option("--proj", help="PyTorch proj_size: h_t = W_hr (o_t * tanh(C_t)); 0 is off."),
    ] = 0,
    dtype: Annotated[DType, typer.Option("--dtype", help="Floating-point type.")] = DType.float32,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the weights and the input.")] = 0,
    steps: Annotated[
        str | None,
        typer.Option(
            "--steps",
            help="Steps to show: all, a list (0,2,-1) or a range (1:4). "
            "Default: every step of a short sequence, else the first and last.",
        ),
    ] = None,
    samples: Annotated[
        int, typer.Option("--samples", help="Values shown per tensor (0: none).")
    ] = 4,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    as_json: Annotated[bool, typer.Option("--json", help="Shorthand for --format json.")] = False,
    max_memory: Annotated[
        str,
        typer.Option(
            "--max-memory", help="Refuse configurations whose arrays would need more than this."
        ),
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
    from .render import render_json, render_table, render_tree
    from .trace import trace

    if bidirectional and direction is Direction.uni:
        raise LSTMTraceError("--bidirectional contradicts --direction uni; give one of them")
    if as_json and fmt not in (Format.table, Format.json):
        raise LSTMTraceError(f"--json contradicts --format {fmt.value}; give one of them")
    config = LSTMConfig(
        input_size=input_size,
        hidden_size=hidden_size,
        seq_len=seq_len,
        batch=batch,
        num_layers=num_layers,
        bidirectional=bidirectional or direction is Direction.bi,
        proj_size=proj_size,
        dtype=dtype.value,
        seed=seed,
    )
    result = trace(config, steps=steps, samples=samples, max_memory=parse_bytes(max_memory))
    if as_json or fmt is Format.json:
        sys.stdout.write(render_json(result))
        sys.stdout.flush()
        return
    # NO_COLOR (https://no-color.org) means no escape codes at all, bold included.
    plain = bool(os.environ.get("NO_COLOR"))
    console = Console(highlight=False, color_system=None if plain else "auto")
    console.print(render_tree(result) if fmt is Format.tree else render_table(result))


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
