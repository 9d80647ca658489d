"""Shared test helpers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sysconfig
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace import LSTMConfig, weights_from_pytorch
from lstm_trace.cells import kernel
from lstm_trace.cli import main
from lstm_trace.weights import LSTMWeights

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = Path(__file__).parent / "golden"


def run_cli(capsys: pytest.CaptureFixture[str], *args: Any) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of the command line run in-process on args (paths and
    numbers are made text)."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def load_torch_fixture(path: Path) -> tuple[LSTMConfig, LSTMWeights, dict[str, np.ndarray]]:
    """A fixture written by fixtures/make_torch_fixtures.py -> (config, weights, arrays)."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    batch = int(arrays["meta_batch"])
    config = LSTMConfig(
        input_size=int(arrays["meta_input_size"]),
        hidden_size=int(arrays["meta_hidden_size"]),
        num_layers=int(arrays["meta_num_layers"]),
        bidirectional=bool(arrays["meta_bidirectional"]),
        proj_size=int(arrays["meta_proj_size"]),
        bias=bool(arrays.get("meta_bias", True)),  # only bias-free fixtures record it
        batch=None if batch < 0 else batch,
        seq_len=int(arrays["meta_seq_len"]),
        dtype=str(arrays["meta_dtype"]),  # type: ignore[arg-type]
    )
    state = {k: v for k, v in arrays.items() if k.startswith(("weight_", "bias_"))}
    return config, weights_from_pytorch(state, config), arrays


@pytest.fixture(params=sorted(FIXTURES.glob("torch_*.npz")), ids=lambda p: p.stem)
def torch_fixture(
    request: pytest.FixtureRequest,
) -> tuple[LSTMConfig, LSTMWeights, dict[str, np.ndarray]]:
    return load_torch_fixture(request.param)


def tolerance(config: LSTMConfig) -> float:
    """The issue's tolerances: 1e-5 in float32, 1e-10 in float64."""
    return 1e-5 if config.dtype == "float32" else 1e-10


def refused_or_needs_torch(code: int, err: str, expected: str) -> None:
    """A .pt the weights cannot be: without torch, writing any .pt is refused first (exit 1,
    before the source is read: tests/test_reading.py), with torch the refusal (exit 2)."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        assert code == 1 and "pip install 'lstm-trace[torch]'" in err, err
    else:
        assert (code, err) == (2, expected)


def edited_keras(
    tmp_path: Path,
    source: str,
    edit: Callable[[Any], Any],
    weights: bytes | None = None,
    *,
    layers: bool = True,
) -> Path:
    """A copy of a committed .keras archive with its config.json edited: edit() gets the
    config's list of layers (layers=False: the whole config); weights, when given, replace
    model.weights.h5."""
    target = tmp_path / f"edited_{source}"
    with zipfile.ZipFile(FIXTURES / source) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                edit(config["config"]["layers"] if layers else config)
                data = json.dumps(config).encode()
            if item.filename == "model.weights.h5" and weights is not None:
                data = weights
            zout.writestr(item, data)
    return target


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The kernel's loop calls during a test, by name. A test comparing "auto" with the NumPy
    path asserts there were some: "auto" leaves a small pass to NumPy until the kernel is
    loaded, so each such test loads it itself (kernel.built()) instead of relying on an earlier
    test having done so (run alone, it compared NumPy with NumPy), and lets it serve passes of
    any length (these tests' short sequences are below MIN_STEPS, which has its own test)."""
    _kernel = pytest.importorskip("lstm_trace._kernel", reason="no compiled kernel")
    kernel.built()
    monkeypatch.setattr(kernel, "MIN_STEPS", 1)
    seen: list[str] = []
    for name in ("lstm", "gru"):
        real = getattr(_kernel, name)

        def counting(*args: Any, real: Any = real, name: str = name) -> Any:
            seen.append(name)
            return real(*args)

        monkeypatch.setattr(_kernel, name, counting)
    return seen


@pytest.fixture(scope="session")
def ubsan_kernel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """csrc/kernel.c built with -fsanitize=undefined, every finding fatal (about 2 s, once for
    every test that runs it in a subprocess): its directory. Skipped without gcc or
    libubsan."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("no gcc to build a sanitized kernel")
    out = tmp_path_factory.mktemp("ubsan")
    target = out / f"_kernel{sysconfig.get_config_var('EXT_SUFFIX')}"
    flags = ["-O1", "-fsanitize=undefined", "-fno-sanitize-recover=all", "-fno-math-errno"]
    flags += ["-Wno-psabi", "-shared", "-fPIC", f"-I{sysconfig.get_paths()['include']}"]
    source = Path(__file__).resolve().parents[1] / "csrc" / "kernel.c"
    built = subprocess.run([gcc, *flags, str(source), "-o", str(target)],
                           capture_output=True, text=True)  # fmt: skip
    if built.returncode != 0:
        pytest.skip(f"gcc cannot build with -fsanitize=undefined: {built.stderr[-200:]}")
    return out
