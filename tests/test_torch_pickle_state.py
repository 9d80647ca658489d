"""A pickle's BUILD cannot change a checked view or storage afterwards.

BUILD with a (None, slot state) pair sets attributes by setattr; a LazyTensor's offset or
stride changed after lazy_tensor checked it against its storage had the copy read memory
outside the storage (a stride of 10**11 crashed the process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import run_cli
from .test_torch_archive import archive, dct, f32, num, ordered, tensor, tup


def _build(target: bytes, **slots: bytes) -> bytes:
    """target, then BUILD with state (None, slots)."""
    return target + tup(b"N", dct(slots)) + b"b"


def _cell(tmp_path: Path, weight_ih: bytes) -> Path:
    body = ordered(
        {
            "weight_ih": weight_ih,
            "weight_hh": tensor("1", 16, (8, 2)),
            "bias_ih": tensor("2", 8, (8,)),
            "bias_hh": tensor("3", 8, (8,)),
        }
    )
    data = {"0": f32(8, 2).tobytes(), "1": f32(8, 2, seed=1).tobytes()}
    data |= {"2": f32(8, seed=2).tobytes(), "3": f32(8, seed=3).tobytes()}
    return archive(tmp_path / "evil.pt", body, data)


@pytest.mark.parametrize(
    "slots",
    [
        {"offset": num(10**9)},
        {"stride": tup(num(0), num(10**11))},
        {"size": tup(num(8), num(10**6))},
    ],
    ids=["offset", "stride", "size"],
)
def test_build_cannot_move_a_checked_view(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], slots: dict[str, bytes]
) -> None:
    path = _cell(tmp_path, _build(tensor("0", 16, (8, 2)), **slots))
    code, out, err = run_cli(capsys, "inspect", path)
    assert (code, out) == (1, "")
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "LazyTensor's" in lines[0] and "cannot be set" in lines[0]


def test_the_same_view_unbuilt_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _cell(tmp_path, tensor("0", 16, (8, 2)))
    code, out, _ = run_cli(capsys, "inspect", path)
    assert code == 0 and "lstm_cell" in out


def test_build_cannot_grow_a_storage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the storage is on the stack after BINPERSID (Q): BUILD it there, then the view is made
    grow = b"Q" + tup(b"N", dct({"numel": num(10**9)})) + b"b"
    path = _cell(tmp_path, tensor("0", 16, (8, 2)).replace(b"Q", grow, 1))
    code, _, err = run_cli(capsys, "inspect", path)
    assert code == 1
    assert "Storage's numel cannot be set" in err
    assert len(err.strip().splitlines()) == 1
