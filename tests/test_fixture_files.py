"""The framework-made reference fixtures for the GRU, the peephole LSTM and the reverse-only LSTM
(tests/fixtures/make_gru_fixtures.py, make_keras_gru_fixtures.py, make_onnx_fixtures.py) are
what their scripts document: loadable without pickle, with the documented keys and shapes, and
parameter counts equal to the closed forms. Checked without torch, Keras or ONNX; only the last
test reruns the saved .onnx models, when onnxruntime is installed."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
GRU_TORCH = sorted(FIXTURES.glob("gru_torch_*.npz"))
KERAS = sorted(FIXTURES.glob("keras_gru_*_expected.npz")) + sorted(
    FIXTURES.glob("keras_backwards_*_expected.npz")
)
ONNX = sorted(FIXTURES.glob("onnx_*.npz"))


def load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def test_every_family_is_there() -> None:
    assert len(GRU_TORCH) == 4
    assert len(KERAS) == 8
    assert len(ONNX) == 6


@pytest.mark.parametrize("path", GRU_TORCH, ids=lambda p: p.stem)
def test_torch_gru_state_dict_shapes_and_count(path: Path) -> None:
    a = load(path)
    i, h = int(a["meta_input_size"]), int(a["meta_hidden_size"])
    layers, bias = int(a["meta_num_layers"]), bool(a["meta_bias"])
    d = 2 if bool(a["meta_bidirectional"]) else 1
    batch, t = int(a["meta_batch"]), int(a["meta_seq_len"])
    lead = () if batch < 0 else (batch,)
    expected: dict[str, tuple[int, ...]] = {}
    count = 0
    for k in range(layers):
        i_k = i if k == 0 else d * h
        count += d * (3 * h * (i_k + h) + (6 * h if bias else 0))  # PyTorch's closed form
        for sfx in [f"_l{k}", f"_l{k}_reverse"][:d]:
            expected["weight_ih" + sfx] = (3 * h, i_k)
            expected["weight_hh" + sfx] = (3 * h, h)
            if bias:
                expected["bias_ih" + sfx] = expected["bias_hh" + sfx] = (3 * h,)
    state = {k: v.shape for k, v in a.items() if k.startswith(("weight_", "bias_"))}
    assert state == expected
    assert int(a["meta_param_count"]) == count == sum(a[k].size for k in state)
    assert a["x"].shape == (*lead, t, i)
    assert a["output"].shape == (*lead, t, d * h)
    assert a["h_n"].shape == (d * layers, *lead, h)
    if "h0" in a:
        assert a["h0"].shape == a["h_n"].shape
    assert str(a["meta_dtype"]) == str(a["x"].dtype) == str(a["output"].dtype)
    # the last layer's forward h at the last step is its h_n; the backward one's at step 0
    assert np.array_equal(a["output"][..., -1, :h], a["h_n"][(layers - 1) * d])
    if d == 2:
        assert np.array_equal(a["output"][..., 0, h:], a["h_n"][-1])
    for name in state:
        if name.startswith("bias_ih"):  # redrawn: non-zero, and b_ih differs from b_hh
            other = a[name.replace("bias_ih", "bias_hh")]
            assert np.all(a[name] != 0) and np.all(other != 0)
            assert not np.allclose(a[name], other)


def test_the_walkthrough_gru_counts_21840() -> None:
    a = load(FIXTURES / "gru_torch_uni_unbatched_f32.npz")
    assert (int(a["meta_input_size"]), int(a["meta_hidden_size"])) == (32, 70)
    assert int(a["meta_batch"]) == -1 and int(a["meta_seq_len"]) == 5
    assert int(a["meta_param_count"]) == 21_840


def test_the_bias_free_gru_has_no_bias() -> None:
    a = load(FIXTURES / "gru_torch_nobias_uni_f64.npz")
    assert not bool(a["meta_bias"])
    assert not [k for k in a if k.startswith("bias_")]


def keras_layer_count(cell: str, i: int, h: int, reset_after: bool) -> int:
    """Keras's closed forms: GRU 3H(I + H) + 6H (reset_after) or + 3H; LSTM 4H(I + H) + 4H."""
    if cell == "lstm":
        return 4 * h * (i + h) + 4 * h
    return 3 * h * (i + h) + (6 * h if reset_after else 3 * h)


def keras_config_layers(path: Path) -> list[dict[str, object]]:
    """The recurrent layers' configs in a .keras file (a zip holding config.json)."""
    with zipfile.ZipFile(path) as z:
        config = json.loads(z.read("config.json"))
    found = []
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "Bidirectional":
            layer = layer["config"]["layer"]
        if layer["class_name"] != "InputLayer":
            found.append({"class_name": layer["class_name"], **layer["config"]})
    return found


