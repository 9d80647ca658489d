"""The classic walkthrough with the public API: input 32, hidden 70, and the shapes it implies.

Run: python examples/walkthrough.py
"""

from lstm_trace import LSTMConfig, forward, init_input, init_weights, param_count

cfg = LSTMConfig(input_size=32, hidden_size=70)
weights = init_weights(cfg, seed=0)
w = weights.layers[0][0]
print(f"X = [h_(t-1), x_t]: {cfg.h_out} + {cfg.input_size} = {cfg.h_out + cfg.input_size}")
for gate in "fico":
    print(f"W_{gate}: {w.gate_weight(gate).shape}, b_{gate}: {w.gate_bias(gate).shape}")
count = param_count(cfg)
print(f"parameters: Keras {count.keras:,}, PyTorch {count.pytorch:,}")

output, (h_n, c_n) = forward(weights, init_input(cfg))
print(f"output {output.shape}, h_n {h_n.shape}, c_n {c_n.shape}")

bi = LSTMConfig(input_size=32, hidden_size=70, bidirectional=True)
output, _ = forward(init_weights(bi), init_input(bi))
print(f"bidirectional output {output.shape}")

# The GRU, the LSTM's sibling: three gate blocks (r, z, n) instead of four, no cell state.
gru = LSTMConfig(cell="gru", input_size=32, hidden_size=70)
count = param_count(gru)
print(f"GRU parameters: PyTorch {count.pytorch:,}, Keras {count.keras:,}")  # 21,840 both
output, h_n = forward(init_weights(gru), init_input(gru))
print(f"GRU output {output.shape}, h_n {h_n.shape}")
