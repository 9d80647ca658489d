"""The command line: argv -> options and files -> LSTMConfig -> trace -> renderer -> stdout.

This is the only module that prints or chooses exit codes. stdout carries the answer only;
notes ("wrote ...") and errors go to stderr, errors as one line, with exit status 2 for a
usage mistake and 1 for a failed check or an unreadable file. Never a traceback for a user's
mistake.
"""

# No `from __future__ import annotations`: Typer reads each command's annotations, and as
# strings they would be compiled and evaluated at every start (4 of the walkthrough's ms).

import os
import re
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ..config import DEFAULT_MAX_MEMORY, format_bytes, parse_bytes
from ..entry import quiet_stdout, serve
from ..errors import LSTMTraceError, ReaderGone
from ..formats.weight_kinds import SaveAs, to_help
from .console import note
from .options import (
    DEFAULT_HIDDEN,
    DEFAULT_INPUT,
    DEFAULT_LAYERS,
    DEFAULT_PROJ,
    DEFAULT_SEQ_LEN,
    FILES,
    OUTPUT,
    BatchOpt,
    BiasOpt,
    BidirectionalOpt,
    C0Opt,
    CellKind,
    CellOpt,
    Direction,
    DirectionOpt,
    DType,
    DTypeOpt,
    DumpAllOpt,
    DumpOpt,
    ExpectOpt,
    ExportHtmlOpt,
    ExportSvgOpt,
    FrameworksOpt,
    GateOpt,
    H0Opt,
    HiddenOpt,
    HtmlOpt,
    InputOpt,
    JsonOpt,
    LayersOpt,
    MaxMemoryOpt,
    ModuleOpt,
    NamesOpt,
    PeepholesOpt,
    PngOpt,
    ProjOpt,
    QuietOpt,
    ResetAfterOpt,
    SamplesOpt,
    SaveWeightsOpt,
    SeedOpt,
    SeqFirstOpt,
    SeqLenOpt,
    StepsOpt,
    SvgOpt,
    WeightsOpt,
    XOpt,
    config_options,
    parse_names,
    typed_options,
)
from .output import (
    Format,
    Request,
    answer_dropped,
    check_targets,
    outputs_to_stdout,
    report_expectations,
    run_and_render,
    save_results,
    saving_format,
)
from .resolve import OPTION_NAMES, check_option_pairs, resolve

if TYPE_CHECKING:
    from ..ci.expect import Checker, Expectation
    from ..config import LSTMConfig

__all__ = ["app", "main", "run"]


app = typer.Typer(
    add_completion=False,
    # the trace itself runs with no subcommand: the usage line must not suggest one is needed
    subcommand_metavar="[COMMAND] [ARGS]...",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Trace every gate of an LSTM or a GRU: shapes, equations and values, as a table, a "
    "tree or JSON.",
)

SaveAsOpt = Annotated[
    SaveAs | None,
    typer.Option(
        "--to",
        metavar="<format>",  # the eight choices in the help: a choice list would wrap mid-word
        help=to_help(
            "With --save-weights: pytorch or keras names, or onnx (a model; without it, keras "
            "for .weights.h5, onnx for .onnx and pytorch for the rest)"
        ),
        rich_help_panel=FILES,
    ),
]

DEFAULT_MAX_MEMORY_TEXT = format_bytes(DEFAULT_MAX_MEMORY).replace(" ", "")


