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


def _readme_block(marker: str, language: str = "python") -> str:
    """The README's ```python (or other language's) block that holds marker."""
    blocks = [b for b in re.findall(rf"```{language}\n(.*?)```", README, re.S) if marker in b]
    assert len(blocks) == 1, marker
    return str(blocks[0])


def test_readme_python_example_runs() -> None:
    namespace: dict[str, object] = {}
    exec(compile(_readme_block("init_weights(cfg, seed=0)"), "README.md", "exec"), namespace)
    assert namespace["output"].shape == (3, 140)  # type: ignore[attr-defined]


def test_readme_notebook_example_runs() -> None:
    namespace: dict[str, object] = {}
    exec(compile(_readme_block("t = lt.trace(lt.LSTMConfig("), "README.md", "exec"), namespace)
    # the notebook's cells, one a line, shown as text since they are not one program's
    exec(compile(_readme_block("t.heatmap(", "text"), "README.md", "exec"), namespace)
    assert namespace["long"].maps.rows == 100  # type: ignore[attr-defined]
    assert str(namespace["svg"]).startswith("<?xml")


def test_readme_explorer_example_writes_a_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(_readme_block("explorer_page"), "README.md", "exec"), {})
    page = (tmp_path / "run.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "70 + 32 = 102" in page


@pytest.mark.parametrize("script", sorted((ROOT / "examples").glob("*.py")), ids=lambda p: p.name)
def test_examples_run(script: Path, tmp_path: Path) -> None:
    # a make_* script writes a picture of the README's: here into tmp_path, not the checkout
    out = [str(tmp_path / "picture.png")] if script.name.startswith("make_") else []
    result = subprocess.run(
        [sys.executable, str(script), *out],
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
