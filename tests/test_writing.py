"""Writing regular files: replaced whole or not at all, through symlinks, with the old mode;
output names checked before any work; write errors named in one line, nothing left behind."""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
import tokenize
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_trace import LSTMConfig, init_weights
from lstm_trace.errors import FileError
from lstm_trace.formats.targets import atomic_open
from lstm_trace.formats.writing import write_weights

from .conftest import run_cli as run

#: each writer of the trace command, with a name of its kind and what its content begins with
WRITERS = [
    (["--dump", "{p}", "--json"], "o.npz", b"PK"),
    (["--save-weights", "{p}", "--json"], "w.npz", b"PK"),
    (["--svg", "{p}", "--json"], "c.svg", b"<svg"),
    (["--export-svg", "{p}"], "t.svg", b"<svg"),
    (["--export-html", "{p}"], "t.html", b"<!DOCTYPE html>"),
]


@pytest.mark.parametrize(("args", "name", "start"), WRITERS)
def test_a_symlink_is_written_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], name: str, start: bytes
) -> None:
    (tmp_path / "store").mkdir()
    real = tmp_path / "store" / name
    real.write_bytes(b"old")
    real.chmod(0o640)
    link = tmp_path / name
    link.symlink_to(Path("store") / name)
    code, _, _ = run(capsys, *(a.format(p=link) for a in args))
    assert code == 0
    assert link.is_symlink() and os.readlink(link) == str(Path("store") / name)
    assert start in real.read_bytes()[:200]  # the new content, whole
    assert stat.S_IMODE(real.stat().st_mode) == 0o640  # the target keeps its mode
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == [name]  # no .part left


def test_a_dangling_symlink_creates_its_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    link = tmp_path / "d.npz"
    link.symlink_to("made.npz")  # as `> d.npz` in a shell does
    code, _, err = run(capsys, "--dump", link, "--json")
    assert code == 0 and f"wrote {link}" in err
    assert link.is_symlink()
    with np.load(tmp_path / "made.npz", allow_pickle=False) as z:
        assert z["output"].shape == (3, 70)


def test_a_dangling_symlink_into_a_missing_folder_is_refused_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    link = tmp_path / "d.npz"
    link.symlink_to("gone/made.npz")
    code, out, err = run(capsys, "--dump", link, "--json")
    assert code == 1 and out == ""  # before any work: nothing was printed
    assert err == (
        f"lstm-trace: error: {link}: links to {tmp_path / 'gone' / 'made.npz'}, but the folder "
        f"{tmp_path / 'gone'} does not exist\n"
    )
    assert link.is_symlink() and not (tmp_path / "gone").exists()