@pytest.mark.parametrize("path", KERAS, ids=lambda p: p.stem)
def test_keras_expected_variables_shapes_and_count(path: Path) -> None:
    a = load(path)
    cell, units = str(a["meta_cell"]), [int(u) for u in a["meta_layer_units"]]
    bi, gb = bool(a["meta_bidirectional"]), bool(a["meta_go_backwards"])
    ra = bool(a.get("meta_reset_after", True))
    i, t, batch = int(a["meta_input_size"]), int(a["meta_seq_len"]), int(a["meta_batch"])
    d, gates = (2 if bi else 1), (4 if cell == "lstm" else 3)
    assert len(units) == int(a["meta_num_layers"])
    variables = {k: v for k, v in a.items() if "/" in k}
    assert len(variables) == 3 * d * len(units)
    count, i_k = 0, i
    for h in units:
        count += d * keras_layer_count(cell, i_k, h, ra)
        i_k = d * h
    assert int(a["meta_param_count"]) == count == sum(v.size for v in variables.values())
    bias_shape = (2, gates * units[0]) if cell == "gru" and ra else (gates * units[0],)
    for name, v in variables.items():
        if name.endswith("/bias"):
            assert v.shape == bias_shape
            assert np.all(v != 0) and len(np.unique(v)) == v.size  # redrawn per gate and row
        elif name.endswith("/recurrent_kernel"):
            assert v.shape == (units[0], gates * units[0])
        else:
            assert name.endswith("/kernel") and v.shape[1] == gates * units[0]
    h = units[-1]
    assert a["x"].shape == (batch, t, i)
    assert a["output"].shape == (batch, t, d * h)
    assert a["h_n"].shape == (d * len(units), batch, h)
    assert ("c_n" in a) == (cell == "lstm")
    # go_backwards: Keras returns the steps in reading order, so the last one is the final state
    assert np.array_equal(a["output"][:, -1, :h], a["h_n"][-d])
    if bi:  # Bidirectional flips its backward sequence back into time order
        assert np.array_equal(a["output"][:, 0, h:], a["h_n"][-1])
    configs = keras_config_layers(path.with_name(path.name.replace("_expected.npz", ".keras")))
    assert [c["class_name"] for c in configs] == [cell.upper()] * len(units)
    assert [c["units"] for c in configs] == units
    assert all(c["go_backwards"] == gb and c["return_sequences"] for c in configs)
    if cell == "gru":
        assert all(c["reset_after"] == ra for c in configs)
    assert path.with_name(path.name.replace("_expected.npz", ".weights.h5")).is_file()


def test_keras_gru_bias_layouts() -> None:
    ra1 = load(FIXTURES / "keras_gru_uni_ra1_expected.npz")
    ra0 = load(FIXTURES / "keras_gru_uni_ra0_expected.npz")
    assert ra1["sequential/gru/gru_cell/bias"].shape == (2, 15)
    assert ra0["sequential/gru/gru_cell/bias"].shape == (15,)
    assert int(ra1["meta_param_count"]) - int(ra0["meta_param_count"]) == 3 * 5


def test_keras_go_backwards_output_is_in_reading_order() -> None:
    """The output is not re-reversed: output[:, -1] is h after reading x[:, 0], which is also
    what the layer returns as its state."""
    for cell in ("lstm", "gru"):
        a = load(FIXTURES / f"keras_backwards_{cell}_expected.npz")
        assert bool(a["meta_go_backwards"])
        assert np.array_equal(a["output"][:, -1], a["h_n"][0])
        assert not np.allclose(a["output"][:, 0], a["h_n"][0])


@pytest.mark.parametrize("path", ONNX, ids=lambda p: p.stem)
def test_onnx_arrays_shapes(path: Path) -> None:
    a = load(path)
    cell, direction = str(a["meta_cell"]), str(a["meta_direction"])
    h, i = int(a["meta_hidden_size"]), int(a["meta_input_size"])
    t, batch = int(a["meta_seq_len"]), int(a["meta_batch"])
    d = 2 if direction == "bidirectional" else 1
    assert direction in ("forward", "reverse", "bidirectional")
    gates = 4 if cell == "lstm" else 3
    assert a["X"].shape == (t, batch, i)
    assert a["W"].shape == (d, gates * h, i)
    assert a["R"].shape == (d, gates * h, h)
    assert a["B"].shape == (d, 2 * gates * h)
    assert np.all(a["B"] != 0)
    assert a["Y"].shape == (t, d, batch, h)
    assert a["Y_h"].shape == (d, batch, h)
    if cell == "lstm":
        assert a["Y_c"].shape == (d, batch, h)
        assert ("P" in a) == bool(a["meta_peepholes"])
        if "P" in a:
            assert a["P"].shape == (d, 3 * h) and np.all(a["P"] != 0)
    else:
        assert "Y_c" not in a and "P" not in a
        assert int(a["meta_linear_before_reset"]) in (0, 1)
    if "initial_h" in a:
        assert a["initial_h"].shape == a["initial_c"].shape == (d, batch, h)
    assert all(v.dtype == np.float32 for k, v in a.items() if not k.startswith("meta_"))
    # Y is in time order: a reverse direction ends (Y_h) at step 0, a forward one at T-1
    reverse = [direction == "reverse"] if d == 1 else [False, True]
    for k in range(d):
        assert np.array_equal(a["Y"][0 if reverse[k] else -1, k], a["Y_h"][k])
    assert path.with_suffix(".onnx").is_file()


def test_onnx_cases_cover_the_variants() -> None:
    cases = {
        (str(a["meta_cell"]), str(a["meta_direction"]), bool(a.get("meta_peepholes", False)))
        for a in map(load, ONNX)
    }
    assert {
        ("lstm", "forward", True),
        ("lstm", "bidirectional", True),
        ("lstm", "reverse", False),
        ("lstm", "reverse", True),
        ("gru", "forward", False),
    } <= cases
    gru = {int(load(p)["meta_linear_before_reset"]) for p in ONNX if "gru" in p.stem}
    assert gru == {0, 1}


@pytest.mark.parametrize("path", ONNX, ids=lambda p: p.stem)
def test_onnxruntime_reproduces_the_saved_outputs(path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    a = load(path)
    session = ort.InferenceSession(
        str(path.with_suffix(".onnx")), providers=["CPUExecutionProvider"]
    )
    names = [o.name for o in session.get_outputs()]
    got = dict(zip(names, session.run(None, {"X": a["X"]}), strict=True))
    assert set(got) == ({"Y", "Y_h", "Y_c"} if str(a["meta_cell"]) == "lstm" else {"Y", "Y_h"})
    for name, value in got.items():
        np.testing.assert_allclose(value, a[name], rtol=0, atol=1e-6, err_msg=name)
