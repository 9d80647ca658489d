"""A weights file of no tensors at all is refused in one line, exit 1 (inspect printed two
empty tables and exit 0; a trace said exit 2, as if the user had erred)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from .conftest import run_cli


@pytest.mark.parametrize("command", [["inspect"], ["--weights"]], ids=["inspect", "trace"])
def test_an_npz_of_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    path = tmp_path / "none.npz"
    np.savez(path)
    code, out, err = run_cli(capsys, *command, path)
    assert (code, out) == (1, "")
    assert err == f"lstm-trace: error: {path}: holds no tensors at all\n"


def test_a_safetensors_of_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("safetensors")
    from safetensors.numpy import save_file

    path = tmp_path / "none.safetensors"
    save_file({}, str(path))
    code, out, err = run_cli(capsys, "inspect", path)
    assert (code, out) == (1, "")
    assert err == f"lstm-trace: error: {path}: holds no tensors at all\n"
