"""Hostile files, tiny on disk, that declare gigabytes: refused before the memory is used.

Each runs `python -m lstm_trace` in a subprocess whose address space is capped with
resource.RLIMIT_AS (1 GB; 1.5 GB where torch is imported, which alone maps about 700 MB).
Every file declares more than the cap, so reading it first and checking afterwards would
end in "out of memory"; the one-line refusal that names the declared size shows the check
came first.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from .conftest import FIXTURES

resource = pytest.importorskip("resource")  # no address-space limits on this platform

ROOT = Path(__file__).resolve().parent.parent
GB = 1024**3
#: deflate of this many zero bytes, flushed so that the block can be repeated
CHUNK = 16 * 1024**2


def run_capped(*args: object, cap: int = GB, out: list[str] | None = None) -> tuple[int, str]:
    """(exit status, stderr) of `python -m lstm_trace args` with its address space capped."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    done = subprocess.run(
        [sys.executable, "-m", "lstm_trace", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        preexec_fn=limit,
        timeout=120,
        check=False,
    )
    if out is not None:
        out.append(done.stdout)
    return done.returncode, done.stderr


def _deflated(head: bytes, zeros: int, fill: bytes = b"\0") -> Iterator[bytes]:
    """Raw deflate of head + `zeros` fill bytes, made from one compressed chunk repeated."""
    assert zeros % CHUNK == 0
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    yield c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(fill * CHUNK) + c.flush(zlib.Z_FULL_FLUSH)  # the same for every chunk
    for _ in range(zeros // CHUNK):
        yield block
    yield c.flush()


def write_zip(path: Path, members: dict[str, tuple[bytes, int, bytes]]) -> None:
    """A zip archive, by hand: {name: (head, zeros, fill)} deflated as head + zeros x fill.

    A member with fill bytes gets CRC 0: it is refused on its declared size, never read."""
    central = b""
    with path.open("wb") as f:
        for name, (head, zeros, fill) in members.items():
            offset = f.tell()
            data = b"".join(_deflated(head, zeros, fill))
            crc = zlib.crc32(head) if zeros == 0 else 0
            raw = name.encode()
            sizes = (crc, len(data), len(head) + zeros, len(raw))  # CRC, packed, unpacked, name
            f.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, *sizes, 0))
            f.write(raw + data)
            entry = struct.pack(
                "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, *sizes, 0, 0, 0, 0, 0, offset
            )
            central += entry + raw
        start = f.tell()
        f.write(central)
        n = len(members)
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(central), start, 0))


def npy_header(shape: tuple[int, ...], dtype: str = "<f8") -> bytes:
    """An .npy version 1.0 header for this shape, padded as NumPy pads it."""
    text = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape}, }}"
    pad = 64 - (10 + len(text) + 1) % 64
    body = (text + " " * pad + "\n").encode("latin1")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body)) + body


def test_npz_that_unpacks_to_2gb_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "bomb.npz"
    n = 2 * GB // 8
    write_zip(path, {"weight_ih_l0.npy": (npy_header((n,)), 2 * GB, b"\0")})
    assert path.stat().st_size < 4 * 1024**2  # small on disk
    code, err = run_capped("--weights", path, "--max-memory", "1GB")
    assert code == 1, err
    assert err == (
        f"lstm-trace: error: {path}: declares 2.0 GB of arrays, more than the limit of "
        "1.0 GB (--max-memory)\n"
    )


def test_npy_header_declaring_more_than_the_default_limit(tmp_path: Path) -> None:
    """No --max-memory: the default limit (4 GB) holds too, for an array np.load would
    allocate whole from its header before reading a byte."""
    path = tmp_path / "x.npy"
    path.write_bytes(npy_header((1000, 1000, 1000)) + b"\0" * 64)  # 7.5 GB declared
    code, err = run_capped("--x", path)
    assert code == 1 and "declares 7.5 GB of arrays, more than the limit of 4.0 GB" in err
    assert err.count("\n") == 1


