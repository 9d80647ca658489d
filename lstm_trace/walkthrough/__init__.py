"""The classic walkthrough, narrated with the user's own numbers (`lstm-trace explain`).

Pure text (Markdown) built from an LSTMConfig; the command shows it rendered in the terminal
or prints it raw with --format markdown, and ``lstm_trace.explain`` returns it as an
Explanation, which a notebook shows as HTML with the cell diagram (explanation.py). Each cell
has its own narration (lstm.py, gru.py); what stacking, both directions and the totals say is
shared (common.py). Every number comes from the configuration and its cell (config.kind:
parameters, counts, point sizes).
"""

from __future__ import annotations

from ..config import LSTMConfig
from .gru import explain_gru
from .lstm import explain_lstm

__all__ = ["walkthrough"]


def walkthrough(cfg: LSTMConfig) -> str:
    """The walkthrough for cfg as Markdown: the LSTM's or the GRU's."""
    return explain_gru(cfg) if cfg.cell == "gru" else explain_lstm(cfg)
