"""The command line's shared options: the configuration (cell, sizes, direction, variants), as
Typer annotations.

The trace command and `explain` take the same configuration options; defining them once keeps
their names, short forms and help identical. An option left out is None, so that a weights
file can supply it (resolve.py).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from ..cells import CELLS
from ..config import LSTMConfig
from ..errors import LSTMTraceError
from .console import set_quiet

CONFIG, FILES, OUTPUT = "Configuration", "Files", "Output"
#: options of one cell only: a panel of their own keeps the configuration table narrow
VARIANTS = "GRU and LSTM variants"


class Direction(str, Enum):
    uni = "uni"
    bi = "bi"
    reverse = "reverse"


class CellKind(str, Enum):
    lstm = "lstm"
    gru = "gru"


class DType(str, Enum):
    float32 = "float32"
    float64 = "float64"


def _opt(*names: str, help: str, panel: str = CONFIG, **kwargs: Any) -> Any:
    return typer.Option(*names, help=help, rich_help_panel=panel, **kwargs)


InputOpt = Annotated[int, _opt("--input", "-i", help="Input features I of x_t.")]
HiddenOpt = Annotated[int, _opt("--hidden", "-H", help="Hidden units H.")]
SeqLenOpt = Annotated[int, _opt("--seq-len", "-T", help="Sequence length T.")]
BatchOpt = Annotated[
    int | None, _opt("--batch", "-B", help="Batch size; omit for unbatched input (T, I).")
]
LayersOpt = Annotated[int, _opt("--layers", "-L", help="Stacked layers.")]
DirectionOpt = Annotated[
    Direction,
    _opt(
        "--direction",
        help="uni, bi (both directions, D = 2) or reverse (backward in time only).",
        case_sensitive=False,
    ),
]
CellOpt = Annotated[
    CellKind,
    _opt("--cell", help="lstm or gru; a weights file sets it.", case_sensitive=False),
]
ResetAfterOpt = Annotated[
    bool,
    _opt(
        "--reset-after/--no-reset-after",
        help="GRU: --no-reset-after applies the reset gate to h_(t-1) before the recurrent "
        "product (Keras reset_after=False), not after it (PyTorch, Keras's default).",
        panel=VARIANTS,
    ),
]
PeepholesOpt = Annotated[
    bool,
    _opt(
        "--peepholes",
        help="LSTM peepholes (ONNX's P): i and f read C_(t-1), o reads C_t.",
        panel=VARIANTS,
    ),
]
BidirectionalOpt = Annotated[bool, _opt("--bidirectional", help="Shorthand for --direction bi.")]
ProjOpt = Annotated[
    int, _opt("--proj", help="PyTorch proj_size P: h_t = W_hr (o_t * tanh(C_t)) of P; 0 is off.")
]
BiasOpt = Annotated[
    bool,
    _opt(
        "--bias/--no-bias",
        help="--no-bias: no b_f ... b_o, as nn.LSTM(bias=False) and LSTM(use_bias=False); a "
        "weights file sets it.",
    ),
]
DTypeOpt = Annotated[DType, _opt("--dtype", help="float32 or float64; a weights file sets it.")]
SeedOpt = Annotated[int, _opt("--seed", help="Seed of the weights and the input.")]
WeightsOpt = Annotated[
    Path | None,
    _opt(
        "--weights",
        "-w",
        help="Weights: .npz, .safetensors, .pt/.pth, .weights.h5, .keras or .onnx (PyTorch or "
        "Keras names, an ONNX model); sets the architecture.",
        panel=FILES,
    ),
]

ModuleOpt = Annotated[
    str | None,
    _opt(
        "--module",
        "-m",
        help="The recurrent module of the weights file to trace, by the name `lstm-trace "
        "inspect FILE` lists (encoder.lstm, model/lstm_1, LSTM#0); a file with one needs none.",
        panel=FILES,
    ),
]
NamesOpt = Annotated[
    str | None,
    _opt(
        "--names",
        help="OLD=NEW,...: rename a file's own tensor names to ones lstm-trace reads "
        "(enc_Wx=enc.weight_ih_l0, ...).",
        panel=FILES,
    ),
]


def parse_names(text: str | None) -> dict[str, str]:
    """--names 'a=b,c=d' as {'a': 'b', 'c': 'd'}; a pair without '=' is a usage error."""
    out: dict[str, str] = {}
    for pair in (text or "").split(","):
        if not pair.strip():
            continue
        old, sep, new = (part.strip() for part in pair.partition("="))
        if not sep or not old or not new:
            raise LSTMTraceError(
                f"--names: expected OLD=NEW pairs separated by commas, got {pair!r}"
            )
        if old in out:
            raise LSTMTraceError(f"--names: {old!r} is renamed twice")
        out[old] = new
    return out


#: what the configuration options default to: the walkthrough's LSTMConfig
DEFAULT_INPUT, DEFAULT_HIDDEN, DEFAULT_SEQ_LEN = (
    LSTMConfig.input_size,
    LSTMConfig.hidden_size,
    LSTMConfig.seq_len,
)
DEFAULT_LAYERS, DEFAULT_PROJ = LSTMConfig.num_layers, LSTMConfig.proj_size


def config_options(
    ctx: typer.Context,
    *,
    input_size: int | None,
    hidden_size: int | None,
    seq_len: int | None,
    batch: int | None,
    num_layers: int | None,
    direction: Direction | None,
    bidirectional: bool,
    proj_size: int | None,
    dtype: DType | None,
    seed: int,
    bias: bool = True,
    cell: CellKind | None = None,
    reset_after: bool = True,
    peepholes: bool = False,
) -> dict[str, Any]:
    """The options as LSTMConfig fields, None where not given (an option left at its default
    is not given: a weights file may supply it); refuses a contradiction.

    The options carry their real defaults, so that --help shows them as every other default
    is shown; ctx tells which ones the user typed."""

    def typed(name: str, value: Any) -> Any:
        source = ctx.get_parameter_source(name)  # Click's ParameterSource (Typer vendors Click)
        # None: a command without this option (the library's defaults apply)
        return None if source is None or source.name == "DEFAULT" else value

    input_size, hidden_size = typed("input_size", input_size), typed("hidden_size", hidden_size)
    seq_len, num_layers = typed("seq_len", seq_len), typed("num_layers", num_layers)
    proj_size, dtype = typed("proj_size", proj_size), typed("dtype", dtype)
    direction, bias = typed("direction", direction), typed("bias", bias)
    cell, reset_after = typed("cell", cell), typed("reset_after", reset_after)
    peepholes = typed("peepholes", peepholes)
    if bidirectional and direction not in (None, Direction.bi):
        raise LSTMTraceError(
            f"--bidirectional contradicts --direction {direction.value}; give one of them"
        )
    chosen = Direction.bi if bidirectional else direction
    return {
        "input_size": input_size,
        "hidden_size": hidden_size,
        "seq_len": seq_len,
        "batch": batch,
        "num_layers": num_layers,
        "direction": None if chosen is None else chosen.value,
        "proj_size": proj_size,
        "bias": bias,
        "cell": None if cell is None else cell.value,
        "reset_after": reset_after,
        "peepholes": peepholes,
        "dtype": None if dtype is None else dtype.value,
        "seed": seed,
    }


def typed_options(*, bidirectional: bool) -> dict[str, str]:
    """What the user typed for a field that two options set, so that a message names the one
    typed: --bidirectional, not --direction bi."""
    return {"direction": "--bidirectional"} if bidirectional else {}


MaxMemoryOpt = Annotated[
    str,
    typer.Option(
        "--max-memory",
        help="Refuse files that declare more than this, and runs that would need more.",
    ),
]


# --- files and output of the trace command ---------------------------------------------------

XOpt = Annotated[
    Path | None,
    _opt("--x", help="Input .npy, (B, T, I) or (T, I); sets T and the batch.", panel=FILES),
]
H0Opt = Annotated[
    Path | None, _opt("--h0", help="Initial h .npy, (D*layers, [B,] H_out).", panel=FILES)
]
C0Opt = Annotated[
    Path | None, _opt("--c0", help="Initial C .npy, (D*layers, [B,] H).", panel=FILES)
]
SeqFirstOpt = Annotated[
    bool,
    _opt(
        "--seq-first",
        help="--x is (T, B, I) and --dump's output (T, B, ...), as batch_first=False.",
        panel=FILES,
    ),
]
DumpOpt = Annotated[
    Path | None, _opt("--dump", help="Write output, h_n and c_n to this .npz.", panel=FILES)
]
DumpAllOpt = Annotated[
    bool, _opt("--dump-all", help="With --dump: every traced tensor too.", panel=FILES)
]
SaveWeightsOpt = Annotated[
    Path | None,
    _opt(
        "--save-weights",
        help="Save the weights of this run (PyTorch names; Keras for .weights.h5).",
        panel=FILES,
    ),
]
StepsOpt = Annotated[
    str | None,
    _opt(
        "--steps",
        help="Steps to show: all, a list (0,2,-1) or a range (1:4).",
        panel=OUTPUT,
        show_default="every step up to 4, else the first and last",
    ),
]
SamplesOpt = Annotated[
    int, _opt("--samples", help="Values shown per tensor (0: none).", panel=OUTPUT)
]
JsonOpt = Annotated[bool, _opt("--json", help="Shorthand for --format json.", panel=OUTPUT)]


QuietOpt = Annotated[
    bool,
    _opt(
        "--quiet",
        "-q",
        help="No notes on stderr (what was read, written, assumed) and no progress bar; "
        "errors are still said.",
        panel=OUTPUT,
        callback=set_quiet,
    ),
]
ExpectOpt = Annotated[
    list[str] | None,
    _opt(
        "--expect",
        help="NAME=VALUE, repeatable: output=10,140, W_f=70,102, W_f@1=70,210, "
        "params.keras=28840; or finite: no NaN or Inf anywhere. Exit 1 if any fails.",
        panel=OUTPUT,
    ),
]
FrameworksOpt = Annotated[
    bool,
    _opt(
        "--frameworks",
        help="Show where each weight lives in PyTorch, Keras and ONNX (on with --weights).",
        panel=OUTPUT,
    ),
]
GateOpt = Annotated[
    str | None,
    _opt(
        "--gate",
        help="With --format heatmap: "
        + "; ".join(f"{c.title}: {', '.join(c.report_order)}" for c in CELLS.values())
        + "; optionally @LAYER and :backward.",
        panel=OUTPUT,
    ),
]
SvgOpt = Annotated[
    Path | None,
    _opt(
        "--svg",
        help="Write a diagram of the cell (and the unrolled network) with this run's shapes; "
        "with --format heatmap, the heatmap.",
        panel=OUTPUT,
    ),
]
PngOpt = Annotated[
    Path | None,
    _opt("--png", help="The same picture as PNG (needs rsvg-convert or chromium).", panel=OUTPUT),
]
ExportSvgOpt = Annotated[
    Path | None,
    _opt("--export-svg", help="Save the terminal output as an SVG picture.", panel=OUTPUT),
]
ExportHtmlOpt = Annotated[
    Path | None,
    _opt(
        "--export-html",
        help="Save the terminal output as an HTML page (the explorer is --html).",
        panel=OUTPUT,
    ),
]
HtmlOpt = Annotated[
    Path | None,
    _opt(
        "--html",
        help="Write the explorer: one self-contained page with the shapes, the diagrams, "
        "heatmaps of every gate and state, every tensor at a chosen step and gate health.",
        panel=OUTPUT,
    ),
]
