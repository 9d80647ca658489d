"""The compiled kernel's gate health and the trace's health report after a third review: the
edges it found, each pinned by a test that failed before its fix.

The kernel cases run in a subprocess (a fresh interpreter from the repository's root), so
that a write out of bounds fails the test instead of ending the run; they are skipped without
the compiled kernel."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace import LSTMConfig, trace
from lstm_trace.trace import Trace

ROOT = Path(__file__).resolve().parents[1]


def _in_subprocess(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)  # fmt: skip


# piece, the segment of each step, read from memory the call itself writes: rows (after the
# call, each step's rows into rows[piece[t]]) or n_low (in the loop, and in health()'s pass).
# Every count, and every index, must come from piece as it was when the call began; the
# arrays are slices of one guarded buffer, so a write past them shows in its sentinels.
ALIASED_PIECE = r"""
import json
import numpy as np
from lstm_trace import _kernel as k
from lstm_trace.cells import kernel as K

f = np.float32
H, W = 4, 16
rng = np.random.default_rng(3)

def health(S, steps, where):
    '''The health tuple in one guarded int64 buffer (sentinels 7 around it), piece a view of
    `where` ("rows", "n_low" or None: its own slice): the tuple and the buffer.'''
    sizes = {"n_low": S * W, "n_high": S * W, "n_bad": W, "rows": S, "piece": steps}
    buf = np.full(sum(sizes.values()) + 16 * 6, 7, np.int64)
    at, views = 8, {}
    for name, size in sizes.items():
        views[name] = buf[at:at + size]
        buf[at:at + size] = 0
        at += size + 16
    if where:
        views["piece"] = views[where][:steps]
    views["n_low"], views["n_high"] = views["n_low"].reshape(S, W), views["n_high"].reshape(S, W)
    ext = [np.full(W, 0.05, f), np.full(W, 0.95, f), np.full(W, np.inf, f), np.full(W, -np.inf, f)]
    return ext + [views[n] for n in ("n_low", "n_high", "n_bad", "rows", "piece")], buf

def run(call, S, piece, where):
    '''call(health) with piece aliased to `where`, and with a private copy of the same piece
    over the same starting counts: both results' counts, and whether the sentinels held.'''
    h, buf = health(S, len(piece), where)
    h[8][:] = piece
    start = [a.copy() for a in h[4:8]]
    ref, _ = health(S, len(piece), None)
    for a, b in zip(ref[4:8], start):
        a[...] = b
    ref[8][:] = piece
    got_bad, want_bad = call(tuple(h)), call(tuple(ref))
    sentinels = buf[buf != 0]
    return {"counts": [a.tolist() for a in h[4:8]] == [a.tolist() for a in ref[4:8]],
            "bad": got_bad == want_bad, "guards": int((buf[:8] == 7).all() and (buf[-8:] == 7).all()
            and all((buf[e:e + 16] == 7).all() for e in guard_ends(S, len(piece))))}

def guard_ends(S, steps):
    at, out = 8, []
    for size in (S * W, S * W, W, S, steps):
        at += size
        out.append(at)
        at += 16
    return out[:-1]

def lstm(B, steps):
    z0 = rng.standard_normal((steps, B, W)).astype(f) * 3
    packed = K.pack(rng.standard_normal((H, W)).astype(f))
    def call(h):
        z = z0.copy()
        return k.lstm(z, packed, np.zeros((B, H), f), np.zeros((B, H), f),
                      np.zeros((steps, B, H), f), np.zeros((steps, B, H), f),
                      np.ones(W, f), np.zeros(W, f), None, False, h)
    return call

def block(B, steps):
    x = rng.standard_normal((steps, B, W)).astype(f)
    return lambda h: k.health(x, h)

out = {}
for B in (1, 5):  # a few rows counted a segment at a time, more step by step
    out[f"lstm B={B} piece in rows"] = run(lstm(B, 2), 2, [1, 0], "rows")
    out[f"lstm B={B} piece in n_low"] = run(lstm(B, 5), 2, [0, 0, 1, 1, 1], "n_low")
    out[f"health B={B} piece in rows"] = run(block(B, 2), 2, [1, 0], "rows")
    out[f"health B={B} piece in n_low"] = run(block(B, 5), 2, [0, 0, 1, 1, 1], "n_low")
print(json.dumps(out))
"""


def test_a_piece_in_memory_the_call_writes_is_read_as_it_was_when_the_call_began() -> None:
    """piece indexes the counts: a piece that shared memory with rows or n_low changed as
    the call wrote them, and its new values (a count, 5 for segment 2 of 2) indexed rows and
    n_low out of bounds (AddressSanitizer: heap corruption). The kernel now reads a copy of
    piece made before it writes anything, so the counts are those of a piece of its own."""
    pytest.importorskip("lstm_trace._kernel", reason="no compiled kernel in this install")
    done = _in_subprocess(ALIASED_PIECE)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    got = json.loads(done.stdout)
    assert got == {name: {"counts": True, "bad": True, "guards": 1} for name in got}, got
    assert len(got) == 8


def _infinite_forget_gate(event: Any) -> Any:
    return np.full_like(event.value, np.inf) if event.name == "forget_gate" else None


def test_a_gate_infinite_at_every_step_is_reported_without_a_warning() -> None:
    """A unit whose every value is +Inf has +Inf for both extremes, and the stuck search's
    max - min was Inf - Inf: NumPy's 'invalid value encountered in subtract' RuntimeWarning
    on stderr when Trace.health was read (an error where warnings are). The unit is counted
    as NaN/Inf, not stuck, and the report is read quietly."""
    cfg = LSTMConfig(input_size=3, hidden_size=5, seq_len=20, batch=2)
    done = trace(cfg, hooks=[_infinite_forget_gate], steps="all")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        health = done.health
    forget = next(g for g in health["gates"] if g["gate"] == "forget_gate")
    assert forget["nonfinite"] == 20 * 2 * 5 and forget["stuck_count"] == 0
    assert forget["saturated_high_count"] == 20 * 2 * 5  # +Inf is on the high side
    assert health["first_nonfinite"] == {"step": 0, "layer": 0, "direction": "forward",
                                         "gate": "forget_gate"}  # fmt: skip


def test_a_trace_whose_health_was_never_set_has_no_health_attribute() -> None:
    """Trace.health is a descriptor reading the instance's own slot: on an object not made
    by __init__ (Trace.__new__, as a copy or a subclass might make one) the slot's KeyError
    escaped, so hasattr() and getattr() with a default raised instead of answering."""
    bare = Trace.__new__(Trace)
    assert not hasattr(bare, "health")
    assert getattr(bare, "health", "absent") == "absent"
    with pytest.raises(AttributeError, match="'Trace' object has no attribute 'health'"):
        _ = bare.health
    bare.health = {"gates": []}
    assert bare.health == {"gates": []}
