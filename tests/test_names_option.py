"""--names never renames two tensors to one name (the dict of renamed tensors kept only the
last, so that a tensor was dropped without a word)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from .conftest import run_cli


def _own(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    arrays = {
        "enc_w_ih": rng.standard_normal((8, 3)),
        "enc_w_hh": rng.standard_normal((8, 2)),
        "enc_b_ih": rng.standard_normal(8),
        "enc_b_hh": rng.standard_normal(8) + 1.0,
    }
    np.savez(tmp_path / "own.npz", **{k: v.astype(np.float32) for k, v in arrays.items()})
    return tmp_path / "own.npz"


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("enc_w_ih=x,enc_w_hh=x", "'enc_w_ih' and 'enc_w_hh' would both be named 'x'"),
        ("enc_b_ih=enc_b_hh", "'enc_b_ih' and 'enc_b_hh' would both be named 'enc_b_hh'"),
    ],
)
def test_names_refuses_two_tensors_of_one_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], given: str, said: str
) -> None:
    code, out, err = run_cli(capsys, "--weights", _own(tmp_path), "--names", given)
    assert (code, out) == (2, "")
    assert said in err and len(err.strip().splitlines()) == 1


def test_names_swapping_two_tensors_is_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    given = "enc_b_ih=enc_b_hh,enc_b_hh=enc_b_ih"
    code, out, _ = run_cli(capsys, "--weights", _own(tmp_path), "--names", given, "-T", "1")
    assert code == 0 and out
