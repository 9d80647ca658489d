"""ONNX files read as data (formats/onnx_read.py, onnx_graph.py, onnx_stack.py) and written
(onnx_write.py).

Every reading is checked against onnxruntime's own outputs, saved beside the models by
fixtures/make_onnxmodel_fixtures.py and make_onnx_fixtures.py: the module read, traced by
lstm-trace on the saved input from the module's initial states, must give the runtime's
outputs within 1e-5. Those need only the onnx package (the test extra); onnxruntime runs live
where installed, on the models lstm-trace writes.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace import LSTMConfig, forward, init_weights, trace
from lstm_trace.errors import ConfigError, FileError
from lstm_trace.formats.onnx_read import pytorch_state
from lstm_trace.formats.reading import read_contents, read_weights
from lstm_trace.formats.writing import write_weights

from .conftest import FIXTURES, run_cli

onnx = pytest.importorskip("onnx")
helper, numpy_helper = onnx.helper, onnx.numpy_helper
FLOAT = onnx.TensorProto.FLOAT


def load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def run_module(
    path: Path, module: str | None, x: np.ndarray, batch_first: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """lstm-trace's trace of one module of an .onnx file on x, from the module's initial
    states: (output (B, T, D*H), h_n, c_n)."""
    wf = read_weights(path, module=module)
    xb = x if batch_first else x.transpose(1, 0, 2)
    cfg = replace(wf.architecture.config(), batch=xb.shape[0], seq_len=xb.shape[1])
    result = trace(cfg, wf.build(cfg), xb, h0=wf.initial.get("h0"), c0=wf.initial.get("c0"))
    return result.output, result.h_n, result.c_n


def close(got: Any, want: np.ndarray) -> None:
    np.testing.assert_allclose(np.asarray(got), want, rtol=0, atol=1e-5)


def as_y(output: np.ndarray, directions: int) -> np.ndarray:
    """lstm-trace's output (B, T, D*H) as ONNX's Y (T, D, B, H)."""
    b, t, dh = output.shape
    return output.reshape(b, t, directions, dh // directions).transpose(1, 2, 0, 3)


# --- what torch.onnx.export writes ----------------------------------------------------------


@pytest.mark.parametrize("case", ["torch_lstm_bi2", "dynamo_lstm_bi2"])
def test_an_exported_two_layer_bidirectional_lstm_is_one_stacked_module(case: str) -> None:
    path = FIXTURES / f"onnxmodel_{case}.onnx"
    a = load(path.with_suffix(".npz"))
    contents = read_contents(path)
    stack = [m for m in contents.modules if m.parts]
    assert len(contents.modules) == 3 and len(stack) == 1
    assert stack[0].name == "+".join(stack[0].parts) and stack[0].framework == "onnx"
    arch = stack[0].architecture
    assert (arch.num_layers, arch.direction, arch.input_size, arch.hidden_size) == (2, "bi", 3, 4)
    assert stack[0].initial == {}  # the exporters' zero initial states are lstm-trace's own
    output, h_n, c_n = run_module(path, None, a["X"], batch_first=False)  # the stack by default
    close(output.transpose(1, 0, 2), a["out:output"])
    close(h_n, a["out:h_n"])
    close(c_n, a["out:c_n"])


def test_the_default_exporter_keeps_weights_in_external_data_read_beside_the_model() -> None:
    path = FIXTURES / "onnxmodel_dynamo_lstm_bi2.onnx"
    model = onnx.load(str(path), load_external_data=False)
    external = [t for t in model.graph.initializer if t.data_location == 1]
    assert external and path.with_suffix(".onnx.data").is_file()


def test_an_exported_batch_first_gru_stack() -> None:
    path = FIXTURES / "onnxmodel_torch_gru2.onnx"
    a = load(path.with_suffix(".npz"))
    wf = read_weights(path)
    assert wf.module == "/GRU+/GRU_1" and wf.kind == "gru" and wf.architecture.reset_after
    output, h_n, _ = run_module(path, None, a["X"], batch_first=True)
    close(output, a["out:output"])
    close(h_n, a["out:h_n"])
    one, _, _ = run_module(path, "/GRU", a["X"], batch_first=True)  # a part alone
    assert one.shape == (2, 4, 5)


# --- onnx.helper graphs ---------------------------------------------------------------------

SINGLE = sorted(FIXTURES.glob("onnx_*.onnx"))  # make_onnx_fixtures.py's


@pytest.mark.parametrize("path", SINGLE, ids=lambda p: p.stem)
def test_single_node_models_match_onnxruntime(path: Path) -> None:
    a = load(path.with_suffix(".npz"))
    wf = read_weights(path)
    cell, direction = str(a["meta_cell"]), str(a["meta_direction"])
    arch = wf.architecture
    assert (arch.cell, wf.framework) == (cell, "onnx")
    assert (
        arch.direction == {"forward": "uni", "reverse": "reverse", "bidirectional": "bi"}[direction]
    )
    if cell == "lstm":
        assert arch.peepholes == bool(a["meta_peepholes"])
    else:
        assert arch.reset_after == bool(a["meta_linear_before_reset"])
    assert ("h0" in wf.initial) == ("initial_h" in a)
    output, h_n, c_n = run_module(path, None, a["X"], batch_first=False)
    close(as_y(output, a["Y"].shape[1]), a["Y"])
    close(h_n, a["Y_h"])
    if cell == "lstm":
        close(c_n, a["Y_c"])


def test_layout1_nodes_read_their_batch_first_states() -> None:
    path = FIXTURES / "onnxmodel_layout1.onnx"
    a = load(path.with_suffix(".npz"))
    contents = read_contents(path)
    assert [(m.name, m.kind) for m in contents.modules] == [
        ("encoder", "peephole_lstm"),
        ("side", "gru"),
    ]
    encoder, side = contents.modules
    assert any("layout=1" in n for n in encoder.notes)
    assert encoder.initial["h0"].shape == (2, 2, 4)  # (D, B, H) from the file's (B, D, H)
    assert side.architecture.direction == "reverse" and not side.architecture.reset_after
    out, h_n, c_n = run_module(path, "encoder", a["X"], batch_first=True)
    close(out.reshape(a["out:lstm_Y"].shape), a["out:lstm_Y"])  # (B, T, D, H)
    close(h_n.transpose(1, 0, 2), a["out:lstm_Y_h"])
    close(c_n.transpose(1, 0, 2), a["out:lstm_Y_c"])  # type: ignore[union-attr]
    out, h_n, _ = run_module(path, "side", a["X"], batch_first=True)
    close(out.reshape(a["out:gru_Y"].shape), a["out:gru_Y"])
    close(h_n.transpose(1, 0, 2), a["out:gru_Y_h"])


def test_if_branches_are_modules_whose_constant_subgraphs_are_evaluated() -> None:
    path = FIXTURES / "onnxmodel_if_branches.onnx"
    a = load(path.with_suffix(".npz"))
    names = read_contents(path).names()
    assert sorted(names) == ["If_0/else_branch/GRU#0", "If_0/then_branch/lstm"]
    with pytest.raises(ConfigError, match="say which with --module"):
        read_weights(path)
    for branch, module in (("then", "If_0/then_branch/lstm"), ("else", "If_0/else_branch/GRU#0")):
        out, h_n, _ = run_module(path, module, a["X"], batch_first=False)
        close(as_y(out, 1), a[f"{branch}:Y"])
        close(h_n, a[f"{branch}:Y_h"])


def test_gate_blocks_move_from_onnx_order_to_pytorch_order() -> None:
    h = 1
    w = np.arange(4.0).reshape(1, 4, 1)  # blocks i=0, o=1, f=2, c=3 (ONNX)
    b = np.arange(8.0).reshape(1, 8)
    p = np.array([[10.0, 11.0, 12.0]])  # i, o, f
    state = pytorch_state({"W": w, "R": w, "B": b, "P": p}, "lstm", "uni", h)
    assert state["weight_ih_l0"].ravel().tolist() == [0, 2, 3, 1]  # i, f, g, o
    assert state["bias_hh_l0"].tolist() == [4, 6, 7, 5]
    assert state["weight_peep_l0"].tolist() == [10, 12, 11]  # i, f, o
    zrh = np.arange(3.0).reshape(1, 3, 1)
    gru = pytorch_state({"W": zrh, "R": zrh}, "gru", "reverse", h)
    assert gru["weight_ih_l0_reverse"].ravel().tolist() == [1, 0, 2]  # z, r, h -> r, z, n


# --- models built here, for what the reader refuses ---------------------------------------


def lstm_model(
    tmp_path: Path,
    name: str = "m.onnx",
    *,
    attrs: dict[str, Any] | None = None,
    extra_inputs: dict[int, str] | None = None,
    w_from: str = "init",
    extra_nodes: list[Any] | None = None,
    seq_lens: np.ndarray | None = None,
) -> Path:
    """A one-LSTM model (I 2, H 3, T 4, B 1) with whatever the test changes."""
    rng = np.random.default_rng(5)
    arrays = {
        "W": rng.standard_normal((1, 12, 2)).astype(np.float32),
        "R": rng.standard_normal((1, 12, 3)).astype(np.float32),
        "B": rng.standard_normal((1, 24)).astype(np.float32),
    }
    inits = [
        numpy_helper.from_array(v, k) for k, v in arrays.items() if k != "W" or w_from == "init"
    ]
    graph_inputs = [helper.make_tensor_value_info("X", FLOAT, [4, 1, 2])]
    nodes = list(extra_nodes or [])
    if w_from == "input":
        graph_inputs.append(helper.make_tensor_value_info("W", FLOAT, [1, 12, 2]))
    inputs = ["X", "W", "R", "B"]
    if seq_lens is not None:
        inits.append(numpy_helper.from_array(seq_lens, "lens"))
        inputs.append("lens")
    for position, tensor in (extra_inputs or {}).items():
        inputs += [""] * (position + 1 - len(inputs))
        inputs[position] = tensor
        if tensor not in {i.name for i in inits}:
            graph_inputs.append(helper.make_tensor_value_info(tensor, onnx.TensorProto.INT32, [1]))
    nodes.append(helper.make_node("LSTM", inputs, ["Y"], name="lstm", hidden_size=3,
                                  **(attrs or {})))  # fmt: skip
    graph = helper.make_graph(
        nodes, "g", graph_inputs, [helper.make_tensor_value_info("Y", FLOAT, None)], inits
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / name
    onnx.save(model, path)
    return path


def refused(capsys: Any, path: Path, *extra: Any) -> str:
    """The one error line for --weights path (exit 1), without the path's prefix."""
    code, out, err = run_cli(capsys, "--weights", path, *extra)
    assert code == 1 and out == "" and err.count("\n") == 1, err
    prefix = f"lstm-trace: error: {path}: "
    assert err.startswith(prefix), err
    return err[len(prefix) :].rstrip("\n")


