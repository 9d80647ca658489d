from __future__ import annotations

import pytest

from lstm_trace import ConfigError, LSTMConfig, MemoryLimitError
from lstm_trace.config import BASE_BYTES, format_bytes, parse_bytes


def test_defaults_are_the_walkthrough() -> None:
    cfg = LSTMConfig()
    assert (cfg.input_size, cfg.hidden_size) == (32, 70)
    assert cfg.h_out == 70
    assert cfg.h_out + cfg.layer_input_size(0) == 102
    assert cfg.num_directions == 1 and cfg.output_size == 70


def test_bidirectional_stack_sizes() -> None:
    cfg = LSTMConfig(bidirectional=True, num_layers=2)
    assert cfg.output_size == 140
    assert cfg.layer_input_size(1) == 140
    assert cfg.h_out + cfg.layer_input_size(1) == 210


def test_projection_sizes() -> None:
    cfg = LSTMConfig(hidden_size=70, proj_size=20, bidirectional=True)
    assert cfg.h_out == 20 and cfg.output_size == 40


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("hidden_size", 0),
        ("hidden_size", -3),
        ("input_size", 0),
        ("seq_len", 0),
        ("num_layers", 0),
        ("batch", 0),
        ("hidden_size", 2.5),
        ("hidden_size", True),
        ("input_size", "32"),
        ("proj_size", 70),
        ("proj_size", -1),
        ("dtype", "float16"),
        ("seed", -1),
        ("bidirectional", "yes"),
    ],
)
def test_bad_values_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        LSTMConfig(**{field: value})  # type: ignore[arg-type]
    assert info.value.option == field
    assert repr(value) in info.value.message or str(value) in info.value.message


def test_memory_guard_refuses_before_allocating() -> None:
    cfg = LSTMConfig(hidden_size=1_000_000)  # 4H x (I + H) weights alone: ~16 TB
    assert cfg.estimate_bytes() > 10 * 1024**4
    with pytest.raises(MemoryLimitError) as info:
        cfg.check_memory()
    assert "--max-memory" in info.value.message and "TB" in info.value.message
    cfg.check_memory(limit=cfg.estimate_bytes())  # exactly at the limit is fine


def test_memory_estimate_counts_weights_and_arrays() -> None:
    cfg = LSTMConfig(input_size=2, hidden_size=3, seq_len=5, dtype="float64")
    weights = 4 * 3 * (2 + 3) + 8 * 3
    weights += 4 * 3 * (3 + 3)  # one direction's weights again, the widest input (3) + H_out
    x, output = 5 * 2, 5 * 3
    blocks = 5 * (4 * 3 + 3 + 3)  # per step: gates, cell states and the widest input
    drawn = 5 * 2 * 8  # the seeded input is drawn in float64
    assert cfg.estimate_bytes() == BASE_BYTES + 8 * (weights + x + output + blocks) + drawn
    assert cfg.estimate_bytes(extra=1000) == cfg.estimate_bytes() + 1000


def test_absurd_layer_counts_are_refused_at_once() -> None:
    import time

    start = time.monotonic()
    with pytest.raises(MemoryLimitError, match="--max-memory"):
        LSTMConfig(num_layers=10**9).check_memory()
    assert time.monotonic() - start < 1.0  # closed form, no loop over a billion layers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4GB", 4 * 1024**3),
        ("512 MB", 512 * 1024**2),
        ("1.5k", 1536),
        ("100", 100),
        ("2GiB", 2 * 1024**3),
    ],
)
def test_parse_bytes(text: str, expected: int) -> None:
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["lots", "-1GB", "0", "inf"])
def test_parse_bytes_rejects(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_bytes(text)


def test_format_bytes() -> None:
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536) == "1.5 KB"
    assert format_bytes(16 * 1024**4) == "16.0 TB"


def test_sizes_no_machine_has_are_refused_without_a_suggestion() -> None:
    cfg = LSTMConfig(seq_len=10**20)
    with pytest.raises(MemoryLimitError) as info:
        cfg.check_memory(limit=10**30)  # not even a huge --max-memory lets it through
    assert "more than any machine has; use smaller sizes" in info.value.message
    assert "EB" not in info.value.message and "raise it" not in info.value.message


def test_direction_and_the_older_bidirectional_flag() -> None:
    import dataclasses

    bi = LSTMConfig(bidirectional=True)
    assert bi == LSTMConfig(direction="bi") and bi.bidirectional and bi.num_directions == 2
    assert dataclasses.replace(bi, direction="uni").direction == "uni"  # one source of truth
    assert dataclasses.replace(bi, seq_len=5).direction == "bi"
    reverse = LSTMConfig(direction="reverse")
    assert reverse.directions == ("backward",) and not reverse.bidirectional
    assert reverse.num_directions == 1 and reverse.output_size == 70
    assert LSTMConfig(bidirectional=False, direction="reverse").direction == "reverse"
    for bad in ({"bidirectional": True, "direction": "uni"}, {"direction": "both"}):
        with pytest.raises(ConfigError):
            LSTMConfig(**bad)  # type: ignore[arg-type]
