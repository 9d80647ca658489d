"""The subcommands: convert, check, diff, schema and explain. Registered on cli.app."""

# No `from __future__ import annotations`: Typer reads each command's annotations, and as
# strings they would be compiled and evaluated at every start (4 of the walkthrough's ms).

import math
import re
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text
from typer.core import TyperCommand

from ..config import LSTMConfig, parse_bytes
from ..errors import ConfigError, LSTMTraceError
from ..formats.weight_kinds import SaveAs, to_help
from ..words import counted
from .app import DEFAULT_MAX_MEMORY_TEXT, app
from .console import data_console, note, save_exports, show
from .options import (
    DEFAULT_HIDDEN,
    DEFAULT_INPUT,
    DEFAULT_LAYERS,
    DEFAULT_PROJ,
    DEFAULT_SEQ_LEN,
    BatchOpt,
    BiasOpt,
    BidirectionalOpt,
    CellKind,
    CellOpt,
    Direction,
    DirectionOpt,
    DType,
    ExportHtmlOpt,
    ExportSvgOpt,
    HiddenOpt,
    InputOpt,
    LayersOpt,
    MaxMemoryOpt,
    ModuleOpt,
    NamesOpt,
    PeepholesOpt,
    ProjOpt,
    QuietOpt,
    ResetAfterOpt,
    SeqLenOpt,
    WeightsOpt,
    config_options,
    parse_names,
    typed_options,
)
from .output import check_targets
from .progress import pass_observers
from .resolve import check_files_memory, resolve


