"""The command line, through cli.main(argv) (stdout and stderr apart) and as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lstm_trace import LSTMConfig, __version__, trace
from lstm_trace.entry.version import version_text

from .conftest import GOLDEN
from .conftest import run_cli as cli


@pytest.fixture(autouse=True)
def plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rendered at a fixed width, without colour, whatever the developer's terminal."""
    monkeypatch.setenv("COLUMNS", "80")
    for var in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(var, raising=False)


def strict_json(text: str) -> Any:
    def refuse(token: str) -> None:
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def test_walkthrough_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "--input", "32", "--hidden", "70")
    assert code == 0 and err == ""
    assert "70 x 102" in out and "W_f W_i W_c W_o" in out
    assert "[h_(t-1), x_t]: 70 + 32 = 102" in out
    assert "Keras 28,840" in out and "PyTorch 29,120" in out
    assert "forget_gate" in out and "(70,)" in out and "(3, 70)" in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_bidirectional_output_is_140(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "--bidirectional", "--json")
    doc = strict_json(out)
    assert code == 0 and doc["outputs"]["output"]["shape"] == [3, 140]
    code, out, _ = cli(capsys, "--direction", "bi")
    assert code == 0 and "(3, 140)" in out and "70 forward + 70 backward" in out


def test_json_is_strict_stable_and_equal_to_the_api(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--format", "json", "-B", "2", "-L", "2", "--bidirectional", "-T", "6", "--seed", "3"]
    code, first, err = cli(capsys, *args)
    assert code == 0 and err == "" and first.endswith("}\n")
    doc = strict_json(first)
    _, second, _ = cli(capsys, *args)
    assert first == second  # byte-identical for the same command and seed
    cfg = LSTMConfig(batch=2, num_layers=2, bidirectional=True, seq_len=6, seed=3)
    assert doc == json.loads(json.dumps(trace(cfg).to_dict()))
    assert doc["lstm_trace_version"] == __version__
    second_layer = [t for t in doc["tensors"] if t["layer"] == 1 and t["name"] == "concat"]
    assert {tuple(t["shape"]) for t in second_layer} == {(2, 210)}
    assert doc["outputs"] == {
        "output": {"shape": [2, 6, 140]},
        "h_n": {"shape": [4, 2, 70]},
        "c_n": {"shape": [4, 2, 70]},
    }


def test_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(
        capsys,
        "--json",
        "-T",
        "10",
        "--steps",
        "1:3",
        "--samples",
        "2",
        "--dtype",
        "float64",
        "--proj",
        "5",
    )
    doc = strict_json(out)
    assert code == 0
    assert {t["step"] for t in doc["tensors"]} == {1, 2}
    assert all(len(t["sample"]) == 2 and t["dtype"] == "float64" for t in doc["tensors"])
    assert doc["param_count"]["keras"] is None and doc["outputs"]["h_n"]["shape"] == [1, 5]


def test_default_steps_say_what_they_show(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = cli(capsys, "-T", "12")
    assert "steps 0 and 11 of 12 (the first and last; --steps all shows every step)" in out


@pytest.mark.parametrize(
    ("fmt", "name"), [("table", "walkthrough_table"), ("tree", "walkthrough_tree")]
)
def test_golden_walkthrough(capsys: pytest.CaptureFixture[str], fmt: str, name: str) -> None:
    _, out, _ = cli(capsys, "--format", fmt)
    check_golden(name, out)


def test_golden_bidirectional_stack(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = cli(capsys, "--bidirectional", "-L", "2", "-B", "2", "-T", "8", "--samples", "3")
    check_golden("bi2_batched_table", out)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"{path} differs; rerun with UPDATE_GOLDEN=1 if intended"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--hidden", "0"], "--hidden: hidden units must be a whole number >= 1, got 0"),
        (["--hidden", "-3"], "got -3"),
        (["--input", "abc"], "'abc' is not a whole number"),
        (["--seed", "1.5"], "'1.5' is not a whole number"),
        (["diff", "a.json", "b.json", "--atol", "abc"], "--atol': 'abc' is not a number"),
        (["diff", "a.json", "b.json", "--atol", "-1"], "--atol: tolerance must be a finite"),
        (["diff", "a.json", "b.json", "--atol", "nan"], "number >= 0, got nan"),
        (["diff", "a.json", "b.json", "--atol", "inf"], "number >= 0, got inf"),
        (
            ["--direction", "up"],
            "'up' is not one of 'uni', 'bi', 'reverse' (see lstm-trace --help)",
        ),
        (["diff", "--values"], "Missing argument 'FIRST' (see lstm-trace diff --help)"),
        (["explain", "-H", "x"], "'x' is not a whole number (see lstm-trace explain --help)"),
        (["--seq-len", "0"], "--seq-len"),
        (["--layers", "0"], "--layers"),
        (["--batch", "0"], "--batch"),
        (["--direction", "sideways"], "'sideways' is not one of 'uni', 'bi'"),
        (["--steps", "7", "--seq-len", "3"], "step 7 is out of range for a sequence of 3"),
        (["--steps", "x"], "not a step selection"),
        (["--format", "xml"], "'xml' is not one of 'table', 'tree', 'json'"),
        (["--samples", "-1"], "--samples"),
        (["--hidden", "1000000"], "--max-memory"),
        (["--max-memory", "lots"], "--max-memory"),
        (["--proj", "70"], "--proj"),
        (["--bidirectional", "--direction", "uni"], "contradicts"),
        (["--no-such-option"], "No such option"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], words: str
) -> None:
    code, out, err = cli(capsys, *args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("lstm-trace: error: ")
    assert words in err
    assert "Traceback" not in err


def test_memory_refusal_names_size_and_option(capsys: pytest.CaptureFixture[str]) -> None:
    _, _, err = cli(capsys, "--hidden", "1000000")
    assert "TB of memory" in err and "--max-memory" in err
    code, _, _ = cli(capsys, "--hidden", "2000", "--max-memory", "1KB")
    assert code == 2


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "--version")
    assert code == 0 and out.splitlines()[0] == f"lstm-trace {__version__}"
    assert out == version_text() + "\n"  # and the compiled kernel's line, when there is one


def test_no_ansi_with_no_color_even_on_a_forced_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    _, coloured, _ = cli(capsys)
    assert "\x1b[" in coloured  # the forced terminal does get styles...
    monkeypatch.setenv("NO_COLOR", "1")
    _, plain, _ = cli(capsys)
    assert "\x1b" not in plain  # ...and NO_COLOR removes every escape code


def run_process(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lstm_trace", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        cwd=Path(__file__).parent.parent,
    )


def test_python_dash_m_piped_has_no_ansi_and_bad_input_no_traceback() -> None:
    env = {"FORCE_COLOR": "", "COLUMNS": "80"}
    ok = run_process("--input", "32", "--hidden", "70", env=env)
    assert ok.returncode == 0 and "\x1b" not in ok.stdout and "70 x 102" in ok.stdout
    bad = run_process("--input", "abc", env=env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().count("\n") == 0


@pytest.mark.parametrize(
    ("options", "head", "shown"),
    [("--json", "-c 10", '{\n  "schem'), ("--format jsonl", "-c 7", '{"type"')],
)
def test_broken_pipe_is_quiet(options: str, head: str, shown: str) -> None:
    cmd = (
        f"{sys.executable} -m lstm_trace -T 2000 --steps all {options} | head {head}; "
        'exit "${PIPESTATUS[0]}"'
    )
    result = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=60)
    assert result.stdout == shown
    assert result.stderr == "" and result.returncode == 0


def test_version_is_the_packages() -> None:
    from importlib.metadata import version

    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    assert __version__ == version("lstm-trace") == pyproject["project"]["version"]


def test_json_with_nan_and_inf_inside_is_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np

    x = np.zeros((2, 4), dtype=np.float32)
    x[0, :3] = [np.nan, np.inf, -np.inf]
    np.save(tmp_path / "x.npy", x)
    code, out, _ = cli(capsys, "--x", str(tmp_path / "x.npy"), "--json")
    doc = strict_json(out)
    assert code == 0
    first = doc["tensors"][0]
    assert first["sample"][:3] == [None, None, None] and first["stats"]["nan"] == 1
    assert first["stats"]["inf"] == 2
    code, out, _ = cli(capsys, "--x", str(tmp_path / "x.npy"))
    assert "   nan    inf   -inf  0.000" in out  # the table says which, where JSON says null


def test_unwritable_stdout_is_one_line() -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    result = subprocess.run(
        f"{sys.executable} -m lstm_trace --json > /dev/full",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("lstm-trace: error: cannot write the output")
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_a_newline_in_steps_stays_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "--steps", "7\n")
    assert code == 2 and err.count("\n") == 1


def test_the_default_run_loads_no_optional_or_slow_library() -> None:
    """Cold start: the classic walkthrough imports neither the optional libraries (they are
    imported where a file or command needs them) nor pydantic (Typer 0.29 would bring it,
    about 80 ms at every start; see pyproject.toml)."""
    code = (
        "import sys, lstm_trace.cli as cli\n"
        "assert cli.main(['--input', '32', '--hidden', '70']) == 0\n"
        "print(' '.join(sorted({name.split('.')[0] for name in sys.modules})), file=sys.stderr)"
    )
    root = Path(__file__).resolve().parents[1]  # this checkout's lstm_trace, wherever pytest runs
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert done.returncode == 0, done.stderr
    loaded = set(done.stderr.split())
    assert {"numpy", "rich", "typer", "lstm_trace"} <= loaded
    slow = {"torch", "keras", "h5py", "safetensors", "jsonschema", "yaml", "pydantic"}
    assert not slow & loaded
