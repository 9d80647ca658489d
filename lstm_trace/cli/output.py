"""The trace command's output: run the trace and print it in the chosen format.

Part of the command line (with app.py and commands.py, the only modules that print): the
JSONL stream, pictures (--svg, --png) and the heatmap; the consoles and notes are console.py's.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..digest import SEEDED, weights_dict
from ..errors import FileError, LSTMTraceError, ReaderGone
from ..records import RecordBatches, RecordTable
from ..trace import Trace, prepare, trace
from ..weights import init_weights
from .console import data_console, note, save_exports, show
from .progress import pass_observers, tracking

if TYPE_CHECKING:
    from ..ci.expect import Checker
    from ..formats.weight_kinds import SaveAs
    from ..formats.writing import WeightsFormat
    from ..gate_map import GateChoice
    from ..heatmaps import Heatmap
    from .resolve import Resolved


class Format(str, Enum):
    table = "table"
    tree = "tree"
    json = "json"
    jsonl = "jsonl"
    markdown = "markdown"
    heatmap = "heatmap"


@dataclass(frozen=True)
class Request:
    """What the user asked the trace command to show."""

    fmt: Format
    steps: str | None = None
    samples: int = 4
    limit: int = 0
    keep_values: bool = False
    frameworks: bool = False
    gate: str | None = None  # --gate; None: the cell's first gate in the walkthrough
    svg: Path | None = None
    png: Path | None = None
    export_svg: Path | None = None
    export_html: Path | None = None


def check_targets(**paths: Path | None) -> None:
    """Refuse, before any work, outputs that could not be written at the end: a name without
    its option's suffix (usage, exit 2), a directory, a missing folder, a socket (exit 1), a
    PNG without a converter. Keywords are the options' names: export_svg for --export-svg."""
    for name, path in paths.items():
        if path is None:
            continue
        from ..formats.targets import check_output  # lazy: only when there is an output

        check_output(path, _flag(name))
        if name == "png":
            from ..render.png import NO_CONVERTER, have_converter  # lazy: for --png only

            if not have_converter():
                raise FileError(f"{path}: {NO_CONVERTER}")


def _flag(keyword: str) -> str:
    """export_svg -> '--export-svg': an output's keyword as the user typed the option."""
    return "--" + keyword.replace("_", "-")


def saving_format(save_weights: Path | None, save_as: SaveAs | None) -> WeightsFormat | None:
    """How --save-weights writes (with --to), checked before any work."""
    if save_weights is None:
        return None
    from ..formats.writing import weights_format  # lazy: the writers, for --save-weights

    return weights_format(
        save_weights, None if save_as is None else save_as.value, "--save-weights"
    )


def outputs_to_stdout(**paths: Path | None) -> bool:
    """Whether one of the outputs is stdout itself; refuses two outputs that name one file
    (`--svg /dev/stdout --dump /dev/stdout`, `--svg a.svg --export-svg a.svg`), which would
    end as one corrupt stream or a file silently written twice."""
    given = [(name, path) for name, path in paths.items() if path is not None]
    if not given:
        return False
    from ..formats.targets import is_stdout, same_file  # lazy: only with an output file

    for i, (name, path) in enumerate(given):
        for other, second in given[i + 1 :]:
            if same_file(path, second):
                raise LSTMTraceError(
                    f"{_flag(name)} {path} and {_flag(other)} {second} are one file; give each "
                    "its own"
                )
    return any(is_stdout(path) for _, path in given)


@contextlib.contextmanager
def answer_dropped(dropped: bool) -> Iterator[None]:
    """When a file is written to stdout (`--svg /dev/stdout > pic.svg`), the answer itself
    (the table, JSON, ...) would corrupt it: it is not printed, and a note says so."""
    if not dropped:
        yield
        return
    from ..formats.targets import is_stdout  # lazy: only with an output file

    with contextlib.redirect_stdout(_Discard()):
        yield
    if not is_stdout(Path(os.devnull)):  # nobody reads /dev/null: nothing was kept from them
        note("an output went to stdout, so the trace itself was not printed")


