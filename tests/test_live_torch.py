"""The live API on PyTorch: capture(model) and trace_module(module, x) against torch itself.

The reference is what torch's own modules return, computed here, with torch's own non-zero
and different biases (b_ih != b_hh): within 1e-5 in float32 and 1e-10 in float64. The first
tests need no torch: they replay a committed fixture of an nn.LSTMCell loop
(fixtures/make_live_fixtures.py) through the same stitching the hooks use.
"""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

import lstm_trace
from lstm_trace import ConfigError, weights_from_pytorch
from lstm_trace.config import LSTMConfig
from lstm_trace.live import NotCaptured
from lstm_trace.live.replay import CallLog
from lstm_trace.schema import load_schema, schemas_by_id

from .conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[1]
TOL = {"float32": 1e-5, "float64": 1e-10}


# --- without torch: the stitching and the replay, on a fixture torch made ----------------------


def _loop_fixture() -> tuple[dict[str, np.ndarray], Any]:
    with np.load(FIXTURES / "live_torch_cell_loop.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    state = {f"{k}_l0": arrays[k] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    config = LSTMConfig(input_size=3, hidden_size=4)
    return arrays, weights_from_pytorch(state, config)


def test_a_cell_loop_is_stitched_into_one_sequence_per_run_from_zeros() -> None:
    """Fed step by step as the hook does (each step's state the previous step's output),
    loop a (5 steps) and loop b (3 steps, from zeros again) are two sequences, each
    replaying what torch computed."""
    arrays, weights = _loop_fixture()
    assert not np.allclose(arrays["bias_ih"], arrays["bias_hh"])
    log = CallLog(["cell"])
    for loop in ("a", "b"):
        x, h, c = arrays[f"x_{loop}"], arrays[f"h_{loop}"], arrays[f"c_{loop}"]
        for t in range(len(x)):
            state = None if t == 0 else (h[t - 1].copy(), c[t - 1].copy())
            log.step("cell").add(weights, x[t], state, (h[t], c[t]))
    calls = log.calls("cell")
    assert [call.framework_calls for call in calls] == [5, 3]
    for call, loop in zip(calls, ("a", "b"), strict=True):
        assert call.h0 is None and call.c0 is None
        done = call.replay({})
        want = arrays[f"h_{loop}"].transpose(1, 0, 2)  # (B, T, H)
        assert done.output.shape == want.shape == (2, len(want[0]), 4)
        assert np.abs(done.output - want).max() < 1e-5
        assert np.abs(done.c_n[0] - arrays[f"c_{loop}"][-1]).max() < 1e-5  # type: ignore[index]
        assert done.replay_error is not None and done.replay_error < 1e-5


def test_a_state_from_elsewhere_starts_a_new_sequence_from_that_state() -> None:
    arrays, weights = _loop_fixture()
    x, h, c = arrays["x_a"], arrays["h_a"], arrays["c_a"]
    log = CallLog(["cell"])
    log.step("cell").add(weights, x[0], None, (h[0], c[0]))
    log.step("cell").add(weights, x[1], (h[0], c[0]), (h[1], c[1]))
    log.step("cell").add(weights, x[2], (h[1] * 0.5, c[1]), (h[2], c[2]))  # not the output
    first, second = log.calls("cell")
    assert (first.framework_calls, second.framework_calls) == (2, 1)
    assert second.h0 is not None and np.array_equal(second.h0[0], h[1] * 0.5)
    # torch's step 2 read (h[1], c[1]), not this state: the replay says they differ
    assert (second.replay({}).replay_error or 0) > 1e-3
    assert first.replay({}).replay_error < 1e-5  # type: ignore[operator]


def test_capture_and_trace_module_are_the_packages_and_load_when_asked_for() -> None:
    code = (
        "import sys, lstm_trace\n"
        "before = 'lstm_trace.live' in sys.modules\n"
        "from lstm_trace import capture, trace_module\n"
        "print(before, capture.__module__, trace_module.__module__, lstm_trace.capture is capture)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "lstm_trace.live", "lstm_trace.live", "True"]


def test_capture_refuses_what_is_not_a_model_and_options_a_call_gives() -> None:
    with pytest.raises(ConfigError, match=r"takes a torch\.nn\.Module or a Keras model"):
        lstm_trace.capture(object())
    with pytest.raises(ConfigError, match="h0, x: the capture takes these"):
        lstm_trace.capture(object(), x=1, h0=2)
    with pytest.raises(ConfigError, match=r"stepz: not an option of trace\(\); .* are steps, "):
        lstm_trace.trace_module(object(), None, stepz="all")


# --- live: torch ----------------------------------------------------------------------------


@pytest.fixture
def torch() -> Any:
    return pytest.importorskip("torch")


def _dtype(torch: Any, name: str) -> Any:
    return getattr(torch, name)


def _assert_matches(done: Any, output: Any, h_n: Any, c_n: Any, dtype: str) -> None:
    """The trace against torch's tensors, computed here, and replay_error the same number."""
    pairs = [(done.output, output), (done.h_n, h_n)] + (
        [(done.c_n, c_n)] if c_n is not None else []
    )
    errors = [np.abs(ours - theirs.detach().numpy()).max() for ours, theirs in pairs]
    assert max(errors) < TOL[dtype]
    assert done.replay_error == pytest.approx(max(errors), abs=1e-300)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_first", [True, False])
def test_an_lstm_bidirectional_two_layers_projected(
    torch: Any, dtype: str, batch_first: bool
) -> None:
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(
        5, 6, num_layers=2, bidirectional=True, proj_size=3, batch_first=batch_first,
        dtype=_dtype(torch, dtype),
    )  # fmt: skip
    assert not torch.allclose(lstm.bias_ih_l1_reverse, lstm.bias_hh_l1_reverse)
    x = torch.randn(2, 7, 5, dtype=_dtype(torch, dtype))
    x = x if batch_first else x.transpose(0, 1)
    with lstm_trace.capture(lstm) as traces:
        output, (h_n, c_n) = lstm(x)
    done = traces[""]
    assert done.config.direction == "bi" and done.config.proj_size == 3
    assert done.config.num_layers == 2 and done.config.dtype == dtype
    assert done.config.batch == 2 and done.config.seq_len == 7
    _assert_matches(done, output if batch_first else output.transpose(0, 1), h_n, c_n, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_gru_and_an_unbatched_bias_free_one(torch: Any, dtype: str) -> None:
    torch.manual_seed(1)
    gru = torch.nn.GRU(4, 5, num_layers=2, batch_first=True, dtype=_dtype(torch, dtype))
    plain = torch.nn.GRU(4, 3, bias=False, dtype=_dtype(torch, dtype))
    x = torch.randn(3, 6, 4, dtype=_dtype(torch, dtype))
    with lstm_trace.capture(torch.nn.ModuleDict({"gru": gru, "plain": plain})) as traces:
        output, h_n = gru(x)
        unbatched, h_plain = plain(x[0])  # (T, I): no batch axis
    assert sorted(traces) == ["gru", "plain"]
    _assert_matches(traces["gru"], output, h_n, None, dtype)
    assert traces["plain"].config.batch is None and traces["plain"].config.bias is False
    _assert_matches(traces["plain"], unbatched, h_plain, None, dtype)


class EncoderDecoder:
    """An encoder nn.LSTM whose last state starts a decoder nn.LSTM (hx given)."""

    @staticmethod
    def make(torch: Any) -> Any:
        class Model(torch.nn.Module):  # type: ignore[misc]
            def __init__(self) -> None:
                super().__init__()
                self.encoder = torch.nn.Sequential()
                self.encoder.lstm = torch.nn.LSTM(4, 6, batch_first=True)
                self.decoder = torch.nn.LSTM(3, 6, batch_first=True)
                self.head = torch.nn.Linear(6, 2)

            def forward(self, x: Any, y: Any) -> Any:
                _, state = self.encoder.lstm(x)
                out, _ = self.decoder(y, hx=state)  # by name: with_kwargs sees it
                return self.head(out)

        return Model()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_an_encoder_and_a_decoder_started_from_its_state(torch: Any, dtype: str) -> None:
    torch.manual_seed(2)
    model = EncoderDecoder.make(torch).to(_dtype(torch, dtype))
    x = torch.randn(2, 5, 4, dtype=_dtype(torch, dtype))
    y = torch.randn(2, 3, 3, dtype=_dtype(torch, dtype))
    with lstm_trace.capture(model) as traces:
        model(x, y)
    assert list(traces) == ["encoder.lstm", "decoder"] and traces.modules == list(traces)
    encoder, decoder = traces["encoder.lstm"], traces["decoder"]
    with torch.no_grad():
        _, state = model.encoder.lstm(x)
        out, (h_n, c_n) = model.decoder(y, state)
        from_zeros = model.decoder(y)[0]
    _assert_matches(decoder, out, h_n, c_n, dtype)
    # the decoder started from the encoder's state: from zeros, torch gives another output
    assert np.abs(decoder.output - from_zeros.numpy()).max() > 1e-3
    assert np.abs(encoder.h_n - state[0].numpy()).max() < TOL[dtype]
    assert decoder.weights_info()["source"] == "captured: decoder"
    assert encoder.to_dict()["weights"]["source"] == "captured: encoder.lstm"


@pytest.mark.parametrize("kind", ["LSTMCell", "GRUCell"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_cell_stepped_in_a_loop_is_one_sequence_and_a_restart_another(
    torch: Any, kind: str, dtype: str
) -> None:
    torch.manual_seed(3)
    cell = getattr(torch.nn, kind)(3, 4, dtype=_dtype(torch, dtype))
    xs = torch.randn(2, 6, 3, dtype=_dtype(torch, dtype))
    runs = []
    with lstm_trace.capture(cell) as traces:
        for steps in (6, 2):  # a loop, then a loop from zeros again
            state, outs = None, []
            for t in range(steps):
                state = cell(xs[:, t], state)
                outs.append(state[0] if isinstance(state, tuple) else state)
            runs.append((torch.stack(outs, 1), state))
    sequences = traces.calls("")
    assert [s.framework_calls for s in sequences] == [6, 2] and traces[""] is sequences[-1]
    for done, (output, state) in zip(sequences, runs, strict=True):
        h, c = state if isinstance(state, tuple) else (state, None)
        _assert_matches(done, output, h[None], None if c is None else c[None], dtype)


def test_a_cell_continued_from_a_given_state_starts_there(torch: Any) -> None:
    torch.manual_seed(4)
    cell = torch.nn.LSTMCell(3, 4, dtype=torch.float64)
    h0, c0 = torch.randn(2, 4, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    x = torch.randn(2, 3, 3, dtype=torch.float64)
    done = lstm_trace.trace_module(cell, x.numpy(), h0=h0.numpy(), c0=c0.numpy())
    assert done.framework_calls == 3
    state = (h0, c0)
    outs = []
    with torch.no_grad():
        for t in range(3):
            state = cell(x[:, t], state)
            outs.append(state[0])
    _assert_matches(done, torch.stack(outs, 1), state[0][None], state[1][None], "float64")


def test_trace_module_runs_an_lstm_from_h0_alone(torch: Any) -> None:
    torch.manual_seed(5)
    lstm = torch.nn.LSTM(3, 5, proj_size=2, dtype=torch.float64)  # (T, B, I)
    x = torch.randn(4, 2, 3, dtype=torch.float64)
    h0 = torch.randn(1, 2, 2, dtype=torch.float64, requires_grad=True)
    done = lstm_trace.trace_module(lstm, x, h0=h0, steps="all", samples=2)
    with torch.no_grad():
        output, (h_n, c_n) = lstm(x, (h0, torch.zeros(1, 2, 5, dtype=torch.float64)))
    _assert_matches(done, output.transpose(0, 1), h_n, c_n, "float64")
    assert list(done.selection.steps) == [0, 1, 2, 3] and done.samples == 2
    assert done.health and len(done.tensors) > 0
    assert done.name == "LSTM" and done.weights_info()["source"] == "captured: LSTM"


def test_weights_changed_between_calls_are_read_again(torch: Any) -> None:
    """An optimizer's in-place step between two calls: each call replays its own weights."""
    torch.manual_seed(6)
    lstm = torch.nn.LSTM(3, 4, batch_first=True)
    x = torch.randn(2, 5, 3)
    with lstm_trace.capture(lstm) as traces:
        first = lstm(x)[0]
        with torch.no_grad():
            lstm.weight_hh_l0.mul_(1.5)
        second = lstm(x)[0]
        lstm.bias_ih_l0.data.add_(0.25)  # through .data: torch's version counter misses it
        third = lstm(x)[0]
        fourth = lstm(x)[0]
    calls = traces.calls("")
    for done, output in zip(calls, (first, second, third, fourth), strict=True):
        assert np.abs(done.output - output.detach().numpy()).max() < 1e-5
    digests = [done.weights_info()["digest"] for done in calls]
    assert len(set(digests[:3])) == 3 and digests[3] == digests[2]
    assert calls[3].weights.layers is calls[2].weights.layers  # unchanged: converted once


def test_hooks_are_removed_after_the_with_and_when_it_raises(torch: Any) -> None:
    model = EncoderDecoder.make(torch)
    x, y = torch.randn(1, 2, 4), torch.randn(1, 2, 3)
    with lstm_trace.capture(model) as traces:
        assert model.decoder._forward_hooks
        model(x, y)
    model(x, y)  # after the with: not recorded
    assert len(traces.calls("decoder")) == 1
    with pytest.raises(RuntimeError, match="boom"), lstm_trace.capture(model):
        raise RuntimeError("boom")
    assert not model.decoder._forward_hooks and not model.encoder.lstm._forward_hooks
    with pytest.raises(NotCaptured, match="'head'"):
        traces["head"]


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_torchscript_is_refused_and_pointed_to_the_file_route(torch: Any) -> None:
    lstm = torch.nn.LSTM(3, 4)
    with pytest.raises(ConfigError, match=r"TorchScript.*lstm-trace --weights model.jit"):
        lstm_trace.capture(torch.jit.script(lstm))
    holder = torch.nn.Module()
    holder.inner = torch.jit.script(torch.nn.GRU(3, 4))
    with pytest.raises(ConfigError, match="'inner' is a TorchScript module"):
        lstm_trace.capture(holder)


def test_a_packed_sequence_is_refused_by_name(torch: Any) -> None:
    lstm = torch.nn.LSTM(3, 4)
    packed = torch.nn.utils.rnn.pack_padded_sequence(torch.randn(5, 2, 3), [5, 3])
    with pytest.raises(ConfigError, match=r"PackedSequence.*pad_packed_sequence"):  # noqa: SIM117
        with lstm_trace.capture(lstm):
            lstm(packed)
    assert not lstm._forward_hooks


def test_dropout_between_layers_in_training_mode_is_refused(torch: Any) -> None:
    lstm = torch.nn.LSTM(3, 4, num_layers=2, dropout=0.3)
    x = torch.randn(4, 2, 3)
    with pytest.raises(ConfigError, match=r"dropout=0.3.*model.eval\(\)"):  # noqa: SIM117
        with lstm_trace.capture(lstm):
            lstm(x)
    lstm.eval()
    with lstm_trace.capture(lstm) as traces:
        output = lstm(x)[0]
    assert np.abs(traces[""].output - output.detach().numpy().transpose(1, 0, 2)).max() < 1e-5


def test_half_precision_and_modules_without_a_recurrent_layer_are_refused(torch: Any) -> None:
    with pytest.raises(ConfigError, match="float16 weights; lstm-trace traces float32"):
        lstm_trace.capture(torch.nn.LSTM(3, 4).half())
    with pytest.raises(ConfigError, match=r"found no nn\.LSTM.*in this Linear"):
        lstm_trace.capture(torch.nn.Linear(3, 4))
    with pytest.raises(ConfigError, match="c0: a GRU has no cell state"):
        lstm_trace.trace_module(torch.nn.GRU(3, 4), np.zeros((2, 3)), c0=np.zeros((1, 4)))


def test_the_example_runs(torch: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """In this process (torch is loaded already); test_docs runs it as a script too."""
    runpy.run_path(str(ROOT / "examples" / "capture.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "encoder.lstm: output (4, 10, 16), 1 call(s)" in out
    assert "decoder.cell: output (4, 5, 16), 5 call(s)" in out
    errors = [float(e.split(",")[0]) for e in out.split("replay error ")[1:]]
    assert len(errors) == 2 and max(errors) < 1e-5
    assert "weights.source: captured: decoder.cell" in out


def test_an_unbatched_cell_loop_and_its_document_against_the_schema(torch: Any) -> None:
    torch.manual_seed(8)
    cell = torch.nn.GRUCell(3, 2, dtype=torch.float64)
    xs = torch.randn(4, 3, dtype=torch.float64)  # (T, I): each step's x is (I,)
    with torch.no_grad(), lstm_trace.capture(cell) as traces:
        h, outs = None, []
        for t in range(4):
            h = cell(xs[t], h)
            outs.append(h)
    done = traces[""]
    assert done.config.batch is None and done.output.shape == (4, 2)
    _assert_matches(done, torch.stack(outs), h[None], None, "float64")
    registry = Registry().with_resources(
        (uri, DRAFT202012.create_resource(schema)) for uri, schema in schemas_by_id().items()
    )
    doc = json.loads(json.dumps(done.to_dict()))
    assert (
        list(Draft202012Validator(load_schema("trace"), registry=registry).iter_errors(doc)) == []
    )
    assert doc["weights"]["source"] == "captured: the model itself"
    assert doc["config"]["cell"] == "gru" and doc["config"]["seq_len"] == 4
