"""The CI recipes in examples/ci: the workflow and hook parse and their commands run."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parent.parent
CI = ROOT / "examples" / "ci"


def bash(
    script: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """script as a CI job runs it (bash -e -o pipefail). By default the tool on PATH is this
    interpreter's, importing this checkout (PYTHONPATH), not whatever is installed."""
    if env is None:
        env_path = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
        env = {**os.environ, "PATH": env_path, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def _source_repository(dest: Path) -> Path:
    """This checkout's files as they are now (committed or not, as git lists them), committed
    to a git repository of their own: what the workflow's pip install clones."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    git = ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.invalid"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "lstm-trace"]):
        subprocess.run([*git, *args], cwd=dest, check=True, capture_output=True)
    return dest


def _venv(path: Path) -> Path:
    """A fresh virtual environment whose pip installs into it, offline: the job's runner.
    It sees this interpreter's packages (lstm-trace's dependencies and setuptools) so that
    nothing is downloaded; lstm-trace itself must come from the workflow's install."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(path)],
        check=True,
    )
    pip = path / "bin" / "pip"  # this interpreter's pip, run by the venv's python
    pip.write_text(f'#!/bin/sh\nexec "{path}/bin/python" -m pip "$@"\n')
    pip.chmod(0o755)
    return path / "bin"


@pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs git and a checkout"
)
def test_github_workflow_installs_lstm_trace_and_its_steps_pass(tmp_path: Path) -> None:
    text = (CI / "github-actions.yml").read_text()
    workflow = yaml.safe_load(text)
    url = workflow["env"]["LSTM_TRACE_GIT"]
    assert text.count(url) == 1 and url.endswith("lstm-trace.git")  # named in one place
    runs = [s["run"] for s in workflow["jobs"]["shapes"]["steps"] if "run" in s]
    assert runs[0] == 'pip install "git+${LSTM_TRACE_GIT}"'  # lstm-trace, not the project
    assert len(runs) == 3 and not any("pip" in r for r in runs[1:])
    source = _source_repository(tmp_path / "lstm-trace")
    project = tmp_path / "project"  # the user's repository, with the workflow copied in
    (project / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(CI / "github-actions.yml", project / ".github" / "workflows" / "lstm-shapes.yml")
    shutil.copytree(CI, project / "examples" / "ci")
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    bin_dir = _venv(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(
        PATH=f"{bin_dir}:{env.get('PATH', '')}",
        LSTM_TRACE_GIT=source.as_uri(),  # the local checkout for the URL
        # offline: the dependencies and the build backend are this interpreter's
        PIP_NO_INDEX="1",
        PIP_NO_DEPS="1",
        PIP_NO_BUILD_ISOLATION="0",  # pip reads "0" as: do not isolate the build
        PIP_IGNORE_INSTALLED="1",  # install into the venv even though a copy is visible
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        # the optional compiled kernel is left out (its build is .ci/run's to check): the
        # job's steps are the same without it, and compiling it took most of this test's time
        CC="/nonexistent/cc",
    )
    for script in runs:
        result = bash(script, project, env)
        assert result.returncode == 0, result.stdout + result.stderr
    installed = bash('python -c "import lstm_trace; print(lstm_trace.__file__)"', project, env)
    assert installed.stdout.startswith(str(tmp_path / "venv"))  # the job's own install
    assert (project / "reports" / "lstm-shapes.xml").read_text().count("<testcase") == 11
    assert "all 3 expectations passed" in result.stderr and "no differences" in result.stderr
    assert json.loads((project / "trace.json").read_text())["weights"]["source"] == "seeded"


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
    assert lines[0] == "true" and lines[1] == '{"keras":57680,"pytorch":58240,"onnx":58240}'
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
    golden = json.loads((CI / "golden-trace.json").read_text())
    assert golden["schema_version"] == 2 and golden["weights"]["source"] == "seeded"