def _version(value: bool) -> None:
    """--version among other options (`lstm-trace --version` alone is answered before this
    app is loaded, by lstm_trace.entry, with the same text)."""
    if value:
        from ..entry.version import version_text  # lazy: the metadata, for --version only

        typer.echo(version_text())
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def main_command(
    ctx: typer.Context,
    input_size: InputOpt = DEFAULT_INPUT,
    hidden_size: HiddenOpt = DEFAULT_HIDDEN,
    seq_len: SeqLenOpt = DEFAULT_SEQ_LEN,
    batch: BatchOpt = None,
    num_layers: LayersOpt = DEFAULT_LAYERS,
    cell: CellOpt = CellKind.lstm,
    direction: DirectionOpt = Direction.uni,
    bidirectional: BidirectionalOpt = False,
    proj_size: ProjOpt = DEFAULT_PROJ,
    bias: BiasOpt = True,
    reset_after: ResetAfterOpt = True,
    peepholes: PeepholesOpt = False,
    dtype: DTypeOpt = DType.float32,
    seed: SeedOpt = 0,
    weights: WeightsOpt = None,
    module: ModuleOpt = None,
    names: NamesOpt = None,
    x_path: XOpt = None,
    h0_path: H0Opt = None,
    c0_path: C0Opt = None,
    seq_first: SeqFirstOpt = False,
    dump: DumpOpt = None,
    dump_all: DumpAllOpt = False,
    save_weights: SaveWeightsOpt = None,
    save_as: SaveAsOpt = None,
    steps: StepsOpt = None,
    samples: SamplesOpt = 4,
    fmt: Annotated[
        Format,
        typer.Option(
            "--format",
            "-f",
            metavar="<format>",  # the six choices in the help: a choice list would wrap mid-word
            help="table, tree, json, jsonl, markdown or heatmap.",
            rich_help_panel=OUTPUT,
        ),
    ] = Format.table,
    as_json: JsonOpt = False,
    expect: ExpectOpt = None,
    frameworks: FrameworksOpt = False,
    gate: GateOpt = None,
    svg: SvgOpt = None,
    png: PngOpt = None,
    export_svg: ExportSvgOpt = None,
    export_html: ExportHtmlOpt = None,
    html: HtmlOpt = None,
    max_memory: MaxMemoryOpt = DEFAULT_MAX_MEMORY_TEXT,
    quiet: QuietOpt = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Trace an LSTM (or, with --cell gru, a GRU). With no options: the walkthrough's input 32,
    hidden 70."""
    if ctx.invoked_subcommand is not None:
        _refuse_trace_options(ctx)
        return
    check_option_pairs(
        fmt=fmt.value,
        as_json=as_json,
        dump=dump,
        dump_all=dump_all,
        gate=gate,
        x_path=x_path,
        seq_first=seq_first,
        save_weights=save_weights,
        save_as=None if save_as is None else save_as.value,
    )
    outputs = {
        "dump": dump,
        "svg": svg,
        "png": png,
        "export_svg": export_svg,
        "export_html": export_html,
        "html": html,
    }
    check_targets(**outputs)  # --save-weights' name is checked with its kind, just below
    weights_out = saving_format(save_weights, save_as)
    answer_elsewhere = outputs_to_stdout(save_weights=save_weights, **outputs)
    fmt = Format.json if as_json else fmt
    limit = parse_bytes(max_memory)
    expectations = _expectations(expect)
    options = config_options(
        ctx,
        input_size=input_size,
        hidden_size=hidden_size,
        seq_len=seq_len,
        batch=batch,
        num_layers=num_layers,
        direction=direction,
        bidirectional=bidirectional,
        proj_size=proj_size,
        bias=bias,
        cell=cell,
        reset_after=reset_after,
        peepholes=peepholes,
        dtype=dtype,
        seed=seed,
    )
    typed = typed_options(bidirectional=bidirectional)
    run = resolve(
        options,
        weights,
        x_path,
        h0_path,
        c0_path,
        seq_first,
        typed,
        max_memory=limit,
        module=module,
        names=parse_names(names),
    )
    for message in run.weights_file.notes if run.weights_file else ():
        note(message)
    if weights_out is not None:  # what the names cannot hold, said before the trace runs
        from ..formats.writing import check_writable  # lazy: the writers, for --save-weights

        check_writable(save_weights, run.config, weights_out.framework, weights_out.kind)
    if html is not None:  # the page's own trace, checked against --max-memory before any work
        from .html_out import check_html  # lazy: the explorer, for --html only

        check_html(run.config, steps, limit)
    checker = _checker(run.config, expectations)
    request = Request(
        fmt=fmt,
        steps=steps,
        samples=samples,
        limit=limit,
        keep_values=dump_all,
        frameworks=frameworks,
        gate=gate,
        svg=svg,
        png=png,
        export_svg=export_svg,
        export_html=export_html,
    )
    with answer_dropped(answer_elsewhere):  # a file written to stdout is the answer then
        result = run_and_render(run, request, checker)
    save_results(result, dump, dump_all, seq_first, save_weights, weights_out)
    if html is not None:
        from .html_out import write_html  # lazy: the explorer, for --html only

        write_html(html, run, result, steps, limit, frameworks)
    if checker is not None and not report_expectations(checker, result):
        raise typer.Exit(1)


def _expectations(expect: list[str] | None) -> "list[Expectation]":
    """--expect's expectations, each checked as it is read (before any work)."""
    if not expect:
        return []
    from ..ci.expect import parse  # lazy: the checks, for --expect only

    return [parse(e) for e in expect]


def _checker(config: "LSTMConfig", expectations: "list[Expectation]") -> "Checker | None":
    """What watches the trace's records for --expect; None without one."""
    if not expectations:
        return None
    from ..ci.expect import Checker  # lazy: the checks, for --expect only

    return Checker(config, expectations)


def _refuse_trace_options(ctx: typer.Context) -> None:
    """`lstm-trace --max-memory 1GB convert ...`: the options before a subcommand are the
    trace's, and would be silently ignored; say where they go instead."""
    name = ctx.invoked_subcommand or ""
    lookup = getattr(ctx.command, "get_command", None)  # the app is a group of commands
    sub = lookup(ctx, name) if lookup is not None else None
    takes = {p.name for p in sub.params} if sub is not None else set()
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name or "")
        if source is None or source.name in ("DEFAULT", "DEFAULT_MAP"):
            continue
        opts = param.opts
        if getattr(param, "secondary_opts", None) and ctx.params.get(param.name or "") is False:
            opts = param.secondary_opts  # --no-bias, not --bias
        flag = max(opts, key=len)
        if param.name in takes:
            raise LSTMTraceError(
                f"{flag} before {name!r} is an option of the trace; put it after the "
                f"subcommand (lstm-trace {name} ... {flag})"
            )
        raise LSTMTraceError(f"{flag} is an option of the trace; 'lstm-trace {name}' takes none")


