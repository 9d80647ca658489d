"""Messages that read as English: counts with the right noun, no '(s)'."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lstm_trace import LSTMConfig, init_weights
from lstm_trace.cli import main
from lstm_trace.formats.writing import write_weights


def test_convert_says_one_layer_and_no_biases(tmp_path: Path, capsys: Any) -> None:
    source = tmp_path / "a.npz"
    write_weights(source, init_weights(LSTMConfig(input_size=3, hidden_size=4)), "pytorch")
    assert main(["convert", str(source), str(tmp_path / "b.weights.h5")]) == 0
    err = capsys.readouterr().err
    assert "hidden 4, 1 layer, unidirectional, float32" in err and "(s)" not in err
    bare = tmp_path / "c.npz"
    cfg = LSTMConfig(input_size=3, hidden_size=4, num_layers=2, bias=False)
    write_weights(bare, init_weights(cfg), "pytorch")
    assert main(["convert", str(bare), str(tmp_path / "d.weights.h5")]) == 0
    assert "2 layers, unidirectional, no biases, float32" in capsys.readouterr().err


def test_diff_counts_its_differences_in_words(tmp_path: Path, capsys: Any) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for path, seq in ((a, "3"), (b, "4")):
        assert main(["--json", "-T", seq, "--samples", "0"]) == 0
        path.write_text(capsys.readouterr().out)
    assert main(["diff", str(a), str(b)]) == 1
    err = capsys.readouterr().err
    assert "differences between" in err and "(s)" not in err


def test_trace_options_before_a_subcommand_are_refused_not_ignored(
    tmp_path: Path, capsys: Any
) -> None:
    """`lstm-trace --max-memory 10KB convert a b` used to convert with the default limit."""
    source = tmp_path / "a.npz"
    write_weights(source, init_weights(LSTMConfig(input_size=3, hidden_size=4)), "pytorch")
    target = tmp_path / "b.weights.h5"
    assert main(["--max-memory", "10KB", "convert", str(source), str(target)]) == 2
    err = capsys.readouterr().err
    assert "--max-memory before 'convert' is an option of the trace; put it after" in err
    assert not target.exists()
    assert main(["-H", "5", "explain"]) == 2
    assert "--hidden before 'explain'" in capsys.readouterr().err
    assert main(["explain", "-H", "5"]) == 0


def test_convert_of_a_projection_to_keras_is_one_usage_error(tmp_path: Path, capsys: Any) -> None:
    source = tmp_path / "p.npz"
    cfg = LSTMConfig(input_size=3, hidden_size=4, proj_size=2)
    write_weights(source, init_weights(cfg), "pytorch")
    for target, to in (("k.weights.h5", []), ("k.npz", ["--to", "keras"])):
        assert main(["convert", str(source), str(tmp_path / target), *to]) == 2
        err = capsys.readouterr().err
        assert f"Keras has no LSTM with a projection, and {source} has proj_size 2" in err
        assert not (tmp_path / target).exists()


def test_options_before_a_subcommand_that_takes_none_say_so(capsys: Any) -> None:
    assert main(["--seed", "1", "schema"]) == 2
    assert "--seed is an option of the trace; 'lstm-trace schema' takes none" in (
        capsys.readouterr().err
    )
    assert main(["--no-bias", "schema"]) == 2
    assert "--no-bias is an option of the trace" in capsys.readouterr().err


def test_inputs_are_refused_in_their_own_words(tmp_path: Path, capsys: Any) -> None:
    import numpy as np

    np.save(tmp_path / "x.npy", np.ones((3, 32), np.complex64))
    assert main(["--x", str(tmp_path / "x.npy")]) == 1
    err = capsys.readouterr().err
    assert "x holds complex64 values; lstm-trace reads numbers: bool, integers or floats" in err
