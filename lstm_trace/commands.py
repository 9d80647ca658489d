"""The subcommands: convert, check, diff and schema. Registered on cli.app."""

from __future__ import annotations

import json
import math
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from .cli import (
    DEFAULT_MAX_MEMORY_TEXT,
    ExportHtmlOpt,
    ExportSvgOpt,
    app,
    data_console,
    note,
    save_exports,
)
from .cli_output import show
from .config import parse_bytes
from .errors import ConfigError, FileError, LSTMTraceError
from .options import (
    BatchOpt,
    BidirectionalOpt,
    DirectionOpt,
    DType,
    HiddenOpt,
    InputOpt,
    LayersOpt,
    ProjOpt,
    SeqLenOpt,
    WeightsOpt,
    config_options,
)

#: --max-memory of the subcommands that read files: their declared sizes are checked first
MaxMemoryOpt = Annotated[
    str,
    typer.Option(
        "--max-memory",
        help="Refuse files that declare more than this (and runs that would need more).",
    ),
]


class Framework(str, Enum):
    pytorch = "pytorch"
    keras = "keras"


class ReportFormat(str, Enum):
    table = "table"
    json = "json"


@app.command()
def convert(
    source: Annotated[Path, typer.Argument(help="Weights file to read (any supported kind).")],
    target: Annotated[
        Path,
        typer.Argument(
            help="File to write; its suffix picks the format: .npz, .safetensors, .pt, .weights.h5."
        ),
    ],
    to: Annotated[
        Framework | None,
        typer.Option(
            "--to",
            help="The framework whose names and layout to write (implied by .weights.h5 and "
            ".pt; needed for .npz and .safetensors).",
        ),
    ] = None,
    dtype: Annotated[
        DType | None, typer.Option("--dtype", help="Cast to this type (default: the source's).")
    ] = None,
    max_memory: MaxMemoryOpt = DEFAULT_MAX_MEMORY_TEXT,
) -> None:
    """Convert LSTM weights between PyTorch and Keras (PyTorch's two biases are summed)."""
    from .config import LSTMConfig
    from .errors import LSTMTraceError
    from .io import must_exist, read_weights, suffix_of
    from .resolve import DEFAULTS
    from .writing import check_target, framework_for, require_writer, write_weights

    must_exist(source)  # the first thing a user should hear about
    limit = parse_bytes(max_memory)
    if to is None and suffix_of(target) in (".npz", ".safetensors"):
        raise LSTMTraceError(
            f"{target}: a {suffix_of(target)} file can hold PyTorch or Keras names; "
            "say which with --to pytorch or --to keras"
        )
    framework = framework_for(target, None if to is None else to.value)
    check_target(target)
    require_writer(target)  # a missing library is said now, not after reading the source
    wf = read_weights(source, max_memory=limit)
    for message in wf.notes:
        note(message)
    arch = wf.architecture.as_options()
    arch["dtype"] = dtype.value if dtype is not None else (arch["dtype"] or DEFAULTS["dtype"])
    config = LSTMConfig(**arch)
    write_weights(target, wf.build(config), framework)
    note(
        f"wrote {target}: {framework} weights of an LSTM with input {config.input_size}, "
        f"hidden {config.hidden_size}, {config.num_layers} layer(s), "
        f"{'bidirectional' if config.bidirectional else 'unidirectional'}, {config.dtype}"
    )


@app.command()
def check(
    spec: Annotated[Path, typer.Argument(help="A TOML spec of named models and expectations.")],
    fmt: Annotated[
        ReportFormat, typer.Option("--format", "-f", help="table for people, json for machines.")
    ] = ReportFormat.table,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Also write a JUnit XML report here.")
    ] = None,
    max_memory: MaxMemoryOpt = DEFAULT_MAX_MEMORY_TEXT,
) -> None:
    """Check every model of a spec file; exit 0 only when every expectation passes."""
    from .checks import junit_xml, results_dict, run_models
    from .render.sections import Section
    from .render.table import rich_table
    from .spec import load_spec
    from .writing import atomic_open

    if junit is not None:
        from .writing import check_target

        check_target(junit)
    limit = parse_bytes(max_memory)
    results = run_models(load_spec(spec), max_memory=limit)
    if fmt is ReportFormat.json:
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