def _error_line(exc: LSTMTraceError) -> str:
    flag = OPTION_NAMES.get(exc.option or "")
    if flag and not exc.message.startswith("--"):  # one that names an option names its own
        return f"lstm-trace: error: {flag}: {exc.message}"
    return f"lstm-trace: error: {exc.message}"


#: Click's words for a value it could not convert, and the ones lstm-trace uses
_CONVERSIONS = (
    (re.compile(r"is not a valid int( range)?$"), "is not a whole number"),
    (re.compile(r"is not a valid float( range)?$"), "is not a number"),
)


def _usage_message(exc: typer.TyperException) -> str:
    """Typer's message on one line, without its full stop, in lstm-trace's words for a value
    that is not a number, and the --help to read: the subcommand's, when it is one."""
    message = " ".join(exc.format_message().split()).rstrip(".")
    if isinstance(exc, typer.BadParameter):
        for pattern, words in _CONVERSIONS:
            message = pattern.sub(words, message)
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "lstm-trace"
    return f"{message} (see {command} --help)"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI on argv (sys.argv[1:] when None) and return the exit status."""
    args = sys.argv[1:] if argv is None else argv
    try:
        rv = app(args=args, prog_name="lstm-trace", standalone_mode=False)
    except LSTMTraceError as exc:
        sys.stderr.write(_error_line(exc) + "\n")
        return exc.exit_code
    except ReaderGone:
        quiet_stdout()
        return 0
    except typer.Abort:
        sys.stderr.write("lstm-trace: aborted\n")
        return 130
    except typer.TyperException as exc:
        # Typer's usage errors (bad integers, unknown choices or options): exit status 2.
        sys.stderr.write(f"lstm-trace: error: {_usage_message(exc)}\n")
        return int(getattr(exc, "exit_code", 2))
    except MemoryError:
        sys.stderr.write(
            "lstm-trace: error: out of memory; try smaller sizes or a lower --max-memory\n"
        )
        return 1
    except (OSError, KeyboardInterrupt):
        raise  # run() turns a closed pipe, a full disk or Ctrl-C into the right exit
    except Exception as exc:  # a bug, or a file nothing above foresaw: one line, not a trace
        if os.environ.get("LSTM_TRACE_DEBUG"):
            raise
        sys.stderr.write(
            f"lstm-trace: internal error: {type(exc).__name__}: {' '.join(str(exc).split())} "
            "(please report it; LSTM_TRACE_DEBUG=1 shows the traceback)\n"
        )
        return 70
    return rv if isinstance(rv, int) else 0


def run() -> None:
    """The Typer app on sys.argv, with the streams' exits (lstm_trace.entry.serve); the
    console script is lstm_trace.entry.run, which answers --version and --help first."""
    serve(main)