class PlainUsage(TyperCommand):
    """A subcommand whose usage line names its arguments as Click does (`SPEC`), not as
    Typer 0.28 writes a required one (`{SPEC}`), which reads like a placeholder to fill in."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:  # Typer's own copy of Click's Context
        pieces: list[str] = super().collect_usage_pieces(ctx)
        return [re.sub(r"^\{(.*)\}$", r"\1", piece) for piece in pieces]


class ReportFormat(str, Enum):
    table = "table"
    json = "json"


@app.command(cls=PlainUsage)
def convert(
    source: Annotated[
        Path, typer.Argument(metavar="SOURCE", help="Weights file to read (any supported kind).")
    ],
    target: Annotated[
        Path,
        typer.Argument(
            metavar="TARGET",
            help="File to write; its suffix picks the format: .npz, .safetensors, .pt/.pth, "
            ".weights.h5, .onnx.",
        ),
    ],
    to: Annotated[
        SaveAs | None,
        typer.Option(
            "--to",
            metavar="<format>",  # the eight choices in the help: a choice list would wrap
            help=to_help(
                "pytorch or keras: the names and layout to write (implied by .weights.h5 and "
                ".pt; needed for .npz and .safetensors); onnx: a model (implied by .onnx)"
            ),
        ),
    ] = None,
    dtype: Annotated[
        DType | None,
        typer.Option("--dtype", help="Cast to this type.", show_default="the source's"),
    ] = None,
    module: ModuleOpt = None,
    names: NamesOpt = None,
    max_memory: MaxMemoryOpt = DEFAULT_MAX_MEMORY_TEXT,
    quiet: QuietOpt = False,
) -> None:
    """Convert LSTM or GRU weights between PyTorch, Keras and ONNX (PyTorch's two LSTM biases
    are summed for Keras)."""
    from ..formats.file_limits import must_exist  # lazy: the readers load for convert only
    from ..formats.reading import read_weights  # lazy: as above
    from ..formats.writing import check_writable, weights_format, write_weights  # lazy: as above

    must_exist(source)  # the first thing a user should hear about
    limit = parse_bytes(max_memory)
    saving = weights_format(target, None if to is None else to.value, need_to=True)
    wf = read_weights(source, max_memory=limit, module=module, names=parse_names(names))
    config = wf.architecture.config(None if dtype is None else dtype.value)
    # before any note or work, in the words --save-weights uses
    check_writable(target, config, saving.framework, saving.kind, subject=str(source))
    for message in wf.notes:
        note(message)
    check_files_memory(config, {}, [source], limit)  # all its sizes come from the file
    write_weights(target, wf.build(config), saving.framework, saving.kind)
    note(f"wrote {target}: {saving.framework} weights of {_described(config)}")
    if saving.framework == "keras" and config.direction == "reverse":
        note(
            f"{target}: load it into layers whose first has go_backwards=True and the others "
            "go_backwards=False (Keras's reverse stack; the file cannot record it)"
        )


def _described(config: LSTMConfig) -> str:
    """'an LSTM with input 3, hidden 4, 1 layer, unidirectional, float32' (convert's note)."""
    direction = {"uni": "unidirectional", "bi": "bidirectional", "reverse": "reverse-only"}
    reset = f"reset_after={config.reset_after}, " if "reset_after" in config.kind.options else ""
    reset += "peepholes, " if config.peepholes else ""
    return (
        f"{'an' if config.cell == 'lstm' else 'a'} {config.kind.title} with input "
        f"{config.input_size}, hidden {config.hidden_size}, "
        f"{counted(config.num_layers, 'layer')}, {direction[config.direction]}, {reset}"
        f"{'' if config.bias else 'no biases, '}{config.dtype}"
    )


@app.command(cls=PlainUsage)
def check(
    spec: Annotated[
        Path, typer.Argument(metavar="SPEC", help="A TOML spec of named models and expectations.")
    ],
    fmt: Annotated[
        ReportFormat, typer.Option("--format", "-f", help="table for people, json for machines.")
    ] = ReportFormat.table,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Also write a JUnit XML report here.")
    ] = None,
    max_memory: MaxMemoryOpt = DEFAULT_MAX_MEMORY_TEXT,
    quiet: QuietOpt = False,
) -> None:
    """Check every model of a spec file; exit 0 only when every expectation passes."""
    from ..ci.checks import junit_xml, results_dict, run_models  # lazy: for check only
    from ..ci.spec import load_spec  # lazy: tomllib, for check only
    from ..formats.targets import atomic_open, check_output  # lazy: for check only
    from ..render.sections import Section  # lazy: rich's tables, when a table is shown
    from ..render.table import rich_table  # lazy: as above

    if junit is not None:
        check_output(junit, "--junit")
    limit = parse_bytes(max_memory)
    results = run_models(load_spec(spec), max_memory=limit, progress=pass_observers)
    if fmt is ReportFormat.json:
        import json  # lazy: for --format json only

        sys.stdout.write(json.dumps(results_dict(str(spec), results), indent=2) + "\n")
    else:
        section = Section.of(
            f"lstm-trace check {spec}", "model", "expectation", "expected", "got", "result"
        )
        for r in results:
            if r.error:
                section.add(r.spec.name, "configuration", "", r.error, "ERROR")
            for o in r.outcomes:
                section.add(
                    r.spec.name,
                    o.expectation.label,
                    o.expectation.expected,
                    o.got,
                    "pass" if o.passed else "FAIL",
                )
        console = data_console()
        show(console, rich_table(section))
        for r in results:
            for o in r.outcomes:
                if not o.passed:
                    show(console, Text(f"{r.spec.name}: {o.message}"))
    if junit is not None:
        with atomic_open(junit) as f:
            f.write(junit_xml(str(spec), results).encode())
        note(f"wrote {junit}")
    failed = [r for r in results if not r.passed]
    note(f"{len(results) - len(failed)} of {len(results)} models passed")
    if failed:
        raise typer.Exit(1)


