"""`lstm-trace explain`: the classic walkthrough, narrated with the user's own numbers.

Pure text (Markdown) built from an LSTMConfig; the command shows it rendered in the terminal
or prints it raw with --format markdown. Each cell has its own narration (lstm.py, gru.py);
what stacking, both directions and the totals say is shared (common.py). Every number comes
from the configuration and its cell (config.kind: parameters, counts, point sizes).
"""

from __future__ import annotations

from ..config import LSTMConfig
from .gru import explain_gru
from .lstm import explain_lstm

__all__ = ["explain"]


def explain(cfg: LSTMConfig) -> str:
    """The walkthrough for cfg as Markdown: the LSTM's or the GRU's."""
    return explain_gru(cfg) if cfg.cell == "gru" else explain_lstm(cfg)
