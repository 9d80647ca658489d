"""Hooks can replace a value: force the forget gate to 0 and watch the cell forget.

With f_t = 0 the update C_t = f_t * C_(t-1) + i_t * C~_t keeps nothing of C_(t-1), so
C_t = i_t * C~_t at every step. Run: python examples/force_forget_gate.py
"""

import numpy as np

from lstm_trace import HookEvent, LSTMConfig, forward, init_input, init_weights

cfg = LSTMConfig(input_size=8, hidden_size=4, seq_len=5, dtype="float64")
weights, x = init_weights(cfg), init_input(cfg)
seen: dict[tuple[str, int], np.ndarray] = {}


def forget_everything(event: HookEvent) -> float | None:
    seen[(event.name, event.step)] = event.value.copy()
    return 0.0 if event.name == "forget_gate" else None  # a scalar broadcasts to (H,)


normal, _ = forward(weights, x)
forgetful, _ = forward(weights, x, hooks=[forget_everything])
for t in range(cfg.seq_len):
    c, i, g = seen[("cell_state", t)], seen[("input_gate", t)], seen[("candidate", t)]
    assert np.array_equal(c, i * g)
print("C_t == i_t * C~_t at every step")
print("largest change of h_t:", float(np.abs(normal - forgetful).max()))