@pytest.mark.parametrize(
    ("attrs", "words"),
    [
        ({"clip": 3.0}, "'lstm' clips its cell inputs (clip=3.0)"),
        ({"input_forget": 1}, "'lstm' has input_forget=1"),
        ({"activations": ["Relu", "Tanh", "Tanh"]}, "activations Relu, Tanh, Tanh; lstm-trace "
         "computes Sigmoid, Tanh, Tanh only"),
        ({"activation_alpha": [0.5]}, "has activation_alpha=[0.5]"),
    ],
)  # fmt: skip
def test_what_lstm_trace_cannot_reproduce_is_refused_by_name(
    tmp_path: Path, capsys: Any, attrs: dict[str, Any], words: str
) -> None:
    assert words in refused(capsys, lstm_model(tmp_path, attrs=attrs))


def test_default_activations_written_out_are_accepted(tmp_path: Path) -> None:
    path = lstm_model(tmp_path, attrs={"activations": ["Sigmoid", "Tanh", "Tanh"]})
    assert read_weights(path).module == "lstm"


def test_sequence_lens_must_be_the_full_length(tmp_path: Path, capsys: Any) -> None:
    given = refused(capsys, lstm_model(tmp_path, "a.onnx", extra_inputs={4: "lens"}))
    assert "sequence_lens of node 'lstm' may end sequences early" in given
    assert "given at run time" in given
    short = lstm_model(tmp_path, "b.onnx", seq_lens=np.array([3], np.int32))
    assert "(it holds [3], X has length 4)" in refused(capsys, short)
    full = lstm_model(tmp_path, "c.onnx", seq_lens=np.array([4], np.int32))
    assert read_weights(full).architecture.hidden_size == 3


