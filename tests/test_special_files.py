"""Writing onto a character device, a FIFO or a socket: written in place or refused, never
replaced. Each test checks afterwards that the special file is still what it was."""

from __future__ import annotations

import contextlib
import io
import os
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace.cli import main

from .conftest import run_cli as run

pytestmark = pytest.mark.skipif(os.name != "posix", reason="devices and FIFOs are POSIX's")

#: seconds a test waits for the other end of a FIFO before it gives up (never reached
#: when the code works; it only keeps a broken build from hanging the suite)
WAIT = 30.0

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def device(folder: Path, name: str, major: int, minor: int) -> Path:
    """A character device node in folder (1,3 is null, 1,7 is full), or skip the test where
    making or opening one is not permitted (not root, a nodev mount, a container's policy)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("device numbers 1,3 and 1,7 are Linux's null and full")
    path = folder / name
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        os.close(os.open(path, os.O_WRONLY))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make or open a device node here: {exc}")
    return path


def assert_device(path: Path, major: int, minor: int) -> None:
    """path is still the character device it was, with its mode: not renamed over, not
    chmod-ed."""
    st = os.lstat(path)
    assert stat.S_ISCHR(st.st_mode)
    assert os.major(st.st_rdev) == major and os.minor(st.st_rdev) == minor
    assert stat.S_IMODE(st.st_mode) == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.fixture
def spool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary folder, made empty and private to the test, to see that nothing stays."""
    folder = tmp_path / "spool"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@contextlib.contextmanager
def fifo_reader(path: Path) -> Iterator[list[bytes]]:
    """Read everything written to the FIFO at path, in a thread opened before the write (a
    writer's open blocks until a reader comes). Yields a list that holds the bytes after."""
    got: list[bytes] = []

    def read() -> None:
        with open(path, "rb") as f:
            got.append(f.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    # should the writer wait for a reader that never came, give it one that leaves at once
    watchdog = threading.Timer(WAIT, lambda: os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK)))
    watchdog.start()
    try:
        yield got
    finally:
        watchdog.cancel()
        reader.join(WAIT)
        if reader.is_alive():  # the writer never opened the FIFO: end the reader's wait
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
            reader.join(WAIT)


def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


def assert_fifo(path: Path) -> None:
    assert stat.S_ISFIFO(os.lstat(path).st_mode)


def npz_keys(data: bytes) -> list[str]:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return sorted(z.files)