class _Discard(io.TextIOBase):
    """A text stream that keeps nothing (not os.devnull, which would be one more file
    opened for writing by name)."""

    def write(self, text: str) -> int:
        return len(text)


def report_expectations(checker: Checker, result: Trace) -> bool:
    """Each failed expectation on stderr, then the tally; True when all passed."""
    outcomes = checker.finish(result.outputs, result.param_count, result.health, result.weights)
    failed = [o for o in outcomes if not o.passed]
    for o in failed:
        note(o.message)
    if failed:
        note(f"{len(failed)} of {len(outcomes)} expectations failed")
        return False
    note(
        f"all {len(outcomes)} expectations passed"
        if len(outcomes) > 1
        else "the expectation passed"
    )
    return True


def write_picture(svg_text: str, svg: Path | None, png: Path | None) -> None:
    """Write an SVG document and/or its PNG rendering; the PNG is rendered first, so that a
    converter's failure leaves neither file written."""
    from ..formats.targets import atomic_open  # lazy: only when there is a file to write

    data = None
    if png is not None:
        from ..render.png import svg_to_png  # lazy: for --png only

        try:
            data = svg_to_png(svg_text)
        except (FileNotFoundError, RuntimeError, OSError) as exc:
            raise FileError(f"{png}: {exc}") from None
    if svg is not None:
        with atomic_open(svg) as f:
            f.write(svg_text.encode())
        note(f"wrote {svg}")
    if png is not None and data is not None:
        with atomic_open(png) as f:
            f.write(data)
        note(f"wrote {png}")


def save_results(
    result: Trace,
    dump: Path | None,
    every_tensor: bool,
    seq_first: bool,
    save_weights: Path | None,
    weights_out: WeightsFormat | None,
) -> None:
    """--dump (output, h_n and c_n, every tensor too with --dump-all) and --save-weights."""
    if dump is not None:
        from ..formats.npz import write_npz  # lazy: for --dump only

        write_npz(dump, result.arrays(seq_first=seq_first, every_tensor=every_tensor))
        note(f"wrote {dump}")
    if save_weights is not None and weights_out is not None:
        from ..formats.writing import write_weights  # lazy: the writers, for --save-weights

        framework, kind = weights_out.framework, weights_out.kind
        write_weights(save_weights, result.weights, framework, kind)
        note(f"wrote {save_weights} ({framework} names, {kind})")


def _trace(run: Resolved, request: Request, source: str | None = None, **extra: Any) -> Trace:
    """trace() with what the user gave and asked for; extra: observers or a sink. source:
    the document's weights.source, by default the weights file's path (seeded without one)."""
    return trace(
        run.config,
        run.weights,
        run.x,
        h0=run.h0,
        c0=run.c0,
        steps=request.steps,
        samples=request.samples,
        max_memory=request.limit,
        keep_values=request.keep_values,
        source=_source(run) if source is None else source,
        module=_module(run),
        **extra,
    )


def _source(run: Resolved) -> str | None:
    """The document's weights.source: the weights file's path as given; None when seeded."""
    return None if run.weights_file is None else str(run.weights_file.path)


def _module(run: Resolved) -> str | None:
    """The document's weights.module: the weights file's module traced; None when seeded."""
    return None if run.weights_file is None else run.weights_file.module


#: rows of --format heatmap: steps are averaged into at most this many
HEATMAP_ROWS = 48


def run_and_render(run: Resolved, request: Request, checker: Checker | None) -> Trace:
    """Trace and print in the chosen format; JSONL streams each record as it is computed."""

    if request.fmt is Format.jsonl:
        if request.export_svg or request.export_html:
            raise LSTMTraceError(
                "--export-svg and --export-html save terminal views (table, tree, heatmap)"
            )
        result = _stream(run, request, checker)
        if request.svg is not None or request.png is not None:
            from ..render.svg import render_svg  # lazy: for --svg and --png only

            write_picture(render_svg(result.config), request.svg, request.png)
        return result
    choice = None
    maps: dict[str, Any] = {}
    if request.fmt is Format.heatmap:
        from ..gate_map import parse_gate  # lazy: for --format heatmap

        cfg = run.config
        choice = parse_gate(request.gate or cfg.kind.report_order[0], cfg)
        maps = {"maps": True, "map_rows": HEATMAP_ROWS}
    with pass_observers(run.config) as bar:  # a bar on stderr, when the pass is long
        result = _trace(run, request, observers=bar, **maps)
    if checker is not None:
        checker.observe_all(result.tensors)
    _print(result, run, request, choice)
    return result


