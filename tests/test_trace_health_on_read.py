"""Trace.health is built from the pass's counts when first read (trace.py's _BuiltOnRead), as
the records' objects are: trace() counts every gate in the pass but leaves the JSON object
to the first reader, who gets the report the monitor would have made at once."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from lstm_trace import LSTMConfig, init_weights, trace
from lstm_trace.health import HealthMonitor
from lstm_trace.trace import Trace

CFG = LSTMConfig(input_size=3, hidden_size=6, seq_len=40, batch=2)


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every call of HealthMonitor.report, counted."""
    calls: list[int] = []
    real = HealthMonitor.report

    def report(self: HealthMonitor) -> dict[str, Any]:
        calls.append(1)
        return real(self)

    monkeypatch.setattr(HealthMonitor, "report", report)
    return calls


def test_the_report_is_built_once_when_first_read(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting(monkeypatch)
    w = init_weights(CFG)
    for layer in w.layers:
        for d in layer:
            d.w_hh[...] *= 8.0  # saturated gates: counts that show
    t = trace(CFG, w)
    assert calls == []  # the pass counted; nothing built yet
    health = t.health
    assert calls == [1] and t.health is health and t.to_dict()["health"] is health
    assert calls == [1]
    assert any(g["saturated"] for g in health["gates"])
    monkeypatch.setenv("LSTM_TRACE_KERNEL", "numpy")  # the reference path, read at once
    assert trace(CFG, w).health == health


def test_a_copy_made_before_the_read_builds_the_same_report(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """dataclasses.replace (the JSON renderer's) reads every field: the report is built then,
    and both traces hold it."""
    calls = _counting(monkeypatch)
    t = trace(CFG)
    copy = dataclasses.replace(t, tensors=[])
    assert calls == [1] and copy.health is t.health and copy.tensors == []


def test_a_trace_made_by_hand_holds_the_report_it_is_given_or_none() -> None:
    t = trace(CFG)
    fields = {f.name: getattr(t, f.name) for f in dataclasses.fields(Trace)}
    made = Trace(**{**fields, "health": {"gates": []}})
    assert made.health == {"gates": []}
    del fields["health"]
    assert Trace(**fields).health == {}  # the default: an empty report, each its own
    assert Trace(**fields).health is not Trace(**fields).health
    late = Trace(**{**fields, "health": lambda: {"built": True}})
    assert late.health == {"built": True}
    assert np.array_equal(made.output, t.output)