def test_a_symlink_loop_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    loop = tmp_path / "l.svg"
    loop.symlink_to("l.svg")
    code, out, err = run(capsys, "--svg", loop)
    assert code == 1 and out == ""
    assert (
        err == f"lstm-trace: error: {loop}: cannot write it (Too many levels of symbolic links)\n"
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--png", "x.svg"], ".png"),
        (["--export-svg", "x.png"], ".svg"),
        (["--dump", "out.txt"], ".npz"),
        (["--svg", "x.png"], ".svg"),
        (["--export-html", "x.svg"], ".html or .htm"),
        (["--dump", "out"], ".npz"),
    ],
)
def test_an_output_name_of_the_wrong_kind_is_a_usage_error_before_any_work(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    expected: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert (
        err
        == f"lstm-trace: error: {args[0]} {args[1]}: expected a file name ending in {expected}\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_junit_and_explain_check_their_names_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text('[models.m]\nexpect = { output = "3,70" }\n')
    code, out, err = run(capsys, "check", spec, "--junit", tmp_path / "r.txt")
    assert code == 2 and out == "" and "--junit" in err and "ending in .xml" in err
    code, out, err = run(capsys, "explain", "--export-html", tmp_path / "nowhere" / "e.html")
    assert code == 1 and out == "" and "does not exist" in err
    code, out, err = run(capsys, "explain", "--export-svg", tmp_path / "e.png")
    assert code == 2 and out == "" and "ending in .svg" in err


def test_htm_and_upper_case_suffixes_are_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run(capsys, "--export-html", tmp_path / "t.htm", "--dump", tmp_path / "D.NPZ")
    assert code == 0
    assert (tmp_path / "t.htm").read_text().startswith("<!DOCTYPE html>")
    assert (tmp_path / "D.NPZ").read_bytes().startswith(b"PK")


@pytest.mark.parametrize(
    "args",
    [
        ["--dump", "{d}"],
        ["--svg", "{d}"],
        ["--export-svg", "{d}"],
        ["--export-html", "{d}"],
        ["--save-weights", "{d}"],
        ["check", "{spec}", "--junit", "{d}"],
        ["convert", "{weights}", "{d}", "--to", "pytorch"],
    ],
)
def test_a_directory_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    d = tmp_path / "out.npz"  # a folder with a file's name
    d.mkdir()
    spec = tmp_path / "s.toml"
    spec.write_text('[models.m]\nexpect = { output = "3,70" }\n')
    weights = tmp_path / "w.npz"
    np.savez(weights, **init_weights(LSTMConfig(hidden_size=4, input_size=3)).to_pytorch())
    code, out, err = run(capsys, *(a.format(d=d, spec=spec, weights=weights) for a in args))
    assert code == 1 and out == ""
    assert err == f"lstm-trace: error: {d}: is a directory, not a file\n"
    assert list(d.iterdir()) == []


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_an_unwritable_folder_is_named_before_any_work(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--export-html", "/proc/self/x.html")
    assert code == 1 and out == ""
    assert (
        err
        == "lstm-trace: error: /proc/self/x.html: cannot create files in the folder /proc/self\n"
    )


def test_a_failed_rename_names_the_file_and_keeps_the_old_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*_: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    target = tmp_path / "d.npz"
    target.write_bytes(b"old")
    monkeypatch.setattr("lstm_trace.formats.targets.os.replace", full)
    code, _, err = run(capsys, "--dump", target, "--json")
    assert code == 1
    assert err.endswith(f"lstm-trace: error: {target}: cannot write it (No space left on device)\n")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["d.npz"]  # the temporary file is gone


def test_a_writer_that_fails_midway_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "r.xml"
    target.write_bytes(b"old")
    eio = pytest.raises(FileError, match=r"r\.xml: cannot write it \(Input/output error\)")
    with eio, atomic_open(target) as f:
        f.write(b"half")
        raise OSError(errno.EIO, os.strerror(errno.EIO))
    with pytest.raises(ZeroDivisionError), atomic_open(target) as f:  # passed on as it is
        f.write(b"half")
        _ = 1 / 0
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.xml"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_root_keeps_the_owner_of_a_file_it_replaces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "c.svg"
    target.write_text("old")
    os.chown(target, 1234, 4321)
    code, _, _ = run(capsys, "--svg", target, "--json")
    assert code == 0 and "<svg" in target.read_text()
    assert (target.stat().st_uid, target.stat().st_gid) == (1234, 4321)


def test_to_names_the_framework_of_save_weights(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--save-weights", tmp_path / "k.npz", "--to", "keras", "--json")
    assert code == 0 and "(keras names, .npz)" in err
    with np.load(tmp_path / "k.npz", allow_pickle=False) as z:
        assert sorted(z.files) == ["lstm/bias", "lstm/kernel", "lstm/recurrent_kernel"]
    code, _, err = run(capsys, "--save-weights", tmp_path / "p.npz", "--to", "pytorch-npz")
    assert code == 0 and "(pytorch names, .npz)" in err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--to", "keras"], "--to says how --save-weights writes; it needs --save-weights FILE"),
        (
            ["--save-weights", "w.npz", "--to", "pytorch-pt"],
            "--save-weights w.npz: --to pytorch-pt writes a .pt file; name it so, or give "
            "--to pytorch",
        ),
        (
            ["--save-weights", "w.pt", "--to", "keras"],
            "--save-weights w.pt: cannot write keras weights as .pt",
        ),
        (["--save-weights", "w.npz", "--to", "sideways"], "'sideways' is not one of"),
        (
            ["convert", "{source}", "w.npz", "--to", "keras-h5"],
            "w.npz: --to keras-h5 writes a .weights.h5 file",
        ),
    ],
)
def test_to_contradicting_the_name_is_a_usage_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    words: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    np.savez("s.npz", **init_weights(LSTMConfig(hidden_size=4, input_size=3)).to_pytorch())
    code, out, err = run(capsys, *(a.format(source="s.npz") for a in args))
    assert code == 2 and out == "" and words in err and err.count("\n") == 1
    assert sorted(os.listdir()) == ["s.npz"]


def test_pt_and_pth_are_both_what_pytorch_pt_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    for name in ("w.pt", "w.pth"):
        code, _, err = run(capsys, "--save-weights", tmp_path / name, "--to", "pytorch-pt")
        assert code == 0 and f"wrote {tmp_path / name} (pytorch names, {name[1:]})" in err


def test_write_weights_takes_the_kind_apart_from_the_name(tmp_path: Path) -> None:
    weights = init_weights(LSTMConfig(hidden_size=4, input_size=3, seed=2))
    write_weights(tmp_path / "blob", weights, "pytorch", ".npz")
    with np.load(tmp_path / "blob", allow_pickle=False) as z:
        np.testing.assert_array_equal(z["weight_hh_l0"], weights.to_pytorch()["weight_hh_l0"])


def test_a_read_only_file_is_refused_not_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "d.npz"
    target.write_bytes(b"old")
    target.chmod(0o444)
    real_access = os.access

    def access(path: Any, mode: int) -> bool:  # as a user who is not root sees a 0444 file
        if Path(path) == target and mode & os.W_OK:
            return False
        return real_access(path, mode)

    monkeypatch.setattr("lstm_trace.formats.targets.os.access", access)
    code, out, err = run(capsys, "--dump", target, "--json")
    assert code == 1 and out == ""
    assert err == f"lstm-trace: error: {target}: cannot write it (the file is read-only)\n"
    assert target.read_bytes() == b"old"


PNG = b"\x89PNG\r\n\x1a\n fake"


def test_png_is_written_through_a_symlink_and_rendered_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("lstm_trace.render.png.have_converter", lambda: True)
    monkeypatch.setattr("lstm_trace.render.png.svg_to_png", lambda text: PNG)
    (tmp_path / "real.png").write_bytes(b"old")
    link = tmp_path / "p.png"
    link.symlink_to("real.png")
    code, _, err = run(capsys, "--png", link, "--json")
    assert code == 0 and f"wrote {link}" in err
    assert link.is_symlink() and (tmp_path / "real.png").read_bytes() == PNG

    def broken(text: str) -> bytes:
        raise RuntimeError("rsvg-convert failed: no fonts")

    monkeypatch.setattr("lstm_trace.render.png.svg_to_png", broken)
    code, _, err = run(capsys, "--svg", tmp_path / "c.svg", "--png", link, "--json")
    assert code == 1 and f"{link}: rsvg-convert failed: no fonts" in err
    assert not (tmp_path / "c.svg").exists()  # the SVG waits for the PNG, so neither is written
    assert (tmp_path / "real.png").read_bytes() == PNG


def test_a_missing_writer_library_is_said_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "h5py", None)  # makes `import h5py` fail
    for to in ("keras", "keras-h5"):
        code, out, err = run(capsys, "--save-weights", tmp_path / "w.weights.h5", "--to", to)
        assert code == 1 and out == "" and "pip install 'lstm-trace[keras]'" in err
    assert list(tmp_path.iterdir()) == []


#: the only places that may write a file by its name: formats/targets.py for every output; the
#: PNG renderer's own temporary folder (a page for Chromium); cli/app.py's os.devnull for a
#: closed stdout
MAY_OPEN_FOR_WRITING = {"formats/targets.py", "render/png.py", "entry/__init__.py"}
WRITING_CALLS = re.compile(
    r"write_bytes\(|write_text\(|open\([^)]*['\"][wax]b?['\"]|os\.(replace|rename|O_WRONLY)"
    r"|mkstemp\(|NamedTemporaryFile\(|np\.save\(|savez(_compressed)?\([^f)]"
    r"|torch\.save\([^,]*, (?!f\))|h5py\.File\((?!raw,)[^)]*['\"][wax]"  # not to a handle
)


def _writes(path: Path) -> bool:
    """Whether a module writes a file by its name. Matches inside messages do not count:
    "save it with torch.save(model.state_dict(), path)" is advice, not a write. Short strings
    are not messages but open()'s modes ('wb')."""
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    messages = []
    with path.open("rb") as f:
        for tok in tokenize.tokenize(f.readline):
            if tok.type == tokenize.STRING and len(tok.string) > 6:
                (r0, c0), (r1, c1) = tok.start, tok.end
                messages.append((starts[r0 - 1] + c0, starts[r1 - 1] + c1))
    return any(
        not any(a <= m.start() < b for a, b in messages) for m in WRITING_CALLS.finditer(text)
    )


def test_every_output_goes_through_atomic_open() -> None:
    package = Path(__file__).parent.parent / "lstm_trace"
    writers = {str(path.relative_to(package)) for path in package.rglob("*.py") if _writes(path)}
    assert writers <= MAY_OPEN_FOR_WRITING
    assert "formats/targets.py" in writers  # the pattern finds what it looks for