def test_weights_given_at_run_time_are_refused(tmp_path: Path, capsys: Any) -> None:
    words = refused(capsys, lstm_model(tmp_path, w_from="input"))
    assert words == (
        "W of node 'lstm' depends on the graph input 'W', given at run time; lstm-trace "
        "reads weights stored in the file"
    )


def test_weights_computed_by_an_operator_not_evaluated_are_refused(
    tmp_path: Path, capsys: Any
) -> None:
    rng = np.random.default_rng(1)
    nodes = [
        helper.make_node("Constant", [], ["a"], value=numpy_helper.from_array(
            rng.standard_normal((1, 12, 2)).astype(np.float32), "a")),
        helper.make_node("Constant", [], ["eye"], value=numpy_helper.from_array(
            np.eye(2, dtype=np.float32), "eye")),
        helper.make_node("MatMul", ["a", "eye"], ["W"]),
    ]  # fmt: skip
    words = refused(capsys, lstm_model(tmp_path, w_from="nodes", extra_nodes=nodes))
    assert "W of node 'lstm' is computed by a MatMul node, which lstm-trace does not" in words


def test_a_model_without_lstm_or_gru_names_what_it_holds(tmp_path: Path, capsys: Any) -> None:
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "x"], ["y"]), helper.make_node("Relu", ["y"], ["z"])],
        "g", [helper.make_tensor_value_info("x", FLOAT, [2, 2])],
        [helper.make_tensor_value_info("z", FLOAT, [2, 2])],
    )  # fmt: skip
    path = tmp_path / "mlp.onnx"
    onnx.save(helper.make_model(graph), path)
    assert refused(capsys, path) == "no LSTM or GRU node (it holds MatMul, Relu)"