def _print(result: Trace, run: Resolved, request: Request, choice: GateChoice | None) -> None:
    fmt = request.fmt
    frameworks = request.frameworks or run.weights_file is not None
    if fmt in (Format.json, Format.markdown) and (request.export_svg or request.export_html):
        raise LSTMTraceError(
            "--export-svg and --export-html save terminal views (table, tree, heatmap)"
        )
    if fmt is Format.json:
        _write_json(result)
    elif fmt is Format.markdown:
        from ..render.markdown import render_markdown  # lazy, as every view: the one shown

        sys.stdout.write(render_markdown(result, frameworks=frameworks))
    else:
        console = data_console(record=bool(request.export_svg or request.export_html))
        if choice is not None:
            # colour when the terminal has it, and always in an exported picture
            color = console.color_system is not None or console.record
            show(console, _heatmap(result, choice).renderable(console.width, color))
        elif fmt is Format.tree:
            from ..render.tree import render_tree  # lazy: Rich's tree, for --format tree only

            show(console, render_tree(result))
        else:
            from ..render.table import render_table  # lazy: Rich's tables, when shown

            show(console, render_table(result, frameworks=frameworks))
        save_exports(console, request.export_svg, request.export_html)
    sys.stdout.flush()
    if request.svg is not None or request.png is not None:
        from ..render.svg import render_svg  # lazy: for --svg and --png only

        text = render_svg(result.config) if choice is None else _heatmap(result, choice).svg()
        write_picture(text, request.svg, request.png)


def _write_json(result: Trace) -> None:
    """The JSON document on stdout, made a record at a time: a full trace (--steps all) of
    a long sequence takes seconds, shown by a bar of records on stderr until it is written."""
    from ..render.json import json_pieces  # lazy: for --json only

    with tracking(len(result.tensors), "records", "writing") as tally:
        pieces = list(json_pieces(result, None if tally is None else tally.advance))
    try:
        sys.stdout.writelines(pieces)  # after the bar is cleared, in case stdout is its terminal
    except BrokenPipeError:  # `| head`: as the JSONL stream does, the reader left
        raise ReaderGone from None


def _heatmap(result: Trace, choice: GateChoice) -> Heatmap:
    return result.heatmap(choice.gate, choice.layer, choice.direction)


def _stream(run: Resolved, request: Request, checker: Checker | None) -> Trace:
    from ..render.jsonl import header_line, outputs_line, table_lines  # lazy: jsonl only

    out = sys.stdout
    selection = prepare(
        run.config, request.steps, request.samples, request.limit, request.keep_values, False
    )
    count = 0

    def receive(table: RecordTable) -> None:
        # a batch of records at a time, written from its rows without a TensorRecord each
        # unless --expect needs them
        nonlocal count
        out.writelines(table_lines(table))
        count += len(table)
        if checker is not None:
            for record in table.in_added_order():
                checker.observe(record)

    sink = RecordBatches(receive)

    try:
        if run.weights is None:  # drawn here, once, as trace() would: the header's digest
            run = replace(run, weights=init_weights(run.config))
        assert run.weights is not None
        source = _source(run) or SEEDED
        info = weights_dict(run.weights, source, _module(run))
        out.write(header_line(run.config, selection, info))
        out.flush()  # the header is known before the pass: show it at once
        # the records stream to stdout during the pass: no bar when that is the terminal too
        with pass_observers(run.config, answer=out) as bar:
            result = _trace(run, request, sink=sink, source=source, observers=bar)
        out.write(outputs_line(result.outputs, count, result.health))
        out.flush()
    except BrokenPipeError:
        raise ReaderGone from None
    return result
