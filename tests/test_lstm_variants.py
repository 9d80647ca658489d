"""The LSTM's variants and ONNX's recurrences against independent references.

Peepholes and reverse-only layers against the committed ONNX fixtures
(fixtures/make_onnx_fixtures.py) and live against onnxruntime on freshly built graphs; the ONNX
GRU's two forms (linear_before_reset 1 and 0) against the GRU's reset_after True and False; a
reverse-only LSTM against the backward half of a bidirectional nn.LSTM (live) and against
Keras's LSTM(go_backwards=True) (fixture); and the counts of a peephole LSTM.

ONNX's layout, mapped here to PyTorch's: X (T, B, I) sequence first; W (D, G*H, I), R
(D, G*H, H) and each half of B (D, 2*G*H) = [Wb, Rb] stack the LSTM's gates i, o, f, c
(PyTorch: i, f, g, o) and the GRU's z, r, h (PyTorch: r, z, n); P (D, 3H) stacks i, o, f
(w_peep: i, f, o); Y (T, D, B, H) in time order for both directions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace import LSTMConfig, forward
from lstm_trace.weights import DirectionWeights, LSTMWeights, param_count

FIXTURES = Path(__file__).parent / "fixtures"

#: ONNX's gate blocks -> PyTorch's: LSTM i, o, f, c -> i, f, g, o; GRU z, r, h -> r, z, n
TO_PYTORCH = {"lstm": [0, 2, 3, 1], "gru": [1, 0, 2]}
#: P's blocks i, o, f -> w_peep's i, f, o
PEEP_TO_IFO = [0, 2, 1]
DIRECTIONS = {"forward": "uni", "bidirectional": "bi", "reverse": "reverse"}


def load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def blocks(a: np.ndarray, order: list[int]) -> np.ndarray:
    """The gate blocks of a's first axis, reordered."""
    parts = np.split(a, len(order))
    return np.concatenate([parts[k] for k in order])


def onnx_weights(
    a: dict[str, np.ndarray], cell: str, direction: str, linear_before_reset: int = 1
) -> LSTMWeights:
    """ONNX's W, R, B (and P) -> LSTMWeights of one layer."""
    d_count, rows, i = a["W"].shape
    gates = 4 if cell == "lstm" else 3
    h = rows // gates
    order = TO_PYTORCH[cell]
    cfg = LSTMConfig(input_size=i, hidden_size=h, seq_len=a["X"].shape[0], batch=a["X"].shape[1],
                     cell=cell, direction=DIRECTIONS[direction], peepholes="P" in a,
                     reset_after=bool(linear_before_reset))  # fmt: skip
    layer = []
    for d in range(d_count):
        b = a["B"][d]
        layer.append(
            DirectionWeights(
                blocks(a["W"][d], order), blocks(a["R"][d], order),
                blocks(b[: gates * h], order), blocks(b[gates * h :], order),
                w_peep=blocks(a["P"][d], PEEP_TO_IFO) if "P" in a else None, cell=cell,
            )
        )  # fmt: skip
    return LSTMWeights(cfg, (tuple(layer),))


