"""Replay errors of lstm_trace.capture against torch itself, as the README quotes them.

    python bench/replay.py        (torch needed)

Each case runs a module on random input (B=4, T=50, I=16, H=32) inside capture() and prints
the largest absolute difference between lstm-trace's output (and final states) and torch's.
"""

from __future__ import annotations

import torch

import lstm_trace


def modules() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {
        "nn.LSTM bi 2 layers proj 8": torch.nn.LSTM(
            16, 32, num_layers=2, bidirectional=True, proj_size=8, batch_first=True
        ),
        "nn.GRU 2 layers": torch.nn.GRU(16, 32, num_layers=2, batch_first=True),
        "nn.LSTM float64": torch.nn.LSTM(16, 32, batch_first=True).double(),
    }


def main() -> None:
    for name, module in modules().items():
        x = torch.randn(4, 50, 16, dtype=next(module.parameters()).dtype)
        with torch.no_grad(), lstm_trace.capture(module) as traces:
            module(x)
        print(f"{name}: {traces[''].replay_error:.1e}")
    cell = torch.nn.LSTMCell(16, 32)
    x = torch.randn(4, 50, 16)
    h, c = torch.zeros(4, 32), torch.zeros(4, 32)
    with torch.no_grad(), lstm_trace.capture(cell) as traces:
        for t in range(50):
            h, c = cell(x[:, t], (h, c))
    print(f"nn.LSTMCell stepped 50 times: {traces[''].replay_error:.1e}")


if __name__ == "__main__":
    main()