def test_an_rnn_node_is_named_and_untraced(tmp_path: Path, capsys: Any) -> None:
    w = numpy_helper.from_array(np.ones((1, 3, 2), np.float32), "W")
    r = numpy_helper.from_array(np.ones((1, 3, 3), np.float32), "R")
    node = helper.make_node("RNN", ["X", "W", "R"], ["Y"], name="rnn", hidden_size=3)
    x_info = helper.make_tensor_value_info("X", FLOAT, [4, 1, 2])
    y_info = helper.make_tensor_value_info("Y", FLOAT, None)
    graph = helper.make_graph([node], "g", [x_info], [y_info], [w, r])
    path = tmp_path / "rnn.onnx"
    onnx.save(helper.make_model(graph), path)
    assert [u.name for u in read_contents(path).untraced] == ["rnn"]
    assert "holds an ONNX RNN node (no gates)" in refused(capsys, path)


@pytest.mark.parametrize(
    ("data", "words"),
    [(b"\x08\x07garbage\xff\xff\xff", "not a readable ONNX model (damaged or truncated?)"),
     (b"", "not an ONNX model with a graph of nodes")],
)  # fmt: skip
def test_garbage_is_refused_in_one_line(
    tmp_path: Path, capsys: Any, data: bytes, words: str
) -> None:
    path = tmp_path / "bad.onnx"
    path.write_bytes(data)
    assert refused(capsys, path) == words