def run_onnx_layout(
    weights: LSTMWeights, a: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """forward() on ONNX's X and initial states -> (Y (T, D, B, H), Y_h, Y_c or None)."""
    x = a["X"].transpose(1, 0, 2)  # (B, T, I)
    c0 = a.get("initial_c") if weights.config.cell == "lstm" else None
    result = forward(weights, x, h0=a.get("initial_h"), c0=c0)
    out, finals = result
    h_n, c_n = finals if isinstance(finals, tuple) else (finals, None)
    t, d, b, h = a["X"].shape[0], weights.config.num_directions, x.shape[0], weights.config.h_out
    y = out.reshape(b, t, d, h).transpose(1, 2, 0, 3)
    return y, h_n, c_n


def onnx_count(a: dict[str, np.ndarray]) -> int:
    return sum(a[k].size for k in ("W", "R", "B", "P") if k in a)


LSTM_FIXTURES = ["lstm_peep_forward", "lstm_peep_bi_init", "lstm_reverse", "lstm_reverse_peep"]


@pytest.mark.parametrize("name", LSTM_FIXTURES)
def test_onnx_lstm_fixtures(name: str) -> None:
    a = load(FIXTURES / f"onnx_{name}.npz")
    weights = onnx_weights(a, "lstm", str(a["meta_direction"]))
    assert weights.config.peepholes == bool(a["meta_peepholes"])
    y, h_n, c_n = run_onnx_layout(weights, a)
    np.testing.assert_allclose(y, a["Y"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(h_n, a["Y_h"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(c_n, a["Y_c"], rtol=0, atol=1e-5)  # type: ignore[arg-type]
    assert param_count(weights.config).onnx == onnx_count(a)


def test_onnx_lstm_fixtures_cover_the_variants() -> None:
    cases = [load(FIXTURES / f"onnx_{n}.npz") for n in LSTM_FIXTURES]
    assert {str(a["meta_direction"]) for a in cases} == {"forward", "bidirectional", "reverse"}
    assert any("initial_h" in a and "P" in a and str(a["meta_direction"]) == "reverse"
               for a in cases)  # fmt: skip
    assert any("P" not in a for a in cases)


def test_peepholes_change_the_numbers() -> None:
    # the fixtures' peepholes are not idle: without them the output moves well beyond 1e-5
    a = load(FIXTURES / "onnx_lstm_peep_forward.npz")
    weights = onnx_weights(a, "lstm", "forward")
    no_peep = {k: v for k, v in a.items() if k != "P"}
    y, _, _ = run_onnx_layout(onnx_weights(no_peep, "lstm", "forward"), no_peep)
    assert np.abs(y - a["Y"]).max() > 1e-2
    assert weights.config.peepholes


@pytest.mark.parametrize("lbr", [1, 0])
def test_onnx_gru_fixtures(lbr: int) -> None:
    a = load(FIXTURES / f"onnx_gru_lbr{lbr}_forward.npz")
    assert int(a["meta_linear_before_reset"]) == lbr
    weights = onnx_weights(a, "gru", "forward", lbr)
    assert weights.config.reset_after == bool(lbr)
    y, h_n, _ = run_onnx_layout(weights, a)
    np.testing.assert_allclose(y, a["Y"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(h_n, a["Y_h"], rtol=0, atol=1e-5)
    assert param_count(weights.config).onnx == onnx_count(a)


def test_the_onnx_gru_forms_differ() -> None:
    # reset_after must matter on these weights, or the test above could not tell them apart
    a = load(FIXTURES / "onnx_gru_lbr0_forward.npz")
    y, _, _ = run_onnx_layout(onnx_weights(a, "gru", "forward", 1), a)
    assert np.abs(y - a["Y"]).max() > 1e-3


# --- onnxruntime, live ---------------------------------------------------------------------

LIVE_ONNX = [
    # cell, direction, peepholes, initial states, linear_before_reset, seed
    ("lstm", "forward", True, True, 0, 0),
    ("lstm", "bidirectional", True, True, 0, 1),
    ("lstm", "reverse", True, False, 0, 2),
    ("lstm", "reverse", False, True, 0, 3),
    ("gru", "bidirectional", False, True, 1, 4),
    ("gru", "reverse", False, True, 0, 5),
    ("gru", "forward", False, False, 0, 6),
]


def onnx_arrays(cell: str, direction: str, peep: bool, init: bool, seed: int) -> dict[str, Any]:
    """Random sizes and weights; biases non-zero and different, as the fixture script's."""
    rng = np.random.default_rng(900 + seed)
    i, h, t, b = (int(v) for v in rng.integers(1, 6, size=4))
    d = 2 if direction == "bidirectional" else 1
    gates = 4 if cell == "lstm" else 3
    k = 1 / np.sqrt(h)
    a = {
        "X": rng.standard_normal((t, b, i)),
        "W": rng.uniform(-k, k, (d, gates * h, i)),
        "R": rng.uniform(-k, k, (d, gates * h, h)),
        "B": rng.uniform(-0.5, 0.5, (d, 2 * gates * h)) + 0.1,
    }
    if peep:
        a["P"] = rng.uniform(-0.5, 0.5, (d, 3 * h))
    if init:
        a["initial_h"] = rng.standard_normal((d, b, h))
        if cell == "lstm":
            a["initial_c"] = rng.standard_normal((d, b, h))
    return {key: v.astype(np.float32) for key, v in a.items()}


def run_onnxruntime(
    a: dict[str, np.ndarray], cell: str, direction: str, lbr: int
) -> dict[str, np.ndarray]:
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    order = ["X", "W", "R", "B", "sequence_lens", "initial_h"]
    order += ["initial_c", "P"] if cell == "lstm" else []
    inputs = [k if k in a else "" for k in order]
    while inputs[-1] == "":
        inputs.pop()
    outputs = ["Y", "Y_h", "Y_c"] if cell == "lstm" else ["Y", "Y_h"]
    attrs: dict[str, Any] = {"hidden_size": a["R"].shape[2], "direction": direction}
    if cell == "gru":
        attrs["linear_before_reset"] = lbr
    node = helper.make_node(cell.upper(), inputs, outputs, **attrs)
    graph = helper.make_graph(
        [node], "live",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(a["X"].shape))],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
        initializer=[numpy_helper.from_array(v, k) for k, v in a.items() if k != "X"],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])
    model.ir_version = 10
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip(outputs, session.run(None, {"X": a["X"]}), strict=True))


@pytest.mark.parametrize("case", LIVE_ONNX, ids=lambda c: "-".join(map(str, c)))
def test_live_against_onnxruntime(case: tuple[Any, ...]) -> None:
    cell, direction, peep, init, lbr, seed = case
    a = onnx_arrays(cell, direction, peep, init, seed)
    want = run_onnxruntime(a, cell, direction, lbr)
    weights = onnx_weights(a, cell, direction, lbr if cell == "gru" else 1)
    y, h_n, c_n = run_onnx_layout(weights, a)
    np.testing.assert_allclose(y, want["Y"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(h_n, want["Y_h"], rtol=0, atol=1e-5)
    if cell == "lstm":
        np.testing.assert_allclose(c_n, want["Y_c"], rtol=0, atol=1e-5)  # type: ignore[arg-type]
    assert param_count(weights.config).onnx == onnx_count(a)


# --- reverse-only against PyTorch and Keras --------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reverse_lstm_is_the_backward_half_of_torch_bidirectional(seed: int) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    i, h, t, b = (int(v) for v in rng.integers(1, 7, size=4))
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(i, h, bidirectional=True, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        for name, p in lstm.named_parameters():
            if name.startswith("bias"):  # non-zero and different
                p.copy_(torch.rand_like(p) - (0.3 if "ih" in name else 0.6))
    x = torch.randn(b, t, i, dtype=torch.float64)
    h0, c0 = (torch.randn(2, b, h, dtype=torch.float64) for _ in range(2))
    with torch.no_grad():
        want, (want_h, want_c) = lstm(x, (h0, c0))
    sd = {k: v.numpy() for k, v in lstm.state_dict().items()}
    back = DirectionWeights(*(sd[f"{n}_l0_reverse"] for n in ("weight_ih", "weight_hh",
                                                              "bias_ih", "bias_hh")))  # fmt: skip
    cfg = LSTMConfig(input_size=i, hidden_size=h, seq_len=t, batch=b, dtype="float64",
                     direction="reverse")  # fmt: skip
    out, (h_n, c_n) = forward(LSTMWeights(cfg, ((back,),)), x.numpy(), h0[1:], c0[1:])
    np.testing.assert_allclose(out, want[..., h:].numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(h_n[0], want_h[1].numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(c_n[0], want_c[1].numpy(), rtol=0, atol=1e-10)


def test_keras_backwards_lstm_fixture() -> None:
    # Keras's LSTM columns are i, f, c, o, PyTorch's rows i, f, g, o: a transpose; its one
    # bias is b_ih. go_backwards returns the outputs in the order computed: time reversed.
    a = load(FIXTURES / "keras_backwards_lstm_expected.npz")
    kernel, rec, bias = (
        a[f"sequential/lstm/lstm_cell/{k}"] for k in ("kernel", "recurrent_kernel", "bias")
    )
    batch, t, i = a["x"].shape
    h = rec.shape[0]
    cfg = LSTMConfig(input_size=i, hidden_size=h, seq_len=t, batch=batch, direction="reverse")
    w = DirectionWeights(kernel.T.copy(), rec.T.copy(), bias, np.zeros_like(bias))
    out, (h_n, c_n) = forward(LSTMWeights(cfg, ((w,),)), a["x"])
    np.testing.assert_allclose(out[:, ::-1], a["output"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(h_n, a["h_n"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(c_n, a["c_n"], rtol=0, atol=1e-5)
    assert param_count(cfg).keras == int(a["meta_param_count"])


# --- counts ----------------------------------------------------------------------------


def test_peephole_lstm_counts() -> None:
    counts = param_count(LSTMConfig(input_size=32, hidden_size=70, peepholes=True))
    # ONNX: 4*70*(32 + 70) + 8*70 + 3*70 = 28,560 + 560 + 210; nn.LSTM and Keras have none
    assert (counts.onnx, counts.pytorch, counts.keras) == (29_330, None, None)
    bi2 = LSTMConfig(input_size=3, hidden_size=4, num_layers=2, direction="bi", peepholes=True)
    # layer 0: 16*(3 + 4) + 32 + 12 = 156; layer 1 reads 8: 16*(8 + 4) + 44 = 236
    assert param_count(bi2).onnx == 2 * (156 + 236) == 784


def test_reverse_counts_as_one_direction() -> None:
    one = param_count(LSTMConfig(input_size=32, hidden_size=70, direction="reverse"))
    assert (one.pytorch, one.keras, one.onnx) == (29_120, 28_840, 29_120)