@app.command(cls=PlainUsage)
def diff(
    first: Annotated[
        Path, typer.Argument(metavar="FIRST", help="A saved trace (--json or --format jsonl).")
    ],
    second: Annotated[Path, typer.Argument(metavar="SECOND", help="The trace to compare it with.")],
    values: Annotated[
        bool, typer.Option("--values", help="Compare samples and stats too, not only shapes.")
    ] = False,
    atol: Annotated[
        float | None,
        typer.Option("--atol", help="With --values: absolute tolerance (default 0: exact)."),
    ] = None,
) -> None:
    """Compare two saved traces; print what differs; exit 1 when something does."""
    from ..ci.diff import diff_traces, weights_unknown  # lazy: for diff only
    from ..ci.trace_doc import load_trace_doc  # lazy: for diff only

    if atol is not None and not 0.0 <= atol < math.inf:  # NaN would pass every difference
        raise ConfigError(f"--atol: tolerance must be a finite number >= 0, got {atol}")
    if atol is not None and not values:  # it would do nothing: say so rather than pass
        raise ConfigError(
            f"--atol {atol} is the tolerance of --values; add --values or drop --atol"
        )
    a, b = load_trace_doc(first), load_trace_doc(second)
    lines, total = diff_traces(a, b, values=values, atol=atol or 0.0)
    unknown = [str((first, second)[i]) for i in weights_unknown(a, b)]
    if unknown:  # a version 1 document: its weights are unknown, which is not a difference
        note(
            f"the weights could not be compared: {' and '.join(unknown)} "
            f"{'has' if len(unknown) == 1 else 'have'} no weights digest (schema_version 1)"
        )
    for line in lines:
        sys.stdout.write(line + "\n")
    if total:
        note(f"{counted(total, 'difference')} between {first} and {second}")
        raise typer.Exit(1)
    note(f"no differences between {first} and {second}")


@app.command(cls=PlainUsage)
def schema(
    jsonl: Annotated[
        bool, typer.Option("--jsonl", help="The schema of one --format jsonl line instead.")
    ] = False,
) -> None:
    """Print the JSON Schema of the --json document (or of a --format jsonl line)."""
    import json  # lazy: for schema only

    from ..schema import bundled_schema  # lazy: importlib.resources, for schema only

    schema = bundled_schema("trace-jsonl" if jsonl else "trace")
    sys.stdout.write(json.dumps(schema, indent=2) + "\n")


class ExplainFormat(str, Enum):
    terminal = "terminal"
    markdown = "markdown"


@app.command(cls=PlainUsage)
def explain(
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
    weights: WeightsOpt = None,
    module: ModuleOpt = None,
    names: NamesOpt = None,
    fmt: Annotated[
        ExplainFormat,
        typer.Option("--format", "-f", help="terminal (rendered) or markdown (raw text)."),
    ] = ExplainFormat.terminal,
    export_svg: ExportSvgOpt = None,
    export_html: ExportHtmlOpt = None,
    max_memory: MaxMemoryOpt = DEFAULT_MAX_MEMORY_TEXT,
    quiet: QuietOpt = False,
) -> None:
    """The walkthrough narrated with your numbers: 32 + 70 = 102, W_f is 70 x 102, ..."""
    from rich.markdown import Markdown

    from ..walkthrough import walkthrough  # lazy: for explain only

    limit = parse_bytes(max_memory)
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
        dtype=None,
        seed=0,
    )
    if fmt is ExplainFormat.markdown and (export_svg or export_html):
        raise LSTMTraceError("--export-svg and --export-html save the terminal view, not markdown")
    check_targets(export_svg=export_svg, export_html=export_html)
    typed = typed_options(bidirectional=bidirectional)
    # explain computes nothing, so only the files' declared sizes count, not the run's
    run = resolve(
        options,
        weights,
        typed=typed,
        max_memory=limit,
        check_run=False,
        module=module,
        names=parse_names(names),
    )
    text = walkthrough(run.config)
    if fmt is ExplainFormat.markdown:
        sys.stdout.write(text)
        return
    console = data_console(record=bool(export_svg or export_html))
    show(console, Markdown(text, code_theme="ansi_dark", inline_code_lexer=None))
    save_exports(console, export_svg, export_html)
