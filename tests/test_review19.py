"""A review of the trace bookkeeping and the kernel's stats and gate health: an input that
is an ndarray subclass is read as its plain array again; the gate-health plans of a long pass
share one copy of the thresholds; and the compiled stats() and the loop's per-piece gate
health on the edges the review probed (bad arguments after good ones, strides of every sign,
samples of the wrong shape, backward passes and calls that start in the middle of a piece).

The kernel's crash cases run in a subprocess, so that a segmentation fault fails the test
instead of ending the run; the kernel's tests are skipped without the compiled kernel.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from lstm_trace import LSTMConfig, init_input, trace


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix
def test_an_ndarray_subclass_input_is_traced_as_its_plain_array() -> None:
    """x as an np.matrix (T, I) was taken as it is, without asarray: its rows stay (1, I)
    matrices, and the pass failed inside with 'shapes (1,15) and (1,15) not aligned'."""
    cfg = LSTMConfig(input_size=3, hidden_size=4, seq_len=5)
    x = init_input(cfg)
    want = json.dumps(trace(cfg, x=x).to_dict())
    assert json.dumps(trace(cfg, x=np.asmatrix(x)).to_dict()) == want
