"""A legacy torch file whose list of storage keys holds what is not a key is refused in one
line (set() of a list of lists raised a TypeError: an internal error)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from .conftest import run_cli

MAGIC = 0x1950A86A20F9469CFC6C


@pytest.mark.parametrize("keys", [[[1]], [{"a": 1}], "0", [0]], ids=["list", "dict", "str", "int"])
def test_storage_keys_that_are_not_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], keys: Any
) -> None:
    path = tmp_path / "legacy.pt"
    with path.open("wb") as f:
        for part in (MAGIC, 1001, {"little_endian": True}, {"step": 1}, keys):
            pickle.dump(part, f, protocol=2)
    code, out, err = run_cli(capsys, "inspect", path)
    assert (code, out) == (1, "")
    assert err.strip() == (
        f"lstm-trace: error: {path}: its list of storages does not match its tensors"
    )
