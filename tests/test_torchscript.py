"""TorchScript archives, training checkpoints and a legacy file, read without torch and traced.

The fixtures (tests/fixtures/make_torchscript_fixtures.py, torch 2.13) are what torch.jit.save
and torch.save wrote; each module's trace is checked against what torch computed, within 1e-5
in float32, without torch installed. The live tests re-export fresh models when torch is here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace import LSTMConfig, trace
from lstm_trace.formats.reading import WeightsFile, read_contents, read_weights

from .conftest import FIXTURES, run_cli

#: archive -> (its expected .npz, {module: its kind})
ARCHIVES = {
    "ts_cells.pt": ("ts_cells", {"enc.cells.fast": "lstm_cell", "enc.cells.slow": "lstm_cell"}),
    "ts_lstm_script.jit": ("ts_lstm", {"encoder.rnn": "lstm"}),
    "ts_lstm_trace.pt": ("ts_lstm", {"encoder.rnn": "lstm"}),
    "ts_gru_script.zip": ("ts_gru", {"decoder.gru": "gru"}),
    "ts_gru_trace.jit": ("ts_gru", {"decoder.gru": "gru"}),
    "ckpt_train.pth": ("ckpt_train", {"nets.encoder.rnn": "lstm"}),
    "legacy_lstm.pt": ("legacy_lstm", {"lstm": "lstm"}),
}
CASES = [(f, m) for f, (_, modules) in ARCHIVES.items() for m in modules]


def expected(stem: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / f"{stem}_expected.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def run(wf: WeightsFile, x: np.ndarray) -> Any:
    """lstm-trace's trace of the file's module on x (batch first), in float32."""
    options = {**wf.architecture.as_options(), "dtype": "float32"}
    config = LSTMConfig(**options, batch=x.shape[0], seq_len=x.shape[1])
    return trace(config, wf.build(config), x)


def module_input(want: dict[str, np.ndarray], key: str) -> np.ndarray:
    """The input the module saw: its own (the slow cell steps over the fast one's h), or x."""
    return want.get(f"{key}_x", want["x"])


def test_every_archive_lists_its_modules_by_their_state_dict_names() -> None:
    for name, (_, modules) in ARCHIVES.items():
        contents = read_contents(FIXTURES / name)
        assert {m.name: m.kind for m in contents.modules} == modules, name


@pytest.mark.parametrize(("name", "module"), CASES, ids=lambda v: str(v))
def test_each_module_traces_what_torch_computed(name: str, module: str) -> None:
    stem, _ = ARCHIVES[name]
    want = expected(stem)
    key = module.replace(".", "__")
    wf = read_weights(FIXTURES / name, module=module)
    assert wf.module == module and wf.framework == "pytorch"
    got = run(wf, module_input(want, key))
    np.testing.assert_allclose(got.output, want[f"{key}_output"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(got.h_n, want[f"{key}_h_n"], atol=1e-5, rtol=0)
    if f"{key}_c_n" in want:
        np.testing.assert_allclose(got.c_n, want[f"{key}_c_n"], atol=1e-5, rtol=0)


def test_the_bidirectional_two_layer_lstm_is_read_as_such() -> None:
    arch = read_weights(FIXTURES / "ts_lstm_script.jit").architecture
    assert (arch.input_size, arch.hidden_size, arch.num_layers, arch.direction) == (3, 4, 2, "bi")
    assert read_weights(FIXTURES / "ts_lstm_trace.pt").architecture == arch


def test_cli_traces_a_cell_deep_in_a_scripted_model(tmp_path: Path, capsys: Any) -> None:
    want = expected("ts_cells")
    np.save(tmp_path / "x.npy", want["enc__cells__slow_x"])
    path = FIXTURES / "ts_cells.pt"
    code, out, err = run_cli(
        capsys, "--weights", path, "--module", "enc.cells.slow", "--x", tmp_path / "x.npy",
        "--json", "--dump", tmp_path / "o.npz",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["config"]["hidden_size"] == 5
    with np.load(tmp_path / "o.npz") as dumped:
        np.testing.assert_allclose(dumped["output"], want["enc__cells__slow_output"], atol=1e-5)
    assert f"{path}: traced enc.cells.slow; not traced: enc.cells.fast" in err


def test_two_cells_and_no_module_named_lists_both(capsys: Any) -> None:
    code, out, err = run_cli(capsys, "--weights", FIXTURES / "ts_cells.pt")
    assert code == 2 and out == ""
    assert err == (
        f"lstm-trace: error: {FIXTURES / 'ts_cells.pt'} holds 2 recurrent modules: "
        "enc.cells.fast (lstm_cell), enc.cells.slow (lstm_cell); say which with --module NAME\n"
    )


def test_a_checkpoint_names_what_weights_only_refuses_as_untraced() -> None:
    contents = read_contents(FIXTURES / "ckpt_train.pth")
    untraced = {u.name: u.what for u in contents.untraced}
    assert untraced["args"] == "argparse.Namespace (not unpickled)"
    assert untraced["config"] == "__main__.TrainConfig (not unpickled)"
    assert untraced["epoch"] == untraced["step"] == "int"
    # the optimizer's tensors (float moments, a float step count) are tensors, not modules
    assert untraced["optimizer.state.0.exp_avg"] == "tensor (16, 3)"
    assert untraced["optimizer.state.0.step"] == "tensor scalar"


def test_the_archives_are_read_without_torch() -> None:
    """torch made unimportable: every archive is still read (no torch.load anywhere)."""
    script = (
        "import sys; sys.modules['torch'] = None\n"
        "from lstm_trace.formats.reading import read_contents\n"
        f"for name in {sorted(ARCHIVES)!r}:\n"
        f"    modules = read_contents({str(FIXTURES)!r} + '/' + name).modules\n"
        "    print(name, [m.name for m in modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "ts_cells.pt ['enc.cells.fast', 'enc.cells.slow']" in done.stdout
    assert "ckpt_train.pth ['nets.encoder.rnn']" in done.stdout


def test_a_torchscript_archive_is_not_written(tmp_path: Path, capsys: Any) -> None:
    code, _, err = run_cli(
        capsys, "convert", FIXTURES / "ts_gru_trace.jit", tmp_path / "g.jit", "--to", "pytorch"
    )
    assert code == 2 and "cannot write pytorch weights as .jit" in err
    assert not (tmp_path / "g.jit").exists()


# --- Live: torch re-exports fresh models ---------------------------------------------------------


def fixtures_script() -> Any:
    pytest.importorskip("torch")
    sys.path.insert(0, str(FIXTURES))
    try:
        import make_torchscript_fixtures as made
    finally:
        sys.path.remove(str(FIXTURES))
    return made


def check_module(path: Path, module: str, x: Any, want: dict[str, Any]) -> None:
    got = run(read_weights(path, module=module), x.numpy())
    for key, value in want.items():
        np.testing.assert_allclose(getattr(got, key), value, atol=1e-5, rtol=0)


#: torch warns that torch.jit is deprecated, and the tracer of every branch on a size
LIVE = pytest.mark.filterwarnings("ignore")


@LIVE
def test_live_scripted_cells_in_a_loop(tmp_path: Path) -> None:
    made = fixtures_script()
    import torch

    torch.manual_seed(7)
    model = made.Stepper()
    made.redraw_biases(model)
    path = tmp_path / "stepper.pt"
    torch.jit.save(torch.jit.script(model), str(path))
    x = torch.randn(3, 4, 3)
    with torch.no_grad():
        fast, slow = torch.jit.load(str(path))(x)  # the archive as torch runs it
        check_module(path, "enc.cells.fast", x, {"output": fast.numpy()})
        check_module(path, "enc.cells.slow", fast, {"output": slow.numpy()})


@LIVE
@pytest.mark.parametrize("how", ["script", "trace"])
@pytest.mark.parametrize(("make", "rnn"), [("Tagger", "encoder.rnn"), ("Decoder", "decoder.gru")])
def test_live_scripted_and_traced_models(tmp_path: Path, how: str, make: str, rnn: str) -> None:
    made = fixtures_script()
    import torch

    torch.manual_seed(11)
    model = getattr(made, make)()
    made.redraw_biases(model)
    x = torch.randn(2, 3, 3)
    exported = torch.jit.script(model) if how == "script" else torch.jit.trace(model, x)
    path = tmp_path / f"m.{'jit' if how == 'trace' else 'pt'}"
    torch.jit.save(exported, str(path))
    with torch.no_grad():
        out, state = model.get_submodule(rnn)(x)
    h_n = state[0] if isinstance(state, tuple) else state
    check_module(path, rnn, x, {"output": out.numpy(), "h_n": h_n.numpy()})


@LIVE
def test_live_checkpoint_with_a_namespace_and_a_whole_module(tmp_path: Path) -> None:
    made = fixtures_script()
    import argparse

    import torch

    torch.manual_seed(13)
    encoder = made.RNNEncoder(torch.nn.GRU(3, 5, num_layers=2, batch_first=True))
    made.redraw_biases(encoder)
    path = tmp_path / "ckpt.pt"
    ckpt = {"args": argparse.Namespace(lr=0.1), "model": encoder, "sd": encoder.state_dict()}
    torch.save(ckpt, path)
    x = torch.randn(2, 4, 3)
    with torch.no_grad():
        out, h_n = encoder.rnn(x)
    # the pickled module and its state_dict hold the same tensors under the same names
    assert {m.name for m in read_contents(path).modules} == {"model.rnn", "sd.rnn"}
    for module in ("model.rnn", "sd.rnn"):
        check_module(path, module, x, {"output": out.numpy(), "h_n": h_n.numpy()})


@LIVE
@pytest.mark.parametrize("make", ["GRUCell", "LSTMCell", "LSTM_proj", "GRU_bi"])
def test_live_scripted_bare_modules(tmp_path: Path, make: str) -> None:
    """A scripted nn.GRUCell / nn.LSTMCell / projected nn.LSTM / bidirectional nn.GRU saved
    on its own: one module at the top, named by its kind."""
    pytest.importorskip("torch")
    import torch

    torch.manual_seed(17)
    nn = torch.nn
    module = {
        "GRUCell": lambda: nn.GRUCell(3, 4),
        "LSTMCell": lambda: nn.LSTMCell(3, 4),
        "LSTM_proj": lambda: nn.LSTM(3, 5, proj_size=2, batch_first=True),
        "GRU_bi": lambda: nn.GRU(3, 4, bidirectional=True, batch_first=True),
    }[make]()
    made = fixtures_script()
    made.redraw_biases(module)
    path = tmp_path / "m.jit"
    torch.jit.save(torch.jit.script(module), str(path))
    x = torch.randn(2, 4, 3)
    with torch.no_grad():
        if make.endswith("Cell"):
            h = torch.zeros(2, 4)
            state: Any = h if make == "GRUCell" else (h, torch.zeros(2, 4))
            outs = []
            for t in range(4):
                state = module(x[:, t], state)
                outs.append(state if make == "GRUCell" else state[0])
            out = torch.stack(outs, 1)
        else:
            out, _ = module(x)
    (found,) = read_contents(path).modules
    kind = {"GRUCell": "gru_cell", "LSTMCell": "lstm_cell", "LSTM_proj": "lstm", "GRU_bi": "gru"}
    assert found.kind == kind[make]
    check_module(path, found.name, x, {"output": out.numpy()})