def test_sparse_x_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    shape = (2, 1000, 87_000)  # float64: 1.3 GB, a sparse file that takes no disk
    with path.open("wb") as f:
        f.write(npy_header(shape))
        f.truncate(len(npy_header(shape)) + 8 * int(np.prod(shape)))
    code, err = run_capped("--x", path, "--max-memory", "512MB")
    assert code == 1 and err.count("\n") == 1
    assert f"{path}: declares 1.3 GB of arrays, more than the limit of 512.0 MB" in err


def test_weights_h5_declaring_two_huge_datasets(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "big.weights.h5"
    with h5py.File(path, "w") as f:
        cell = f.create_group("layers/lstm/cell/vars")
        # never written: HDF5 allocates no space for them, so the file stays a few KB
        cell.create_dataset("0", shape=(6000, 24000), dtype="f4")
        cell.create_dataset("1", shape=(6000, 24000), dtype="f4")
    assert path.stat().st_size < 64 * 1024
    code, err = run_capped("--weights", path, "--max-memory", "512MB")
    assert code == 1 and err.count("\n") == 1
    assert f"{path}: declares 1.1 GB of weights, more than the limit of 512.0 MB" in err


def _keras_members(config: tuple[bytes, int, bytes]) -> dict[str, tuple[bytes, int, bytes]]:
    with __import__("zipfile").ZipFile(FIXTURES / "keras_uni.keras") as archive:
        weights = archive.read("model.weights.h5")
    return {"config.json": config, "model.weights.h5": (weights, 0, b"\0")}


def test_keras_config_json_of_3gb_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "bomb.keras"
    write_zip(path, _keras_members((b'{"class_name": "Sequential", "x": "', 3 * GB, b" ")))
    assert path.stat().st_size < 16 * 1024**2
    code, err = run_capped("--weights", path)
    assert code == 1 and err.count("\n") == 1, err
    assert f"{path}: declares a 3.0 GB config.json" in err


def test_deeply_nested_keras_config_is_a_malformed_file(tmp_path: Path) -> None:
    path = tmp_path / "deep.keras"
    deep = b"[" * 200_000 + b"]" * 200_000
    write_zip(path, _keras_members((deep, 0, b" ")))
    code, err = run_capped("--weights", path)
    assert code == 1 and err.count("\n") == 1 and "RecursionError" not in err
    assert f"{path}: config.json is nested too deeply to be a Keras config" in err


def test_safetensors_header_declaring_2gb(tmp_path: Path) -> None:
    pytest.importorskip("safetensors")
    path = tmp_path / "big.safetensors"
    n = 2 * GB // 4
    header = json.dumps(
        {"weight_ih_l0": {"dtype": "F32", "shape": [n], "data_offsets": [0, 4 * n]}}
    )
    with path.open("wb") as f:
        f.write(struct.pack("<Q", len(header)) + header.encode())
        f.truncate(8 + len(header) + 4 * n)  # sparse: the data takes no disk
    code, err = run_capped("--weights", path, "--max-memory", "1GB")
    assert code == 1 and err.count("\n") == 1
    assert f"{path}: declares 2.0 GB of tensors, more than the limit of 1.0 GB" in err


def test_pt_archive_declaring_2gb(tmp_path: Path) -> None:
    """A torch.save zip whose data/ record unpacks to 2 GB: refused on its member sizes
    before torch.load (torch itself is imported only after the check)."""
    path = tmp_path / "big.pt"
    pickled = b"\x80\x02}q\x00."  # an empty dict: torch.load would get as far as the data
    write_zip(path, {"big/data.pkl": (pickled, 0, b"\0"), "big/data/0": (b"", 2 * GB, b"\0")})
    code, err = run_capped("--weights", path, "--max-memory", "1GB", cap=GB + GB // 2)
    assert code == 1 and err.count("\n") == 1, err
    assert f"{path}: declares 2.0 GB of tensors, more than the limit of 1.0 GB" in err


def test_convert_and_check_take_max_memory(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.npz"
    write_zip(bomb, {"weight_ih_l0.npy": (npy_header((GB // 8,)), GB, b"\0")})
    target = tmp_path / "out.npz"
    code, err = run_capped("convert", bomb, target, "--to", "keras", "--max-memory", "256MB")
    assert code == 1 and "declares 1.0 GB of arrays, more than the limit of 256.0 MB" in err
    assert not target.exists()
    spec = tmp_path / "spec.toml"
    spec.write_text(f'[models.m]\nweights = "{bomb}"\nexpect = {{ output = "3,70" }}\n')
    stdout: list[str] = []
    code, err = run_capped("check", spec, "-f", "json", "--max-memory", "256MB", out=stdout)
    assert code == 1, err
    (model,) = json.loads(stdout[0])["models"]
    assert "declares 1.0 GB of arrays, more than the limit of 256.0 MB" in model["error"]


def test_size_from_a_keras_config_is_blamed_on_the_file(tmp_path: Path) -> None:
    """A sequence length of 10^12 in config.json: the file's fault (exit 1), not a hint to
    raise --max-memory (exit 2)."""
    import zipfile

    pytest.importorskip("h5py")  # the weights are read before the sizes they imply are checked

    with zipfile.ZipFile(FIXTURES / "keras_uni.keras") as archive:
        config = json.loads(archive.read("config.json"))
        weights = archive.read("model.weights.h5")
    config["config"]["layers"][0]["config"]["batch_shape"] = [None, 10**12, 6]
    path = tmp_path / "long.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", weights)
    code, err = run_capped("--weights", path)
    assert code == 1
    assert err == (
        f"lstm-trace: error: {path}: its sizes need about 80.0 TB of memory, more than the limit "
        "of 4.0 GB (--max-memory)\n"
    )


def test_pt_of_expanded_tensors_is_refused_on_what_they_hold(tmp_path: Path) -> None:
    """torch.zeros(1).expand(n, m) stores 4 bytes and stands for n * m numbers: the archive's
    sizes say nothing, the tensors' own sizes do (convert would write them out in full)."""
    torch = pytest.importorskip("torch")
    h, i = 2000, 10000  # 8000 x 12000 float32 held (366 MB), a few hundred bytes stored
    state = {
        "weight_ih_l0": torch.zeros(1).expand(4 * h, i),
        "weight_hh_l0": torch.zeros(1).expand(4 * h, h),
        "bias_ih_l0": torch.zeros(4 * h),
        "bias_hh_l0": torch.zeros(4 * h),
    }
    path = tmp_path / "expanded.pt"
    torch.save(state, path)
    assert path.stat().st_size < 200_000
    target = tmp_path / "out.npz"
    for args in (("--weights", path), ("convert", path, target, "--to", "pytorch")):
        code, err = run_capped(*args, "--max-memory", "100MB", cap=GB + GB // 2)
        assert code == 1 and err.count("\n") == 1, err
        assert f"{path}: declares 366.3 MB of tensors, more than the limit of 100.0 MB" in err
    assert not target.exists()


def test_convert_checks_the_run_its_file_implies(tmp_path: Path) -> None:
    """Sizes within what the file declares can still need more than the limit once built:
    convert says so in the file's words before it builds or writes anything."""
    from lstm_trace import LSTMConfig, init_weights
    from lstm_trace.formats.writing import write_weights

    source = tmp_path / "w.npz"
    write_weights(source, init_weights(LSTMConfig(input_size=300, hidden_size=300)), "pytorch")
    target = tmp_path / "out.npz"
    code, err = run_capped("convert", source, target, "--to", "keras", "--max-memory", "44MB")
    assert code == 1 and f"{source}: its sizes need about" in err and "44.0 MB" in err, err
    assert not target.exists()


def test_explain_counts_only_what_a_file_declares(tmp_path: Path) -> None:
    """explain computes nothing: a file whose run would not fit is still narrated, and a file
    that declares too much is refused under explain's own --max-memory."""
    from lstm_trace import LSTMConfig, init_weights
    from lstm_trace.formats.writing import write_weights

    source = tmp_path / "w.npz"
    write_weights(source, init_weights(LSTMConfig(input_size=300, hidden_size=300)), "pytorch")
    out: list[str] = []
    code, err = run_capped("explain", "--weights", source, "--max-memory", "44MB", out=out)
    assert code == 0 and "300 + 300 = 600" in out[0], err
    code, err = run_capped("explain", "--weights", source, "--max-memory", "1MB")
    assert code == 1 and "declares" in err and "more than the limit of 1.0 MB" in err