def test_a_truncated_model_is_refused_in_one_line(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "cut.onnx"
    whole = (FIXTURES / "onnxmodel_torch_lstm_bi2.onnx").read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    assert refused(capsys, path).startswith("not ")


def test_sizes_are_checked_against_max_memory_first(tmp_path: Path, capsys: Any) -> None:
    words = refused(capsys, FIXTURES / "onnxmodel_torch_lstm_bi2.onnx", "--max-memory", "1KB")
    assert "more than the limit of 1.0 KB (--max-memory)" in words


def test_external_data_outside_the_models_folder_is_refused(tmp_path: Path, capsys: Any) -> None:
    model = onnx.load(str(FIXTURES / "onnxmodel_dynamo_lstm_bi2.onnx"), load_external_data=False)
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../elsewhere.data"
    path = tmp_path / "sub" / "m.onnx"
    path.parent.mkdir()
    path.write_bytes(model.SerializeToString())
    assert "outside the model's folder" in refused(capsys, path)


def test_a_refused_node_is_left_untraced_beside_a_traced_one(tmp_path: Path) -> None:
    path = lstm_model(tmp_path)
    model = onnx.load(str(path))
    clipped = onnx.NodeProto()
    clipped.CopyFrom(model.graph.node[0])
    clipped.name, clipped.output[0] = "clipped", "Y2"
    clipped.attribute.append(helper.make_attribute("clip", 1.0))
    model.graph.node.append(clipped)
    onnx.save(model, path)
    contents = read_contents(path)
    assert contents.names() == ["lstm"]
    assert [u.name for u in contents.untraced] == ["clipped"]
    assert "clip=1.0" in contents.untraced[0].what


def test_a_loop_body_is_read_and_named_by_its_path(tmp_path: Path) -> None:
    body_lstm = helper.make_node("LSTM", ["X", "W", "R"], ["y"], hidden_size=3)
    body = helper.make_graph(
        [body_lstm, helper.make_node("Identity", ["cond_in"], ["cond_out"])], "body",
        [helper.make_tensor_value_info("i", onnx.TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", onnx.TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("cond_out", onnx.TensorProto.BOOL, []),
         helper.make_tensor_value_info("y", FLOAT, None)],
    )  # fmt: skip
    loop = helper.make_node("Loop", ["n", ""], ["ys"], body=body)
    rng = np.random.default_rng(2)
    inits = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), k)
             for k, s in (("W", (1, 12, 2)), ("R", (1, 12, 3)))]  # fmt: skip
    inits.append(numpy_helper.from_array(np.array(2, np.int64), "n"))
    x_info = helper.make_tensor_value_info("X", FLOAT, [4, 1, 2])
    ys_info = helper.make_tensor_value_info("ys", FLOAT, None)
    graph = helper.make_graph([loop], "g", [x_info], [ys_info], inits)
    path = tmp_path / "loop.onnx"
    onnx.save(helper.make_model(graph), path)
    wf = read_weights(path)
    assert wf.module == "Loop#0/body/LSTM#0" and not wf.architecture.bias
    (module,) = read_contents(path).modules
    assert module.pytorch is not None
    r = numpy_helper.to_array(inits[1])  # (1, 4H, H), ONNX's blocks i, o, f, c
    np.testing.assert_array_equal(module.pytorch["weight_hh_l0"][3:6], r[0, 6:9])  # f


def test_a_path_that_moves_features_otherwise_is_no_stack(tmp_path: Path) -> None:
    cfg = LSTMConfig(input_size=3, hidden_size=4, num_layers=2, direction="bi")
    path = tmp_path / "w.onnx"
    write_weights(path, init_weights(cfg, seed=1), "onnx")
    model = onnx.load(str(path))
    for node in model.graph.node:
        if node.op_type == "Transpose":
            node.attribute[0].ints[:] = [0, 2, 3, 1]  # (T, B, H, D): the features interleaved
    onnx.save(model, path)
    assert not any(m.parts for m in read_contents(path).modules)


# --- writing ONNX ---------------------------------------------------------------------------

