"""Trace the recurrent layers of a PyTorch model in memory, on the input they really got.

A small encoder-decoder: an nn.LSTM encoder, and an nn.LSTMCell decoder stepped in a loop
from the encoder's last state. capture() records every call; each cell loop becomes one
sequence. Run: python examples/capture.py (needs torch; without it, says so and stops).
"""

import sys

try:
    import torch
except ImportError:
    print("this example needs torch (pip install torch)")
    sys.exit(0)

import lstm_trace


class Seq2Seq(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = torch.nn.Module()
        self.encoder.lstm = torch.nn.LSTM(8, 16, batch_first=True)
        self.decoder = torch.nn.Module()
        self.decoder.cell = torch.nn.LSTMCell(8, 16)
        self.head = torch.nn.Linear(16, 8)

    def forward(self, x: torch.Tensor, steps: int) -> torch.Tensor:
        _, (h, c) = self.encoder.lstm(x)
        state, y, out = (h[0], c[0]), x[:, -1], []
        for _ in range(steps):  # each step reads the state the one before returned
            state = self.decoder.cell(y, state)
            y = self.head(state[0])
            out.append(y)
        return torch.stack(out, dim=1)


torch.manual_seed(0)
model = Seq2Seq().eval()
batch = torch.randn(4, 10, 8)  # B=4 sequences of T=10 steps, I=8 features

with torch.no_grad(), lstm_trace.capture(model) as traces:
    model(batch, steps=5)

for name, done in traces.items():
    forget = next(g for g in done.health["gates"] if g["gate"] == "forget_gate")
    print(
        f"{name}: output {done.output.shape}, {done.framework_calls} call(s), "
        f"replay error {done.replay_error:.1e}, "
        f"forget gate saturated {forget['saturated_share']:.0%}"
    )
print("weights.source:", traces["decoder.cell"].to_dict()["weights"]["source"])
