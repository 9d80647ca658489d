"""Two tensors of a checkpoint that flatten to one dotted name are refused, not one of them
dropped ({'enc.weight_ih': a, 'enc': {'weight_ih': b}} kept b alone, without a word)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lstm_trace.formats.checkpoint import flatten

from .conftest import run_cli
from .test_torch_archive import archive, dct, f32, tensor


def test_flatten_refuses_one_name_for_two_tensors() -> None:
    with pytest.raises(ValueError, match=r"two tensors are both named 'enc\.w'"):
        flatten({"enc.w": f32(2), "enc": {"w": f32(3)}})


def test_flatten_names_one_tensor_met_twice_once() -> None:
    shared = f32(2)
    arrays, _ = flatten({"a": {"w": shared}, "b": shared})
    assert list(arrays) == ["b"] and arrays["b"] is shared


def test_a_dotted_key_beside_a_nested_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cell = {"weight_ih": tensor("0", 16, (8, 2)), "weight_hh": tensor("1", 16, (8, 2))}
    other = {"weight_ih": tensor("2", 16, (8, 2)), "weight_hh": tensor("3", 16, (8, 2))}
    body = dct({**{f"enc.{k}": v for k, v in cell.items()}, "enc": dct(other)})
    data = {key: f32(8, 2, seed=int(key)).tobytes() for key in "0123"}
    path = archive(tmp_path / "two.pt", body, data)
    code, out, err = run_cli(capsys, "inspect", path)
    assert (code, out) == (1, "")
    assert err.strip() == (
        f"lstm-trace: error: {path}: two tensors are both named 'enc.weight_ih'; "
        "lstm-trace cannot tell them apart"
    )