WRITTEN = [
    LSTMConfig(input_size=3, hidden_size=4, num_layers=2, direction="bi"),
    LSTMConfig(input_size=3, hidden_size=4, peepholes=True, direction="reverse", num_layers=2),
    LSTMConfig(input_size=2, hidden_size=5, bias=False),
    LSTMConfig(cell="gru", input_size=3, hidden_size=4, num_layers=3, reset_after=False),
    LSTMConfig(cell="gru", input_size=3, hidden_size=4, direction="bi", dtype="float64"),
]


@pytest.mark.parametrize(
    "cfg", WRITTEN, ids=lambda c: c.digest_line() if hasattr(c, "digest_line") else None
)
def test_a_written_model_reads_back_exactly(tmp_path: Path, cfg: LSTMConfig) -> None:
    weights = init_weights(cfg, seed=4)
    path = tmp_path / "w.onnx"
    write_weights(path, weights, "onnx")
    wf = read_weights(path)
    assert wf.architecture.config() == replace(
        cfg, batch=LSTMConfig.batch, seq_len=LSTMConfig.seq_len
    )
    back = wf.build(cfg).to_pytorch()
    assert back.keys() == weights.to_pytorch().keys()
    for key, value in weights.to_pytorch().items():
        np.testing.assert_array_equal(back[key], value, err_msg=key)


@pytest.mark.parametrize("cfg", WRITTEN)
def test_onnxruntime_runs_a_written_model_as_lstm_trace_does(
    tmp_path: Path, cfg: LSTMConfig
) -> None:
    ort = pytest.importorskip("onnxruntime")
    if cfg.cell == "gru" and cfg.dtype == "float64":
        pytest.skip("onnxruntime 1.32's GRU runs float32 only (the model is valid ONNX)")
    weights = init_weights(cfg, seed=6)
    path = tmp_path / "w.onnx"
    write_weights(path, weights, "onnx")
    x = np.random.default_rng(3).standard_normal((5, 2, cfg.input_size)).astype(cfg.dtype)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = dict(
        zip([o.name for o in session.get_outputs()], session.run(None, {"input": x}), strict=True)
    )
    output, finals = forward(weights, x.transpose(1, 0, 2))
    h_n, c_n = finals if isinstance(finals, tuple) else (finals, None)
    close(got["output"], output.transpose(1, 0, 2))
    close(got["h_n"], h_n)
    if c_n is not None:
        close(got["c_n"], c_n)


def test_convert_writes_onnx_and_reads_it_back(tmp_path: Path, capsys: Any) -> None:
    cfg = LSTMConfig(input_size=3, hidden_size=4, num_layers=2, direction="bi")
    weights = init_weights(cfg, seed=8)
    source = tmp_path / "w.npz"
    write_weights(source, weights, "pytorch")
    code, out, err = run_cli(capsys, "convert", source, tmp_path / "m.onnx")
    assert code == 0 and out == "" and "wrote" in err and "onnx weights" in err
    back = read_weights(tmp_path / "m.onnx").build(cfg)
    for key, value in weights.to_pytorch().items():
        np.testing.assert_array_equal(back.to_pytorch()[key], value)


def test_convert_refuses_a_projection_for_onnx(tmp_path: Path, capsys: Any) -> None:
    source = tmp_path / "w.npz"
    write_weights(
        source, init_weights(LSTMConfig(input_size=3, hidden_size=4, proj_size=2)), "pytorch"
    )
    code, out, err = run_cli(capsys, "convert", source, tmp_path / "m.onnx")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "ONNX has no LSTM with a projection" in err
    assert not (tmp_path / "m.onnx").exists()


def test_convert_from_onnx_to_pytorch_and_keras(tmp_path: Path, capsys: Any) -> None:
    source = FIXTURES / "onnxmodel_torch_lstm_bi2.onnx"
    wf = read_weights(source)
    for target, to in ((tmp_path / "w.npz", "pytorch"), (tmp_path / "k.npz", "keras")):
        code, _, err = run_cli(capsys, "convert", source, target, "--to", to)
        assert code == 0, err
        again = read_weights(target).build(wf.architecture.config())
        original = wf.build(wf.architecture.config())
        x = np.random.default_rng(0).standard_normal((2, 3, 3)).astype(np.float32)
        close(forward(again, x)[0], forward(original, x)[0])


