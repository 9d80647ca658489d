"""Formatting shared by the human-readable renderers."""

from __future__ import annotations

from collections.abc import Sequence

from ..config import LSTMConfig


def shape_text(shape: Sequence[int]) -> str:
    """(70,) -> '(70,)', (4, 70) -> '(4, 70)': NumPy's own notation, as in the JSON."""
    return str(tuple(shape))


def numel(shape: Sequence[int]) -> int:
    """Number of elements of a shape."""
    n = 1
    for s in shape:
        n *= s
    return n


def matrix_text(shape: Sequence[int]) -> str:
    """(70, 102) -> '70 x 102', the walkthrough's notation for weights."""
    return " x ".join(str(n) for n in shape)


def sample_text(sample: Sequence[float | None], more: bool, marks: Sequence[str] = ()) -> str:
    """[0.4123, -1.5] -> ' 0.412 -1.500 ...': fixed width so the columns line up; a value
    that is not finite shows as nan, inf or -inf (marks), not as a number."""
    parts = [
        f"{(marks[i] if i < len(marks) else 'nan'):>6}" if v is None else f"{v: .3f}"
        for i, v in enumerate(sample)
    ]
    return " ".join(parts) + (" ..." if more else "")


def config_line(cfg: LSTMConfig) -> str:
    """'LSTM input=32 hidden=70 layers=1 uni unbatched T=3 float32 seed=0': the cell's name,
    the sizes, the direction ('uni', 'bi' or 'reverse'), then what is set beside the usual:
    'no-bias' for a layer without biases, 'peepholes' for an LSTM with them,
    'reset_after=False' for a GRU that resets h_(t-1) before the product (Keras's other
    form). It fits 80 columns with a projection and a batch; a GRU with reset_after=False,
    a batch and direction reverse is a little wider (the table view wraps it)."""
    parts = [
        f"input={cfg.input_size}",
        f"hidden={cfg.hidden_size}",
        *([f"proj={cfg.proj_size}"] if cfg.proj_size else []),
        f"layers={cfg.num_layers}",
        cfg.direction,
        *([] if cfg.bias else ["no-bias"]),
        *(["peepholes"] if cfg.peepholes else []),
        *([] if cfg.reset_after else ["reset_after=False"]),
        "unbatched" if cfg.batch is None else f"batch={cfg.batch}",
        f"T={cfg.seq_len}",
        cfg.dtype,
        f"seed={cfg.seed}",
    ]
    return f"{cfg.kind.title} " + " ".join(parts)


def count_text(value: int | None, why: str | None) -> str:
    """A framework's parameter count, '21,840', or 'none (why)' where it has no such layer."""
    return f"none ({why})" if value is None else f"{value:,}"
