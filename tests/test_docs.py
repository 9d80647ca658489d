"""The README and the examples say what the tool does; these tests keep them true."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


def quick_start() -> list[str]:
    block = README.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [line for line in block.strip().splitlines() if line.strip()]


def test_quick_start_is_two_commands_and_ci_runs_the_test_one() -> None:
    install_and_run, install_and_test = quick_start()
    assert install_and_run.endswith("lstm-trace --input 32 --hidden 70")
    assert "[test]" in install_and_test and "pytest" in install_and_test
    assert install_and_test in (ROOT / ".ci" / "run").read_text()


def test_readme_python_example_runs() -> None:
    code = re.search(r"```python\n(.*?)```", README, re.S)
    assert code is not None
    namespace: dict[str, object] = {}
    exec(compile(code.group(1), "README.md", "exec"), namespace)
    assert namespace["output"].shape == (3, 140)  # type: ignore[attr-defined]


@pytest.mark.parametrize("script", sorted((ROOT / "examples").glob("*.py")), ids=lambda p: p.name)
def test_examples_run(script: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},  # this checkout's code, not an installed one
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_walkthrough_example_prints_the_walkthrough() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "walkthrough.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "70 + 32 = 102" in out and "W_f: (70, 102)" in out
    assert "Keras 28,840, PyTorch 29,120" in out and "bidirectional output (3, 140)" in out
    assert "GRU parameters: PyTorch 21,840, Keras 21,840" in out
    assert "GRU output (3, 70), h_n (1, 70)" in out


def test_readme_tour_is_real_output() -> None:
    """The tour's table is the first lines of the golden walkthrough table (COLUMNS=80)."""
    golden = (ROOT / "tests" / "golden" / "walkthrough_table.txt").read_text()
    shown = README.split("```text\n", 1)[1].split("\n...\n```", 1)[0]
    assert (
        shown.splitlines()
        == [line.rstrip() for line in golden.splitlines()][: len(shown.splitlines())]
    )
    assert len(shown.splitlines()) >= 30


def test_the_code_cites_only_documents_in_the_repository() -> None:
    """Docstrings point at ARCHITECTURE.md, which ships with the code, and at nothing outside."""
    for path in (ROOT / "lstm_trace").rglob("*.py"):
        text = path.read_text()
        for cited in re.findall(r"\b([A-Z][A-Z_]+\.md)\b", text):
            assert (ROOT / cited).is_file(), f"{path.name} cites {cited}, not in the repository"


def test_architecture_names_modules_that_exist() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    named = set(re.findall(r"`([a-z_/]+\.py)`", text))
    assert len(named) > 20
    package = ROOT / "lstm_trace"
    paths = {p.relative_to(package).as_posix() for p in package.rglob("*.py")}
    # a bare name is a module anywhere in the package; one with a folder is that path, in the
    # package or from the repository's root (tests/test_writing.py)
    known = paths | {p.rsplit("/", 1)[-1] for p in paths}
    missing = {n for n in named - known if not (ROOT / n).is_file()}
    assert not missing, missing