def test_convert_refuses_onnx_peepholes_as_pt(tmp_path: Path, capsys: Any) -> None:
    code, _, err = run_cli(capsys, "convert", FIXTURES / "onnx_lstm_peep_forward.onnx",
                           tmp_path / "w.pt")  # fmt: skip
    assert err.count("\n") == 1
    if importlib.util.find_spec("torch") is None:  # writing any .pt is refused first
        assert code == 1 and "pip install 'lstm-trace[torch]'" in err, err
    else:
        assert code == 2 and "has no peepholes" in err


def test_save_weights_writes_onnx_from_a_trace(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "t.onnx"
    code, _, err = run_cli(capsys, "--cell", "gru", "--input", 3, "--hidden", 4,
                           "--save-weights", path, "--format", "json")  # fmt: skip
    assert code == 0, err
    assert read_weights(path).kind == "gru"


def test_onnx_weights_cannot_be_written_as_npz(tmp_path: Path, capsys: Any) -> None:
    code, _, err = run_cli(capsys, "--save-weights", tmp_path / "w.npz", "--to", "onnx")
    assert code == 2 and "cannot write onnx weights as .npz; use .onnx" in err


def test_reading_without_the_onnx_package_names_the_extra(monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(FileError) as caught:
        read_weights(FIXTURES / "onnx_lstm_reverse.onnx")
    assert caught.value.message == (
        "reading .onnx files needs the optional package 'onnx': pip install 'lstm-trace[onnx]'"
    )


@pytest.mark.parametrize("case", ["torch_lstm_bi2", "dynamo_lstm_bi2", "torch_gru2", "if_branches"])
def test_onnxruntime_reproduces_the_saved_model_outputs(case: str) -> None:
    ort = pytest.importorskip("onnxruntime")
    path = FIXTURES / f"onnxmodel_{case}.onnx"
    a = load(path.with_suffix(".npz"))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    runs = {"then": True, "else": False} if case == "if_branches" else {"out": None}
    for label, cond in runs.items():
        feeds = {"X" if cond is not None else "input": a["X"]}
        if cond is not None:
            feeds["cond"] = np.array(cond)
        for name, value in zip(names, session.run(None, feeds), strict=True):
            close(value, a[f"{label}:{name}"])


def test_initial_states_given_at_run_time_are_noted_not_read(tmp_path: Path) -> None:
    path = lstm_model(tmp_path, extra_inputs={5: "h"})
    wf = read_weights(path)
    assert wf.initial == {}
    assert any(
        "initial_h of node 'lstm' depends on the graph input 'h', given at run time; the trace "
        "starts from zeros unless --h0 is given" in n
        for n in wf.notes
    )


def test_zero_peepholes_are_read_as_a_plain_lstm(tmp_path: Path) -> None:
    path = lstm_model(tmp_path)
    model = onnx.load(str(path))
    model.graph.initializer.append(numpy_helper.from_array(np.zeros((1, 9), np.float32), "P"))
    model.graph.node[0].input.extend(["", "", "", "P"])  # sequence_lens, initial_h, initial_c
    onnx.save(model, path)
    wf = read_weights(path)
    assert wf.kind == "lstm" and not wf.architecture.peepholes
    assert any("its peepholes P are all zero" in n for n in wf.notes)


def test_a_stacks_initial_states_are_its_layers_with_zeros_where_a_layer_has_none(
    tmp_path: Path,
) -> None:
    cfg = LSTMConfig(input_size=3, hidden_size=4, num_layers=2)
    path = tmp_path / "w.onnx"
    write_weights(path, init_weights(cfg, seed=2), "onnx")
    model = onnx.load(str(path))
    h1 = np.arange(8, dtype=np.float32).reshape(1, 2, 4) + 1  # (D, B, H) of layer 1
    model.graph.initializer.append(numpy_helper.from_array(h1, "h1"))
    upper = next(n for n in model.graph.node if n.name == "lstm_l1")
    assert list(upper.input)[1:] == ["lstm_l1.W", "lstm_l1.R", "lstm_l1.B"]
    upper.input.extend(["", "h1"])  # sequence_lens, initial_h
    onnx.save(model, path)
    wf = read_weights(path)
    assert wf.module == "lstm_l0+lstm_l1" and set(wf.initial) == {"h0"}
    np.testing.assert_array_equal(wf.initial["h0"], np.concatenate([np.zeros_like(h1), h1]))


def test_external_data_counts_against_max_memory_all_together(tmp_path: Path, capsys: Any) -> None:
    cfg = LSTMConfig(input_size=16, hidden_size=16, num_layers=2, direction="bi")
    weights = init_weights(cfg, seed=3)
    path = tmp_path / "w.onnx"
    write_weights(path, weights, "onnx")
    onnx.save(onnx.load(str(path)), path, save_as_external_data=True, size_threshold=0,
              location="w.data")  # fmt: skip
    assert path.stat().st_size < 4096 and (tmp_path / "w.data").stat().st_size > 40_000
    back = read_weights(path).build(cfg)  # read beside the model
    np.testing.assert_array_equal(back.layers[1][1].w_hh, weights.layers[1][1].w_hh)
    words = refused(capsys, path, "--max-memory", "20KB")  # each tensor fits, not all of them
    assert "of weights and constants, more than the limit of 20.0 KB" in words


def test_the_command_line_traces_an_exported_stack(capsys: Any) -> None:
    code, out, err = run_cli(capsys, "--weights", FIXTURES / "onnxmodel_torch_lstm_bi2.onnx",
                             "--format", "json")  # fmt: skip
    assert code == 0, err
    config = json.loads(out)["config"]
    assert (config["num_layers"], config["direction"], config["input_size"]) == (2, "bi", 3)


@pytest.mark.parametrize("op", ["Expand", "ConstantOfShape"])
def test_a_constant_subgraph_that_would_blow_up_is_refused_before_it_runs(
    tmp_path: Path, capsys: Any, op: str
) -> None:
    huge = np.array([1, 12, 2_000_000_000], np.int64)  # 24e9 floats
    shape = numpy_helper.from_array(huge, "huge")
    nodes = [helper.make_node("Constant", [], ["huge"], value=shape)]
    if op == "Expand":
        one = numpy_helper.from_array(np.ones((1, 1, 1), np.float32), "one")
        nodes += [helper.make_node("Constant", [], ["one"], value=one),
                  helper.make_node("Expand", ["one", "huge"], ["W"])]  # fmt: skip
    else:
        nodes.append(helper.make_node("ConstantOfShape", ["huge"], ["W"]))
    words = refused(capsys, lstm_model(tmp_path, w_from="nodes", extra_nodes=nodes))
    assert f"W of node 'lstm' (its {op})" in words and "(--max-memory)" in words


def test_the_command_line_starts_from_the_files_initial_states(tmp_path: Path, capsys: Any) -> None:
    path = FIXTURES / "onnxmodel_layout1.onnx"
    a = load(path.with_suffix(".npz"))
    np.save(tmp_path / "x.npy", a["X"])  # (B, T, I): layout=1's X, as --x is read
    code, _, err = run_cli(capsys, "--weights", path, "--module", "encoder", "--x",
                           tmp_path / "x.npy", "--dump", tmp_path / "out.npz")  # fmt: skip
    assert code == 0, err
    out = load(tmp_path / "out.npz")
    close(out["output"].reshape(a["out:lstm_Y"].shape), a["out:lstm_Y"])
    close(out["h_n"].transpose(1, 0, 2), a["out:lstm_Y_h"])
    close(out["c_n"].transpose(1, 0, 2), a["out:lstm_Y_c"])
