"""torch_archive.py and torch_pickle.py on archives written by hand, without torch: the
restricted unpickler runs nothing a pickle names, and every bad archive is one line, exit 1.

The pickles are assembled opcode by opcode (protocol 2, as torch.save writes them), so that
a test can say exactly what a hostile file holds.
"""

from __future__ import annotations

import struct
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace.formats.checkpoint import Opaque
from lstm_trace.formats.reading import read_contents, read_weights
from lstm_trace.formats.torch_archive import read_archive

from .conftest import FIXTURES, run_cli

GB = 1024**3


# --- a protocol-2 pickle, by hand ------------------------------------------------------------


def text(s: str) -> bytes:
    raw = s.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def num(n: int) -> bytes:
    return b"J" + struct.pack("<i", n) if n < 2**31 else b"\x8a\x08" + struct.pack("<q", n)


def glob(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def tup(*items: bytes) -> bytes:
    return b"(" + b"".join(items) + b"t"


def call(module: str, name: str, *args: bytes) -> bytes:
    """module.name(*args), by REDUCE."""
    return glob(module, name) + tup(*args) + b"R"


def dct(entries: dict[str, bytes]) -> bytes:
    return b"}(" + b"".join(text(k) + v for k, v in entries.items()) + b"u"


def ordered(entries: dict[str, bytes]) -> bytes:
    """collections.OrderedDict() then SETITEMS, as a state_dict is pickled."""
    return (
        call("collections", "OrderedDict")
        + b"("
        + b"".join(text(k) + v for k, v in entries.items())
        + b"u"
    )


def obj(cls: str, state: dict[str, bytes]) -> bytes:
    """An object as TorchScript pickles a module: NEWOBJ of its class, then BUILD."""
    module, name = cls.rsplit(".", 1)
    return glob(module, name) + b")\x81" + dct(state) + b"b"


def tensor(
    key: str, numel: int, size: tuple[int, ...], stride: tuple[int, ...] | None = None,
    storage: str = "FloatStorage", offset: int = 0,
) -> bytes:  # fmt: skip
    """torch._utils._rebuild_tensor_v2 of storage `key` (a persistent id)."""
    if stride is None:
        stride = tuple(int(np.prod(size[i + 1 :])) for i in range(len(size)))
    pid = tup(text("storage"), glob("torch", storage), text(key), text("cpu"), num(numel))
    return call(
        "torch._utils", "_rebuild_tensor_v2",
        pid + b"Q", num(offset), tup(*map(num, size)), tup(*map(num, stride)), b"\x89",
        call("collections", "OrderedDict"),
    )  # fmt: skip


def pickled(body: bytes) -> bytes:
    return b"\x80\x02" + body + b"."


def archive(
    path: Path, body: bytes, data: dict[str, bytes], extra: dict[str, bytes] | None = None
) -> Path:
    """A torch zip archive: <stem>/data.pkl of body, <stem>/data/<key> of each storage."""
    stem = path.stem
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{stem}/data.pkl", pickled(body))
        z.writestr(f"{stem}/byteorder", "little")
        for key, raw in data.items():
            z.writestr(f"{stem}/data/{key}", raw)
        for name, raw in (extra or {}).items():
            z.writestr(f"{stem}/{name}", raw)
    return path


def f32(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def lstm_state(
    h: int = 2, i: int = 3
) -> tuple[dict[str, bytes], dict[str, bytes], dict[str, np.ndarray]]:
    """An nn.LSTM(i, h) state_dict: (pickled entries, storages, the arrays)."""
    shapes = {"weight_ih_l0": (4 * h, i), "weight_hh_l0": (4 * h, h),
              "bias_ih_l0": (4 * h,), "bias_hh_l0": (4 * h,)}  # fmt: skip
    entries, data, arrays = {}, {}, {}
    for n, (name, shape) in enumerate(shapes.items()):
        arrays[name] = f32(*shape, seed=n) + (0.3 if "bias_ih" in name else 0.0)
        entries[name] = tensor(str(n), arrays[name].size, shape)
        data[str(n)] = arrays[name].tobytes()
    return entries, data, arrays


def one_line(capsys: Any, path: Path, *more: Any) -> str:
    code, out, err = run_cli(capsys, "--weights", path, *more)
    assert code == 1 and out == "" and err.count("\n") == 1, err
    return err.removeprefix(f"lstm-trace: error: {path}: ").rstrip("\n")


# --- nothing a pickle names is run -------------------------------------------------------------


def test_os_system_and_eval_are_stand_ins_never_called(tmp_path: Path, capsys: Any) -> None:
    marker = tmp_path / "pwned"
    entries, data, arrays = lstm_state()
    entries["evil"] = call("os", "system", text(f"touch {marker}"))
    entries["worse"] = call("builtins", "eval", text(f"open({str(marker)!r}, 'w')"))
    entries["import"] = call("builtins", "__import__", text("tabnanny"))
    path = archive(tmp_path / "evil.pt", dct(entries), data)
    read = read_archive(path, GB)
    assert not marker.exists() and "tabnanny" not in sys.modules
    assert read.obj["evil"] == Opaque("os.system", args=(f"touch {marker}",))
    assert isinstance(read.obj["worse"], Opaque) and read.obj["worse"].cls == "builtins.eval"
    wf = read_weights(path)  # the weights beside them are read
    np.testing.assert_array_equal(wf.picked.pytorch["weight_ih_l0"], arrays["weight_ih_l0"])  # type: ignore[index]
    contents = read_contents(path)
    assert {u.name: u.what for u in contents.untraced} == {
        "evil": "os.system (not unpickled)",
        "worse": "builtins.eval (not unpickled)",
        "import": "builtins.__import__ (not unpickled)",
    }
    code, _, err = run_cli(capsys, "--weights", path)
    assert code == 0 and "not traced: evil, worse, import" in err and not marker.exists()


def test_a_module_not_imported_stays_unimported(tmp_path: Path) -> None:
    """find_class imports nothing: a class of a module not loaded is a stand-in."""
    assert "xdrlib_never" not in sys.modules and "this" not in sys.modules
    body = dct({"a": obj("this.Zen", {"x": num(1)}), "b": call("xdrlib_never", "load")})
    read = read_archive(archive(tmp_path / "m.pt", body, {}), GB)
    assert "this" not in sys.modules  # importing it would print the Zen of Python
    assert read.obj["a"].cls == "this.Zen" and read.obj["b"].cls == "xdrlib_never.load"


def test_a_stand_in_misused_is_an_unreadable_pickle(tmp_path: Path, capsys: Any) -> None:
    """Items appended to what os.system 'returned': the pickle fails, nothing runs."""
    body = call("os", "system", text("true")) + b"(" + num(1) + b"e"  # APPENDS onto it
    path = archive(tmp_path / "bad.pt", dct({"x": body}), {})
    assert one_line(capsys, path).startswith("bad/data.pkl is not a readable pickle (")


# --- tensors -----------------------------------------------------------------------------------


def test_a_state_dict_by_hand_reads_as_written(tmp_path: Path) -> None:
    entries, data, arrays = lstm_state()
    wf = read_weights(archive(tmp_path / "sd.pt", ordered(entries), data))
    for name, want in arrays.items():
        np.testing.assert_array_equal(wf.picked.pytorch[name], want)  # type: ignore[index]


def test_strided_views_offsets_and_a_shared_storage(tmp_path: Path) -> None:
    base = np.arange(24, dtype=np.float64)
    body = dct({
        "t": tensor("0", 24, (3, 4), (1, 6), "DoubleStorage"),  # a transposed view
        "o": tensor("0", 24, (2, 2), (4, 1), "DoubleStorage", offset=5),
        "e": tensor("0", 24, (3, 5), (0, 0), "DoubleStorage", offset=7),  # expanded
    })  # fmt: skip
    read = read_archive(archive(tmp_path / "v.pt", body, {"0": base.tobytes()}), GB)
    np.testing.assert_array_equal(read.obj["t"], [[i + 6 * j for j in range(4)] for i in range(3)])
    np.testing.assert_array_equal(read.obj["o"], [[5, 6], [9, 10]])
    np.testing.assert_array_equal(read.obj["e"], np.full((3, 5), 7.0))
    assert read.obj["e"].flags.writeable and read.obj["e"].strides == (40, 8)  # a copy


def test_bfloat16_is_read_as_float32_and_said(tmp_path: Path, capsys: Any) -> None:
    entries, data, arrays = lstm_state()
    bits = arrays["weight_ih_l0"].view(np.uint32) >> 16  # bfloat16: float32's top 16 bits
    entries["weight_ih_l0"] = tensor("0", bits.size, bits.shape, storage="BFloat16Storage")
    data["0"] = bits.astype("<u2").tobytes()
    path = archive(tmp_path / "bf.pt", dct(entries), data)
    wf = read_weights(path)
    want = (bits << 16).view(np.float32)
    np.testing.assert_array_equal(wf.picked.pytorch["weight_ih_l0"], want)  # type: ignore[index]
    assert any("bfloat16 weights" in n for n in wf.notes)


def test_big_endian_archives_are_read_in_their_byte_order(tmp_path: Path) -> None:
    values = np.array([1.5, -2.25, 3.0], dtype=np.float32)
    path = tmp_path / "be.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("be/data.pkl", pickled(dct({"w": tensor("0", 3, (3,))})))
        z.writestr("be/byteorder", "big")
        z.writestr("be/data/0", values.astype(">f4").tobytes())
    got = read_archive(path, GB).obj["w"]
    np.testing.assert_array_equal(got, values)
    assert got.dtype == np.float32 and got.dtype.isnative


def test_integer_tensors_are_untraced_not_refused(tmp_path: Path) -> None:
    entries, data, _ = lstm_state()
    entries["num_batches_tracked"] = tensor("9", 1, (), storage="LongStorage")
    data["9"] = np.int64(1200).tobytes()
    batch_norm = {"num_batches_tracked": entries.pop("num_batches_tracked")}
    body = dct({"rnn": dct(entries), "bn": dct(batch_norm)})
    contents = read_contents(archive(tmp_path / "bn.pt", body, data))
    assert [m.name for m in contents.modules] == ["rnn"]
    assert {u.name: u.what for u in contents.untraced} == {
        "bn.num_batches_tracked": "tensor scalar"
    }


def test_a_pickled_module_is_named_as_its_state_dict(tmp_path: Path) -> None:
    """torch.save(model): an nn.Module's __dict__, _parameters and _modules inside."""
    entries, data, _ = lstm_state()
    params, empty = ordered(entries), ordered({})
    lstm = obj("torch.nn.modules.rnn.LSTM", {"training": b"\x88", "_parameters": params,
                                             "_buffers": empty, "_modules": empty})  # fmt: skip
    modules = ordered({"lstm": lstm})
    model = obj("__main__.Net", {"_parameters": empty, "_buffers": empty, "_modules": modules})
    contents = read_contents(archive(tmp_path / "whole.pt", model, data))
    assert [m.name for m in contents.modules] == ["lstm"] and contents.untraced == ()


# --- bad archives: one line, exit 1 ------------------------------------------------------------


def test_a_missing_storage_is_named(tmp_path: Path, capsys: Any) -> None:
    entries, data, _ = lstm_state()
    del data["2"]
    path = archive(tmp_path / "gone.pt", dct(entries), data)
    assert one_line(capsys, path) == "storage 2 is missing (no gone/data/2 in the archive)"


def test_a_storage_of_the_wrong_size_is_named(tmp_path: Path, capsys: Any) -> None:
    entries, data, _ = lstm_state()
    data["1"] = data["1"][:-4]
    path = archive(tmp_path / "short.pt", dct(entries), data)
    assert one_line(capsys, path) == (
        "short/data/1 holds 60 bytes, but its storage of 16 float32 elements is 64 bytes"
    )


def test_a_storage_declared_too_large_is_refused_before_it_is_read(
    tmp_path: Path, capsys: Any
) -> None:
    body = dct({"w": tensor("0", 2 * GB // 4, (2 * GB // 4,))})
    path = archive(tmp_path / "big.pt", body, {"0": b"\0" * 16})
    assert one_line(capsys, path, "--max-memory", "1GB") == (
        "declares 2.0 GB of tensors, more than the limit of 1.0 GB (--max-memory)"
    )


def test_an_expanded_view_is_refused_on_what_it_holds(tmp_path: Path, capsys: Any) -> None:
    """One float stored, 2**28 of them held: copied, 1 GB."""
    body = dct({"w": tensor("0", 1, (2**14, 2**14), (0, 0))})
    path = archive(tmp_path / "wide.pt", body, {"0": b"\0" * 4})
    assert one_line(capsys, path, "--max-memory", "100MB") == (
        "declares 1.0 GB of tensors, more than the limit of 100.0 MB (--max-memory)"
    )


@pytest.mark.parametrize(
    ("size", "stride", "offset"), [((4,), (1,), 1), ((2, 2), (3, 1), 0), ((5,), (1,), 0)]
)
def test_a_view_past_its_storage_is_refused(
    tmp_path: Path, capsys: Any, size: Any, stride: Any, offset: int
) -> None:
    body = dct({"w": tensor("0", 4, size, stride, offset=offset)})
    path = archive(tmp_path / "past.pt", body, {"0": b"\0" * 16})
    said = one_line(capsys, path)
    assert (
        said.startswith("past/data.pkl is not a readable pickle (")
        and "reaches past its storage 0 of 4 elements" in said
    )


def test_data_pkl_not_a_pickle(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "junk.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("junk/data.pkl", b"this is not a pickle at all")
    assert one_line(capsys, path).startswith("junk/data.pkl is not a readable pickle (")


def test_a_truncated_archive(tmp_path: Path, capsys: Any) -> None:
    raw = (FIXTURES / "ts_lstm_script.jit").read_bytes()
    path = tmp_path / "cut.pt"
    path.write_bytes(raw[: len(raw) // 2])
    assert one_line(capsys, path) == "not a PyTorch file (a damaged zip archive)"


def test_a_storage_damaged_inside_the_archive(tmp_path: Path, capsys: Any) -> None:
    """A record whose bytes no longer match its CRC: said, not a traceback."""
    entries, data, _ = lstm_state()
    path = archive(tmp_path / "crc.pt", dct(entries), data)
    raw = bytearray(path.read_bytes())
    at = raw.index(data["0"][:16])
    raw[at] ^= 0xFF
    path.write_bytes(bytes(raw))
    assert one_line(capsys, path).startswith("crc/data/0 is damaged (")


def test_a_self_repeating_tree_is_refused(tmp_path: Path, capsys: Any) -> None:
    """A list of the list before it, 40 deep: a few hundred bytes that name 2**40 entries."""
    body = b"]" + num(0) + b"a" + b"p0\n"  # level 0: [0], memo 0
    for level in range(1, 41):  # POP the level below, then [below, below] as the next
        body += b"0(g%d\ng%d\nl" % (level - 1, level - 1) + b"p%d\n" % level
    path = archive(tmp_path / "bomb.pt", dct({"x": body}), {})
    assert one_line(capsys, path) == (
        "bomb/data.pkl is not a readable pickle (it names more than 1,000,000 entries (its "
        "data repeats itself))"
    )


def test_a_torchscript_archive_without_a_recurrent_module(tmp_path: Path, capsys: Any) -> None:
    head = obj("__torch__.torch.nn.modules.linear.___torch_mangle_3.Linear",
               {"weight": tensor("0", 6, (2, 3)), "bias": tensor("1", 2, (2,))})  # fmt: skip
    model = obj("__torch__.Net", {"training": b"\x88", "head": head})
    path = archive(
        tmp_path / "lin.jit", model, {"0": f32(2, 3).tobytes(), "1": f32(2).tobytes()},
        extra={"code/__torch__.py": b"raise SystemExit('never run')\n"},
    )  # fmt: skip
    assert one_line(capsys, path) == (
        "a TorchScript archive of Net holding no recurrent module: its modules are head "
        "(Linear); its tensors head.weight, head.bias"
    )


def test_a_bare_pickle_keeps_its_message_without_torch(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "bare.pt"
    path.write_bytes(pickled(call("os", "system", text("true"))))
    assert one_line(capsys, path) == (
        "not a PyTorch file but a bare pickle, which lstm-trace never unpickles; save the "
        "weights with torch.save(model.state_dict(), path)"
    )


# --- .zip --------------------------------------------------------------------------------------


def test_a_zip_that_torch_wrote_is_read(tmp_path: Path) -> None:
    path = tmp_path / "model.zip"
    path.write_bytes((FIXTURES / "ts_lstm_trace.pt").read_bytes())
    assert [m.name for m in read_contents(path).modules] == ["encoder.rnn"]


@pytest.mark.parametrize(
    ("members", "said"),
    [
        ({"config.json": b"{}", "model.weights.h5": b""},
         "a Keras model archive, not a torch one; name it .keras"),
        ({"weight_ih_l0.npy": b"", "weight_hh_l0.npy": b""},
         "an archive of NumPy arrays, not a torch one; name it .npz"),
        ({"notes.txt": b"hi", "deep/archive/data.pkl": b""},
         "a zip archive of 2 files (notes.txt, deep/archive/data.pkl), not one torch wrote "
         "(torch.save and torch.jit.save write <name>/data.pkl and <name>/data/)"),
    ],
)  # fmt: skip
def test_a_zip_torch_did_not_write_says_what_it_is(
    tmp_path: Path, capsys: Any, members: dict[str, bytes], said: str
) -> None:
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as z:
        for name, raw in members.items():
            z.writestr(name, raw)
    assert one_line(capsys, path) == said


def test_a_zip_that_is_no_zip(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "plain.zip"
    path.write_text("hello")
    assert one_line(capsys, path) == "not a zip archive (a .zip is read when torch wrote it)"


def test_a_tree_nested_too_deeply_is_refused(tmp_path: Path, capsys: Any) -> None:
    body = b"]" * 200_000 + b"a" * 199_999  # a list in a list ... 200,000 deep
    path = archive(tmp_path / "deep.pt", dct({"x": body}), {})
    assert one_line(capsys, path) == "deep/data.pkl is not a readable pickle (nested too deeply)"


@pytest.mark.parametrize("state", [b"N" + dct({"fn": num(1)}) + b"\x86", dct({"fn": num(1)})])
def test_build_cannot_change_a_builder(tmp_path: Path, capsys: Any, state: bytes) -> None:
    """BUILD on a builder (slot state or __dict__ state) fails; the builder is unchanged for
    the files read after."""
    from lstm_trace.formats.torch_pickle import BUILDERS

    before = BUILDERS[("collections", "OrderedDict")].fn
    body = dct({"x": glob("collections", "OrderedDict") + state + b"b"})
    path = archive(tmp_path / "poison.pt", body, {})
    assert one_line(capsys, path).startswith("poison/data.pkl is not a readable pickle (")
    assert BUILDERS[("collections", "OrderedDict")].fn is before
    entries, data, _ = lstm_state()
    assert read_weights(archive(tmp_path / "next.pt", ordered(entries), data)).module == "lstm"


def test_a_legacy_file_cut_short_names_the_storage(tmp_path: Path, capsys: Any) -> None:
    raw = (FIXTURES / "legacy_lstm.pt").read_bytes()
    path = tmp_path / "cut.pt"
    path.write_bytes(raw[:-10])
    assert one_line(capsys, path).endswith(" is truncated or damaged")
    assert one_line(capsys, path).startswith("storage ")


def test_a_legacy_file_whose_pickle_is_damaged(tmp_path: Path, capsys: Any) -> None:
    raw = bytearray((FIXTURES / "legacy_lstm.pt").read_bytes())
    path = tmp_path / "bad.pt"
    path.write_bytes(bytes(raw[:40]))  # the magic number, and then the pickles stop
    assert one_line(capsys, path).startswith("not a readable legacy torch file (")


def test_live_legacy_files_of_every_dtype_and_a_whole_module(tmp_path: Path) -> None:
    """Before PyTorch 1.6, torch.save wrote no zip: read the same way, without torch.load."""
    torch = pytest.importorskip("torch")
    lstm = torch.nn.LSTM(3, 2)
    state: dict[str, Any] = {"sd": lstm.state_dict(), "whole": lstm}
    state["bf16"] = torch.randn(3, 2).to(torch.bfloat16).t()
    state["expanded"] = torch.ones(1).expand(3, 4)
    state["step"] = torch.tensor(7)
    path = tmp_path / "old.pt"
    torch.save(state, path, _use_new_zipfile_serialization=False)
    assert not zipfile.is_zipfile(path)
    contents = read_contents(path)
    assert [m.name for m in contents.modules] == ["sd", "whole"]
    wf = read_weights(path, module="whole")
    want = lstm.state_dict()["weight_hh_l0"].numpy()
    np.testing.assert_array_equal(wf.picked.pytorch["weight_hh_l0"], want)  # type: ignore[index]
    untraced = {u.name: u.what for u in contents.untraced}
    assert untraced == {
        "bf16": "tensor (2, 3)",
        "expanded": "tensor (3, 4)",
        "step": "tensor scalar",
    }


def test_live_torch_save_archives_of_every_dtype_read_as_torch_holds_them(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    base = torch.arange(12, dtype=torch.float64).reshape(3, 4) / 7
    state = {
        str(dtype).removeprefix("torch."): base.to(dtype).t()  # a non-contiguous view
        for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int64,
                      torch.int32, torch.int8, torch.uint8, torch.bool, torch.complex64)
    }  # fmt: skip
    state["expanded"] = torch.ones(1).expand(5, 6)
    state["offset"] = torch.arange(10.0)[3:7]
    torch.save(state, tmp_path / "all.pt")
    read = read_archive(tmp_path / "all.pt", GB)
    for name, t in state.items():
        want = (t.float() if t.dtype == torch.bfloat16 else t).numpy()
        np.testing.assert_array_equal(read.obj[name], want, err_msg=name)
        assert read.obj[name].dtype == want.dtype, name
    assert read.stored[id(read.obj["bfloat16"])] == "bfloat16"


def test_a_storage_of_a_class_that_is_no_storage(tmp_path: Path, capsys: Any) -> None:
    pid = tup(text("storage"), glob("torch", "FloatStorag"), text("0"), text("cpu"), num(1))
    body = dct({"w": call("torch._utils", "_rebuild_tensor_v2", pid + b"Q", num(0), tup(), tup())})
    path = archive(tmp_path / "typo.pt", body, {"0": b"\0" * 4})
    assert one_line(capsys, path) == "storage '0' is a torch.FloatStorag, not a torch storage"
