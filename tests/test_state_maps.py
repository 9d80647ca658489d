"""Trace.maps: every gate and state over time, against the full values the trace kept."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_trace import HookEvent, LSTMConfig, SelectionError, trace
from lstm_trace.state_maps import StateMaps, auto_rows


def _full(t, name: str, layer: int, direction: str) -> np.ndarray:
    """(T, n) of batch row 0 from the values a keep_values trace kept."""
    rows = [t.values[(name, layer, direction, s)] for s in range(t.config.seq_len)]
    return np.array([r if r.ndim == 1 else r[0] for r in rows], dtype=np.float64)


CONFIGS = [
    LSTMConfig(input_size=3, hidden_size=5, seq_len=9, batch=2, seed=1),
    LSTMConfig(input_size=3, hidden_size=4, seq_len=7, num_layers=2, direction="bi", seed=2),
    LSTMConfig(input_size=3, hidden_size=5, seq_len=6, proj_size=2, seed=3),
    LSTMConfig(input_size=2, hidden_size=4, seq_len=8, cell="gru", batch=3, seed=4),
    LSTMConfig(input_size=2, hidden_size=3, seq_len=5, cell="gru", direction="bi", seed=5),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.cell}-{c.direction}-{c.batch}")
def test_one_row_per_step_holds_every_value(config: LSTMConfig) -> None:
    t = trace(config, steps="all", keep_values=True)
    assert t.maps is not None and t.maps.rows == config.seq_len
    expected = (*config.kind.report_order, "hidden_state")
    assert t.maps.tensors[: len(expected)] == expected
    for k in range(config.num_layers):
        for d in config.directions:
            for name in t.maps.tensors:
                assert np.array_equal(t.maps.matrix(name, k, d), _full(t, name, k, d)), name
    assert t.maps.rule() == f"one row per step (T = {config.seq_len})"
    assert t.maps.first_steps() == list(range(config.seq_len))


@pytest.mark.parametrize("config", CONFIGS[1:2] + CONFIGS[4:], ids=["lstm-bi", "gru-bi"])
def test_rows_are_means_of_consecutive_steps(config: LSTMConfig) -> None:
    config = LSTMConfig(**{**config.__dict__, "seq_len": 23})
    t = trace(config, steps="all", keep_values=True, maps=True, map_rows=5)
    assert t.maps is not None and t.maps.rows == 5
    groups = np.arange(23) * 5 // 23
    for d in config.directions:
        for name in t.maps.tensors:
            full = _full(t, name, config.num_layers - 1, d)
            want = np.array([full[groups == r].mean(axis=0) for r in range(5)])
            got = t.maps.matrix(name, config.num_layers - 1, d)
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert t.maps.first_steps() == [int(np.flatnonzero(groups == r)[0]) for r in range(5)]
    assert t.maps.rule() == "each row is the mean of 4 or 5 consecutive steps (T = 23 in 5 rows)"


def test_hooks_show_in_the_maps() -> None:
    """With a user's hook the maps show what it replaced: h_t zero at step 3."""
    config = CONFIGS[0]

    def zero(event: HookEvent) -> np.ndarray | None:
        if event.name == "hidden_state" and event.step == 3:
            return np.zeros_like(event.value)
        return None

    hooked = trace(config, hooks=[zero], steps="all", keep_values=True)
    plain = trace(config)
    assert hooked.maps is not None and plain.maps is not None
    h = hooked.maps.matrix("hidden_state")
    assert np.array_equal(h[3], np.zeros(config.hidden_size))
    assert np.array_equal(h, _full(hooked, "hidden_state", 0, "forward"))
    c = hooked.maps.matrix("cell_state")
    assert np.array_equal(c, _full(hooked, "cell_state", 0, "forward"))
    assert not np.array_equal(h[3], plain.maps.matrix("hidden_state")[3])
    # the gates of step 4 read the zeroed h: they differ from the plain run's from there on
    f_hooked, f_plain = hooked.maps.matrix("forget_gate"), plain.maps.matrix("forget_gate")
    assert np.array_equal(f_hooked[:4], f_plain[:4]) and not np.array_equal(f_hooked[4], f_plain[4])


def test_nan_stays_in_its_row() -> None:
    config = LSTMConfig(input_size=2, hidden_size=3, seq_len=40)
    x = np.ones((40, 2))
    x[17] = np.nan
    t = trace(config, x=x, maps=True, map_rows=10)
    assert t.maps is not None
    f = t.maps.matrix("forget_gate")
    assert np.isnan(f[4]).all() and not np.isnan(f[:4]).any()


def test_automatic_maps_stay_small() -> None:
    small = LSTMConfig(input_size=32, hidden_size=70)
    assert trace(small).maps is not None
    assert auto_rows(small) == 3
    long = LSTMConfig(input_size=8, hidden_size=16, seq_len=501)
    assert auto_rows(long) == 0 and trace(long).maps is None
    assert trace(long, maps=True).maps is not None
    wide = LSTMConfig(input_size=8, hidden_size=1024, seq_len=400, num_layers=2, direction="bi")
    assert auto_rows(wide) == 0  # 400 x 24576 numbers: more than 2M
    assert trace(LSTMConfig(input_size=3, hidden_size=4), maps=False).maps is None


@pytest.mark.parametrize("rows", [0, -1, 2.5, True])
def test_bad_map_rows(rows: object) -> None:
    with pytest.raises(SelectionError, match="map_rows"):
        trace(LSTMConfig(input_size=3, hidden_size=4), maps=True, map_rows=rows)  # type: ignore[arg-type]


def test_unknown_map_is_a_key_error() -> None:
    maps = StateMaps(LSTMConfig(input_size=3, hidden_size=4, cell="gru"))
    assert maps.tensors == ("reset_gate", "update_gate", "candidate", "hidden_state")
    with pytest.raises(KeyError, match="cell_state"):
        maps.matrix("cell_state")


def test_long_blocks_are_averaged_a_slice_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """A group of steps split between two slices of a block gives the same means."""
    import lstm_trace.state_maps as sm

    config = LSTMConfig(input_size=3, hidden_size=4, seq_len=50, seed=6)
    whole = trace(config, maps=True, map_rows=7).maps
    monkeypatch.setattr(sm, "_COPY_NUMBERS", 3 * 16)  # 3 steps of the 16 gate numbers a slice
    sliced = trace(config, maps=True, map_rows=7).maps
    assert whole is not None and sliced is not None
    for name in whole.tensors:
        np.testing.assert_allclose(sliced.matrix(name), whole.matrix(name), rtol=1e-13)
