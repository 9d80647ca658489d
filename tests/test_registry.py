"""formats/registry.py: the one table of weights-file kinds, and reading and writing by it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lstm_trace import LSTMConfig, init_weights
from lstm_trace.errors import FileError
from lstm_trace.formats import registry
from lstm_trace.formats.modules import Named
from lstm_trace.formats.reading import read_weights
from lstm_trace.formats.registry import KINDS, WEIGHT_KINDS, kind_to_read
from lstm_trace.formats.weight_kinds import KIND_OF
from lstm_trace.formats.writing import write_weights


def test_every_kind_has_one_reader_and_its_writer_matches_its_frameworks() -> None:
    for suffix, kind in KINDS.items():
        assert (kind.read_named is None) != (kind.read_contents is None), suffix
        writers = (kind.write_named, kind.write_layers, kind.write_weights)
        writes = any(w is not None for w in writers)
        assert writes == bool(kind.frameworks), suffix
    assert set(KIND_OF.values()) <= set(KINDS)  # every --to kind is written by a row


def test_the_kinds_each_framework_writes_come_from_the_table() -> None:
    assert WEIGHT_KINDS == {
        "pytorch": (".npz", ".safetensors", ".pt", ".pth"),
        "keras": (".npz", ".safetensors", ".weights.h5"),
        "onnx": (".onnx",),
    }


def test_an_unknown_suffix_names_the_kinds_that_are_read() -> None:
    with pytest.raises(FileError) as caught:
        kind_to_read(Path("w.tflite"))
    assert caught.value.message == (
        "w.tflite: unknown weights file kind '.tflite'; use .npz, .safetensors, .pt/.pth/.jit, "
        ".weights.h5, .keras or .onnx"
    )
    assert kind_to_read(Path("M.WEIGHTS.H5")) is KINDS[".weights.h5"]


@pytest.mark.parametrize(
    ("name", "framework"),
    [("w.npz", "pytorch"), ("w.npz", "keras"), ("w.safetensors", "pytorch")],
)
def test_what_a_row_writes_its_reader_reads_back(tmp_path: Path, name: str, framework: str) -> None:
    if name.endswith(".safetensors"):
        pytest.importorskip("safetensors")
    cfg = LSTMConfig(input_size=3, hidden_size=2, seq_len=2)
    weights = init_weights(cfg, seed=1)
    path = tmp_path / name
    write_weights(path, weights, framework)
    wf = read_weights(path)
    assert wf.framework == framework
    back = wf.build(cfg)
    for a, b in zip(weights.layers[0][0].w_ih, back.layers[0][0].w_ih, strict=True):
        np.testing.assert_array_equal(a, b)


def test_reading_goes_through_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A row's reader is what read_weights calls: a new row is all a new suffix needs."""
    seen = []

    def fake(path: Path, limit: int) -> tuple[dict[str, np.ndarray], list[str]]:
        seen.append(path)
        state = init_weights(LSTMConfig(input_size=3, hidden_size=2), seed=0).to_pytorch()
        return Named(state, [str(a.dtype) for a in state.values()])

    monkeypatch.setitem(KINDS, ".fake", registry.Kind(read_named=fake))
    path = tmp_path / "w.fake"
    path.write_bytes(b"")
    wf = read_weights(path)
    assert seen == [path] and wf.framework == "pytorch" and wf.architecture.hidden_size == 2
