#!/usr/bin/env bash
# lstm-trace's JSON in jq pipelines. Run: bash examples/ci/jq_pipeline.sh
set -euo pipefail

# Fail (jq -e exits 1) unless a bidirectional layer over 10 steps outputs (10, 140).
lstm-trace --bidirectional --seq-len 10 --json | jq -e '.outputs.output.shape == [10, 140]'

# The parameter counts as each framework reports them.
lstm-trace --bidirectional --json | jq -c '.param_count'

# Stream every step and follow the forget gate's mean over time, one line per step.
lstm-trace --seq-len 6 --format jsonl --steps all \
  | jq -c 'select(.type == "tensor" and .name == "forget_gate") | {step, mean: .stats.mean}'
