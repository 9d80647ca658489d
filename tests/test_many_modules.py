"""A file of many modules: the message that asks for --module stays one short line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from .conftest import run_cli


def _many(tmp_path: Path, count: int) -> Path:
    rng = np.random.default_rng(0)
    arrays: dict[str, np.ndarray] = {}
    for k in range(count):
        arrays[f"m{k}.weight_ih"] = rng.standard_normal((8, 2)).astype(np.float32)
        arrays[f"m{k}.weight_hh"] = rng.standard_normal((8, 2)).astype(np.float32)
    np.savez(tmp_path / "many.npz", **arrays)
    return tmp_path / "many.npz"


@pytest.mark.parametrize("extra", [[], ["--module", "nope"]], ids=["none", "unknown"])
def test_a_thousand_modules_are_named_eight_and_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    path = _many(tmp_path, 1000)
    code, out, err = run_cli(capsys, "--weights", path, *extra)
    assert (code, out) == (2, "")
    assert len(err.strip().splitlines()) == 1
    assert "m7 (lstm_cell) and 992 more" in err and "m8 (" not in err
    assert f"lstm-trace inspect {path} lists them" in err


def test_eight_modules_are_all_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "--weights", _many(tmp_path, 8))
    assert code == 2 and "m7 (lstm_cell); say which" in err and "more" not in err
