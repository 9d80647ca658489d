"""The CI recipes in examples/ci: the workflow and hook parse and their commands run."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parent.parent
CI = ROOT / "examples" / "ci"


def bash(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # The tool as installed for this interpreter, first on PATH, as in a CI job.
    env_path = f"{Path(sys.executable).parent}:{__import__('os').environ.get('PATH', '')}"
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "PATH": env_path},
    )


def test_github_workflow_parses_and_its_commands_pass(tmp_path: Path) -> None:
    workflow = yaml.safe_load((CI / "github-actions.yml").read_text())
    steps = workflow["jobs"]["shapes"]["steps"]
    runs = [s["run"] for s in steps if "run" in s and not s["run"].startswith("pip install")]
    assert len(runs) == 2
    work = tmp_path / "repo"
    shutil.copytree(ROOT / "examples", work / "examples")
    for script in runs:
        result = bash(script, work)
        assert result.returncode == 0, result.stderr
    assert (work / "reports" / "lstm-shapes.xml").read_text().count("<testcase") == 10
    assert "no differences" in result.stderr


def test_workflow_fails_when_shapes_drift(tmp_path: Path) -> None:
    work = tmp_path / "repo"
    shutil.copytree(ROOT / "examples", work / "examples")
    spec = work / "examples" / "ci" / "shapes.toml"
    spec.write_text(spec.read_text().replace('output = "10,70"', 'output = "10,140"'))
    result = bash("lstm-trace check examples/ci/shapes.toml", work)
    assert result.returncode == 1 and "expected output (10, 140), got (10, 70)" in result.stdout


def test_pre_commit_hook_parses_and_its_entry_passes() -> None:
    config = yaml.safe_load((CI / "pre-commit-config.yaml").read_text())
    [hook] = config["repos"][0]["hooks"]
    assert hook["language"] == "system" and hook["pass_filenames"] is False
    result = bash(" ".join(shlex.quote(p) for p in shlex.split(hook["entry"])), ROOT)
    assert result.returncode == 0, result.stderr


def test_pytest_example_passes() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-o",
            "addopts=",
            "-p",
            "no:cacheprovider",
            str(CI / "test_model_shapes.py"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout
    assert "2 passed" in result.stdout


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_jq_pipeline_runs() -> None:
    result = bash(f"bash {CI / 'jq_pipeline.sh'}", ROOT)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "true" and lines[1] == '{"keras":57680,"pytorch":58240}'
    assert len(lines) == 2 + 6 and lines[2].startswith('{"step":0,"mean":')


def test_golden_trace_is_current(tmp_path: Path) -> None:
    """The committed golden trace matches what the tool prints today (diff would fail CI)."""
    result = bash(
        f"lstm-trace --bidirectional --seq-len 10 --json > {tmp_path}/now.json && "
        f"lstm-trace diff examples/ci/golden-trace.json {tmp_path}/now.json "
        "--values --atol 1e-5",  # BLAS may round the last bit differently on another CPU
        ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
