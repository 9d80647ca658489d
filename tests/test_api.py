"""The Python API a README reader meets: weights from an in-memory state_dict with the
configuration inferred, and trace() taking T and the batch from x."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace import ConfigError, LSTMConfig, forward, init_weights, trace, weights_from_pytorch
from lstm_trace.formats.writing import write_weights

from .conftest import FIXTURES, load_torch_fixture
from .test_docs import _readme_block


def test_weights_from_pytorch_infers_the_configuration() -> None:
    cfg = LSTMConfig(input_size=5, hidden_size=6, num_layers=2, bidirectional=True, proj_size=3)
    state = {f"encoder.lstm.{k}": v for k, v in init_weights(cfg).to_pytorch().items()}
    w = weights_from_pytorch(state)
    assert w.config == cfg  # prefix dropped; sizes, layers, direction, projection inferred
    assert all(
        np.array_equal(v, w.to_pytorch()[k.removeprefix("encoder.lstm.")]) for k, v in state.items()
    )


def test_weights_from_pytorch_takes_float64_and_keeps_it() -> None:
    cfg = LSTMConfig(input_size=3, hidden_size=4, dtype="float64")
    w = weights_from_pytorch(init_weights(cfg).to_pytorch())
    assert w.config.dtype == "float64"


def test_trace_takes_t_and_batch_from_x() -> None:
    """trace(weights=w, x=x) traces x as it is: the same numbers as the fixture torch made."""
    path = FIXTURES / "torch_bi2_batched_f64.npz"
    cfg, weights, arrays = load_torch_fixture(path)
    w = weights_from_pytorch(weights.to_pytorch())  # config inferred: T and batch unknown
    result = trace(weights=w, x=arrays["x"], h0=arrays["h0"], c0=arrays["c0"])
    assert result.config.seq_len == cfg.seq_len and result.config.batch == cfg.batch
    np.testing.assert_allclose(result.output, arrays["output"], atol=1e-10, rtol=0)
    again = trace(
        replace(w.config, seq_len=cfg.seq_len, batch=cfg.batch),
        w,
        arrays["x"],
        h0=arrays["h0"],
        c0=arrays["c0"],
    )
    np.testing.assert_array_equal(again.output, result.output)


def test_trace_refuses_weights_of_another_architecture() -> None:
    w = init_weights(LSTMConfig(hidden_size=8))
    with pytest.raises(ConfigError, match="hidden_size 8 != 70"):
        trace(LSTMConfig(), w)
    with pytest.raises(ConfigError, match="needs a config"):
        trace()


def test_weights_from_torch_tensors_live(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(4, 5, num_layers=2, batch_first=True)
    with torch.no_grad():
        for name, p in lstm.named_parameters():
            if name.startswith("bias"):
                p.uniform_(-0.5, 0.5)  # non-zero and different biases
    x = torch.randn(2, 7, 4)
    w = weights_from_pytorch(lstm.state_dict())  # tensors as they are, config inferred
    out, (h_n, c_n) = forward(w, x.numpy())
    with torch.no_grad():
        ref, (ref_h, ref_c) = lstm(x)
    np.testing.assert_allclose(out, ref.numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(h_n, ref_h.numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(c_n, ref_c.numpy(), atol=1e-5, rtol=0)
    w2 = weights_from_pytorch(dict(lstm.named_parameters()))  # requires_grad tensors too
    np.testing.assert_array_equal(w2.to_pytorch()["weight_ih_l0"], w.to_pytorch()["weight_ih_l0"])


def test_counted_messages_read_as_english() -> None:
    from lstm_trace.words import counted

    assert counted(1, "layer") == "1 layer" and counted(2, "layer") == "2 layers"
    assert counted(4000, "model") == "4,000 models"


def test_load_weights_reads_any_kind_with_its_architecture(tmp_path: Path) -> None:
    from lstm_trace import load_weights

    cfg = LSTMConfig(input_size=3, hidden_size=4, num_layers=2, bias=False, dtype="float64")
    weights = init_weights(cfg)
    for name, framework in (("a.npz", "pytorch"), ("b.weights.h5", "keras")):
        write_weights(tmp_path / name, weights, framework)
        loaded = load_weights(tmp_path / name)
        assert loaded.config == cfg  # float64 kept from the .npz; Keras files cannot say
        np.testing.assert_array_equal(
            loaded.to_pytorch()["weight_hh_l1"], weights.to_pytorch()["weight_hh_l1"]
        )
    assert load_weights(tmp_path / "a.npz", dtype="float32").config.dtype == "float32"


def test_readme_files_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's Python example of a file and an in-memory model, as written."""
    pytest.importorskip("torch")
    code = _readme_block("weights_from_pytorch(model.state_dict())")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["t"].output.shape == (8, 50, 70)
    assert namespace["t"].health["first_nonfinite"] is None
    assert namespace["w"].config == LSTMConfig(input_size=32, hidden_size=70, num_layers=2)