@pytest.mark.parametrize(
    "args",
    [
        ["--dump", "{node}", "--json"],
        ["--dump", "{node}", "--dump-all", "--json"],
        ["--svg", "{node}", "--json"],
        ["--export-svg", "{node}"],
        ["--export-html", "{node}"],
        ["--save-weights", "{node}", "--to", "pytorch", "--json"],
        ["--save-weights", "{node}", "--to", "keras-npz", "--json"],
    ],
)
def test_every_writer_writes_a_device_in_place(
    tmp_path: Path, spool: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    node = device(tmp_path, "null", 1, 3)
    code, _, err = run(capsys, *(a.format(node=node) for a in args))
    assert code == 0 and f"wrote {node}" in err
    assert_device(node, 1, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null", "spool"]  # no .part files
    assert list(spool.iterdir()) == []


@pytest.mark.parametrize("kind", ["pytorch-safetensors", "pytorch-pt", "keras-h5", "keras"])
def test_weights_kinds_that_need_a_library_write_a_device(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    library = {"pytorch-safetensors": "safetensors", "pytorch-pt": "torch", "keras-h5": "h5py"}
    pytest.importorskip(library.get(kind, "numpy"))
    node = device(tmp_path, "null", 1, 3)
    code, _, err = run(capsys, "--save-weights", node, "--to", kind, "--json")
    assert code == 0 and f"wrote {node}" in err
    assert_device(node, 1, 3)


def test_the_real_dev_null_works_and_is_never_renamed_over(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any) -> None:
        raise AssertionError(f"a rename or chmod of {args}")  # would replace /dev/null as root

    monkeypatch.setattr("lstm_trace.formats.targets.os.replace", refuse)
    monkeypatch.setattr("lstm_trace.formats.targets.os.chmod", refuse)
    before = os.stat("/dev/null")
    assert stat.S_ISCHR(before.st_mode), "this machine's /dev/null is not a device: restore it"
    for option in ("--dump", "--svg"):
        code, out, err = run(capsys, option, "/dev/null", "--json")
        assert code == 0 and out.startswith("{") and "wrote /dev/null" in err
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert after.st_mode == before.st_mode


def test_a_full_device_is_an_error_naming_it_and_stays_a_device(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node = device(tmp_path, "full", 1, 7)
    for option in ("--dump", "--svg"):  # by way of a temporary file, and in place
        code, _, err = run(capsys, option, node, "--json")
        assert code == 1
        assert err == f"lstm-trace: error: {node}: cannot write it (No space left on device)\n"
        assert_device(node, 1, 7)
    assert [p.name for p in tmp_path.iterdir()] == ["full"]


def test_a_temporary_folder_that_fails_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    node = device(tmp_path, "null", 1, 3)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))
    code, _, err = run(capsys, "--dump", node, "--json")
    assert code == 1
    assert f"{node}: cannot build it in the temporary folder {tmp_path / 'gone'}" in err
    assert "TMPDIR" in err and err.count("\n") == 1
    assert_device(node, 1, 3)


def test_a_fifo_reader_gets_the_whole_npz(
    tmp_path: Path, spool: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pipe = fifo(tmp_path)
    with fifo_reader(pipe) as got:
        code, _, err = run(capsys, "--dump", pipe, "--json")
    assert code == 0 and f"wrote {pipe}" in err
    assert npz_keys(got[0]) == ["c_n", "h_n", "output"]
    assert_fifo(pipe)
    assert list(spool.iterdir()) == []


def test_a_fifo_reader_gets_the_svg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pipe = fifo(tmp_path)
    with fifo_reader(pipe) as got:
        code, _, _ = run(capsys, "--svg", pipe, "--json")
    assert code == 0
    assert ET.fromstring(got[0]).tag.endswith("svg")
    assert_fifo(pipe)


def test_weights_into_a_fifo_in_the_kind_to_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pipe = fifo(tmp_path)
    with fifo_reader(pipe) as got:
        code, _, err = run(capsys, "--save-weights", pipe, "--to", "pytorch", "--json")
    assert code == 0 and "pytorch names, .npz" in err
    assert npz_keys(got[0]) == ["bias_hh_l0", "bias_ih_l0", "weight_hh_l0", "weight_ih_l0"]
    pytest.importorskip("h5py")
    with fifo_reader(pipe) as got:
        code, _, err = run(capsys, "--save-weights", pipe, "--to", "keras-h5", "--json")
    assert code == 0 and "keras names, .weights.h5" in err
    assert got[0].startswith(HDF5_MAGIC)
    assert_fifo(pipe)


def test_convert_into_a_fifo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "w.npz"
    code, _, _ = run(capsys, "-H", "4", "-i", "3", "--save-weights", source, "--json")
    assert code == 0
    pipe = fifo(tmp_path)
    with fifo_reader(pipe) as got:
        code, _, err = run(capsys, "convert", source, pipe, "--to", "keras-npz")
    assert code == 0 and f"wrote {pipe}: keras weights" in err
    assert npz_keys(got[0]) == ["lstm/bias", "lstm/kernel", "lstm/recurrent_kernel"]
    assert_fifo(pipe)


def test_junit_into_a_device(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node = device(tmp_path, "null", 1, 3)
    (tmp_path / "s.toml").write_text('[models.m]\nexpect = { output = "3,70" }\n')
    code, _, err = run(capsys, "check", tmp_path / "s.toml", "--junit", node)
    assert code == 0 and f"wrote {node}" in err
    assert_device(node, 1, 3)


@pytest.mark.parametrize(
    "args",
    [["--save-weights", "{path}"], ["convert", "{source}", "{path}"]],
)
def test_weights_into_a_device_need_to_name_the_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    pipe = fifo(tmp_path)  # no reader: a write that was not refused would block
    source = tmp_path / "w.npz"
    np.savez(source, x=np.zeros(1))  # never read: the target is refused first
    code, out, err = run(capsys, *(a.format(path=pipe, source=source) for a in args))
    assert code == 2 and out == ""
    assert "a device or FIFO has no suffix to tell the kind of file; say it with --to" in err
    assert "pytorch-npz" in err and "keras-h5" in err
    assert_fifo(pipe)


def test_a_socket_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a socket's path must be short
    with socket.socket(socket.AF_UNIX) as server:
        server.bind("sock")
        for option in ("--dump", "--svg", "--export-html", "--save-weights"):
            code, out, err = run(capsys, option, "sock")
            assert code == 1 and out == ""
            assert err == "lstm-trace: error: sock: is a socket, not a file\n"
            assert stat.S_ISSOCK(os.lstat("sock").st_mode)


def test_a_block_device_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node = tmp_path / "disk"
    try:
        os.mknod(node, 0o600 | stat.S_IFBLK, os.makedev(7, 250))  # a loop device; never opened
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a device node here: {exc}")
    code, out, err = run(capsys, "--dump", node, "--json")
    assert code == 1 and out == ""
    assert err == f"lstm-trace: error: {node}: is a block device, not a file\n"
    assert stat.S_ISBLK(os.lstat(node).st_mode)


def test_convert_to_dev_stdout_into_a_pipe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "w.npz"
    assert main(["-H", "4", "-i", "3", "--save-weights", str(source), "--json"]) == 0
    convert = ["convert", str(source), "/dev/stdout", "--to", "keras"]
    done = subprocess.run(
        [sys.executable, "-m", "lstm_trace", *convert],
        capture_output=True,  # stdout is a pipe: /dev/stdout is a FIFO, opened as it is
        timeout=120,
        cwd=Path(__file__).parent.parent,
    )
    assert done.returncode == 0, done.stderr
    assert npz_keys(done.stdout) == ["lstm/bias", "lstm/kernel", "lstm/recurrent_kernel"]


def test_a_symlink_to_a_device_is_written_through_without_a_suffix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node = device(tmp_path, "null", 1, 3)
    link = tmp_path / "out"  # no suffix: the device it names has none to check
    link.symlink_to("null")
    for option in ("--dump", "--svg", "--export-html"):
        code, _, err = run(capsys, option, link, "--format", "table")
        assert code == 0 and f"wrote {link}" in err
    assert link.is_symlink() and os.readlink(link) == "null"
    assert_device(node, 1, 3)


def test_a_fifo_linked_under_a_weights_name_takes_the_kind_from_the_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pipe = fifo(tmp_path)
    link = tmp_path / "w.npz"
    link.symlink_to(pipe)
    with fifo_reader(pipe) as got:
        code, _, err = run(capsys, "--save-weights", link)
    assert code == 0, err
    assert "weight_ih_l0" in npz_keys(got[0])
    assert_fifo(pipe)


@pytest.mark.parametrize(
    ("option", "check"),
    [
        ("--svg", lambda data: ET.fromstring(data).tag.endswith("svg")),
        ("--dump", lambda data: npz_keys(data) == ["c_n", "h_n", "output"]),
    ],
)
def test_an_output_to_dev_stdout_is_the_whole_of_stdout(
    tmp_path: Path, option: str, check: Any
) -> None:
    """`lstm-trace --svg /dev/stdout > pic.svg`: the name is checked on the file it stands
    for, and the trace itself is not printed into the picture (a note on stderr says so)."""
    if not Path("/dev/stdout").exists():
        pytest.skip("no /dev/stdout here")
    out = tmp_path / ("pic.svg" if option == "--svg" else "out.npz")
    for fmt in ("table", "json", "jsonl"):
        with out.open("wb") as f:
            done = subprocess.run(
                [sys.executable, "-m", "lstm_trace", option, "/dev/stdout", "-f", fmt],
                stdout=f,
                stderr=subprocess.PIPE,
                text=False,
                timeout=60,
                check=False,
            )
        assert done.returncode == 0, done.stderr
        assert check(out.read_bytes()), fmt
        assert b"the trace itself was not printed" in done.stderr


def test_stdout_appended_to_keeps_what_was_there(tmp_path: Path) -> None:
    """`lstm-trace --svg /dev/stdout >> log`: written through stdout's own descriptor, so
    the shell's O_APPEND holds (a rename over the file would have wiped it)."""
    if not Path("/dev/stdout").exists():
        pytest.skip("no /dev/stdout here")
    out = tmp_path / "pic.svg"
    out.write_bytes(b"<!-- keep -->\n")
    with out.open("ab") as f:
        done = subprocess.run(
            [sys.executable, "-m", "lstm_trace", "--svg", "/dev/stdout"],
            stdout=f,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    data = out.read_bytes()
    assert data.startswith(b"<!-- keep -->\n<?xml") and data.rstrip().endswith(b"</svg>")


def test_stdout_into_a_pipe_and_weights_named_pth(tmp_path: Path) -> None:
    """A pipe reader gets the npz and nothing else; stdout sent to w.pth takes the kind from
    that name as a FIFO linked under it would."""
    if not Path("/dev/stdout").exists():
        pytest.skip("no /dev/stdout here")
    args = [sys.executable, "-m", "lstm_trace", "--dump", "/dev/stdout"]
    done = subprocess.run(args, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert npz_keys(done.stdout) == ["c_n", "h_n", "output"]
    pytest.importorskip("torch")
    out = tmp_path / "w.pth"
    with out.open("wb") as f:
        args = [sys.executable, "-m", "lstm_trace", "--save-weights", "/dev/stdout"]
        done = subprocess.run(args, stdout=f, stderr=subprocess.PIPE, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:2] == b"PK"  # torch.save's zip archive


def test_two_outputs_to_one_file_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pic = tmp_path / "a.svg"
    code, _, err = run(capsys, "--svg", pic, "--export-svg", pic)
    assert code == 2 and f"--svg {pic} and --export-svg {pic} are one file" in err
    assert not pic.exists()
    link = tmp_path / "b.npz"
    link.symlink_to(tmp_path / "c.npz")
    code, _, err = run(capsys, "--dump", link, "--save-weights", tmp_path / "c.npz")
    assert code == 2 and "are one file" in err


def test_several_outputs_to_dev_null_are_fine(capsys: pytest.CaptureFixture[str]) -> None:
    if not stat.S_ISCHR(os.stat("/dev/null").st_mode):
        pytest.skip("/dev/null is not a device here")
    code, _, err = run(capsys, "--svg", "/dev/null", "--dump", "/dev/null", "--json")
    assert code == 0, err
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