@app.command()
def diff(
    first: Annotated[Path, typer.Argument(help="A saved trace (--json or --format jsonl).")],
    second: Annotated[Path, typer.Argument(help="The trace to compare it with.")],
    values: Annotated[
        bool, typer.Option("--values", help="Compare samples and stats too, not only shapes.")
    ] = False,
    atol: Annotated[float, typer.Option("--atol", help="With --values: absolute tolerance.")] = 0.0,
) -> None:
    """Compare two saved traces; print what differs; exit 1 when something does."""
    from .diff import diff_traces, load_trace_doc

    if not 0.0 <= atol < math.inf:  # also NaN, under which every difference would pass
        raise ConfigError(f"--atol: tolerance must be a finite number >= 0, got {atol}")
    a, b = load_trace_doc(first), load_trace_doc(second)
    try:
        lines, total = diff_traces(a, b, values=values, atol=atol)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise FileError(
            f"{first} or {second}: a record is not as lstm-trace writes it ({type(exc).__name__}: "
            f"{exc})"
        ) from None
    for line in lines:
        sys.stdout.write(line + "\n")
    if total:
        note(f"{total} difference(s) between {first} and {second}")
        raise typer.Exit(1)
    note(f"no differences between {first} and {second}")


@app.command()
def schema(
    jsonl: Annotated[
        bool, typer.Option("--jsonl", help="The schema of one --format jsonl line instead.")
    ] = False,
) -> None:
    """Print the JSON Schema of the --json document (or of a --format jsonl line)."""
    from .schema import bundled_schema

    schema = bundled_schema("trace-jsonl" if jsonl else "trace")
    sys.stdout.write(json.dumps(schema, indent=2) + "\n")


class ExplainFormat(str, Enum):
    terminal = "terminal"
    markdown = "markdown"


@app.command()
def explain(
    input_size: InputOpt = None,
    hidden_size: HiddenOpt = None,
    seq_len: SeqLenOpt = None,
    batch: BatchOpt = None,
    num_layers: LayersOpt = None,
    direction: DirectionOpt = None,
    bidirectional: BidirectionalOpt = False,
    proj_size: ProjOpt = None,
    weights: WeightsOpt = None,
    fmt: Annotated[
        ExplainFormat,
        typer.Option("--format", "-f", help="terminal (rendered) or markdown (raw text)."),
    ] = ExplainFormat.terminal,
    export_svg: ExportSvgOpt = None,
    export_html: ExportHtmlOpt = None,
) -> None:
    """The walkthrough narrated with your numbers: 32 + 70 = 102, W_f is 70 x 102, ..."""
    from rich.markdown import Markdown

    from .explain import explain as explain_text
    from .resolve import resolve

    options = config_options(
        input_size=input_size,
        hidden_size=hidden_size,
        seq_len=seq_len,
        batch=batch,
        num_layers=num_layers,
        direction=direction,
        bidirectional=bidirectional,
        proj_size=proj_size,
        dtype=None,
        seed=0,
    )
    if fmt is ExplainFormat.markdown and (export_svg or export_html):
        raise LSTMTraceError("--export-svg and --export-html save the terminal view, not markdown")
    text = explain_text(resolve(options, weights).config)
    if fmt is ExplainFormat.markdown:
        sys.stdout.write(text)
        return
    console = data_console(record=bool(export_svg or export_html))
    show(console, Markdown(text, code_theme="ansi_dark", inline_code_lexer=None))
    save_exports(console, export_svg, export_html)
