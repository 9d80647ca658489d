"""Replay errors of lstm_trace.capture against torch itself (README, Tracing a model in memory):
`python bench/replay.py` (torch needed)."""

import torch, lstm_trace

torch.manual_seed(0)
cases = {
    "nn.LSTM bi 2 layers proj": torch.nn.LSTM(
        16, 32, num_layers=2, bidirectional=True, proj_size=8, batch_first=True
    ),
    "nn.GRU 2 layers": torch.nn.GRU(16, 32, num_layers=2, batch_first=True),
    "nn.LSTM f64": torch.nn.LSTM(16, 32, batch_first=True).double(),
}
for name, m in cases.items():
    x = torch.randn(4, 50, 16, dtype=next(m.parameters()).dtype)
    with torch.no_grad(), lstm_trace.capture(m) as traces:
        m(x)
    print(f"{name}: {traces[''].replay_error:.1e}")
cell = torch.nn.LSTMCell(16, 32)
x = torch.randn(4, 50, 16)
h = torch.zeros(4, 32)
c = torch.zeros(4, 32)
with torch.no_grad(), lstm_trace.capture(cell) as traces:
    for t in range(50):
        h, c = cell(x[:, t], (h, c))
print(f"nn.LSTMCell x50: {traces[''].replay_error:.1e}")
