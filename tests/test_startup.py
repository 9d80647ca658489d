"""A quick start: `lstm-trace --version` and `--help` answered before Typer, Rich or NumPy is
imported, with exactly the text the Typer app prints; the walkthrough importing only what it
needs. What is imported is asserted, never how long it takes."""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from lstm_trace.entry import help as served
from lstm_trace.entry import quick_answer
from lstm_trace.entry.version import package_version, version_text

ROOT = Path(__file__).resolve().parents[1]
HELP_FILE = ROOT / "lstm_trace" / "entry" / "help.txt"
#: the console script as pip writes it, on this checkout's code
ENTRY = "import sys; sys.argv[0] = 'lstm-trace'; from lstm_trace.entry import run; run()"
#: the Typer app itself, as the console script ran before it had quick answers
TYPER = "import sys; sys.argv[0] = 'lstm-trace'; from lstm_trace.cli import run; run()"
#: what makes the help differ between environments; each test sets what it means
_ENV_OFF = ("COLUMNS", "LINES", "NO_COLOR", "TERM", *served._CHANGES_HELP)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _ENV_OFF}
    return {**env, **extra}


def start(code: str, *args: str, env: dict[str, str] | None = None) -> tuple[str, set[str]]:
    """(stdout, the top-level packages imported) of a fresh process, stdin /dev/null and
    stdout and stderr pipes (no terminal anywhere: Rich's width is 80 or COLUMNS)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=clean_env() if env is None else env,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    imported = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*([\w]+)", done.stderr, re.M))
    return done.stdout, imported


HEAVY = {"numpy", "typer", "rich", "click"}


def test_the_console_script_is_the_entry_point() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^lstm-trace = "lstm_trace\.entry:run"', text, re.M)
    main = (ROOT / "lstm_trace" / "__main__.py").read_text()
    assert "from .entry import run" in main  # python -m lstm_trace: the same way in


def test_version_imports_neither_numpy_nor_typer_and_says_what_typer_says() -> None:
    quick, imported = start(ENTRY, "--version")
    assert not HEAVY & imported, HEAVY & imported
    assert "lstm_trace" in imported  # the check sees the package's imports at all
    slow, imported = start(ENTRY, "--seed", "1", "--version")  # not alone: the Typer app
    assert "typer" in imported
    assert quick == slow
    assert quick.splitlines()[0] == f"lstm-trace {metadata_version('lstm-trace')}"


def metadata_version(name: str) -> str:
    """importlib.metadata's version of an installed distribution; "0+unknown" as the
    package says for a source tree never installed."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def test_the_kernels_line_follows_the_version_when_its_module_says_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = type(sys)("lstm_trace.kernel_status")
    module.describe = lambda: "kernel: built, avx2"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "lstm_trace.kernel_status", module)
    assert version_text() == f"lstm-trace {package_version()}\nkernel: built, avx2"
    # without the module (None in sys.modules: its import fails as a missing module's does)
    monkeypatch.setitem(sys.modules, "lstm_trace.kernel_status", None)
    assert version_text() == f"lstm-trace {package_version()}"


def test_a_kernel_module_that_fails_to_import_is_not_hidden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A module that is there but imports something missing is a bug to see, not a line to
    leave out."""
    from lstm_trace.entry import version

    def broken(name: str) -> None:
        raise ModuleNotFoundError("No module named 'somelib'", name="somelib")

    monkeypatch.setattr(version.importlib, "import_module", broken)
    with pytest.raises(ModuleNotFoundError, match="somelib"):
        version_text()


def _dist_info(folder: Path, name: str, version: str, kind: str = "dist-info") -> None:
    info = folder / name
    info.mkdir(parents=True)
    header = "METADATA" if kind == "dist-info" else "PKG-INFO"
    (info / header).write_text(
        f"Metadata-Version: 2.1\nName: lstm-trace\nVersion: {version}\n\nVersion: 9.9\n"
    )


@pytest.mark.parametrize(
    "layout",
    [
        [("a", "lstm_trace-1.2.3.dist-info", "1.2.3", "dist-info")],
        [("a", "LSTM_Trace-2.0.dist-info", "2.0", "dist-info")],  # any case, any separator
        [("a", "lstm_trace.egg-info", "0.5.dev1", "egg-info")],  # a source tree's
        [
            ("a", "other-1.0.dist-info", "1.0", "dist-info"),
            ("b", "lstm_trace-3.1.dist-info", "3.1", "dist-info"),
        ],
        [],  # installed nowhere
    ],
    ids=["dist-info", "name-case", "egg-info", "second-entry", "none"],
)
def test_the_quick_version_is_importlib_metadatas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: list[tuple[str, str, str, str]]
) -> None:
    for folder, name, version, kind in layout:
        _dist_info(tmp_path / folder, name, version, kind)
    entries = [str(tmp_path / "a"), str(tmp_path / "missing"), str(tmp_path / "b")]
    monkeypatch.setattr(sys, "path", entries)
    expected = metadata_version("lstm-trace")
    assert package_version() == expected
    assert expected != "9.9"  # the header's Version, not a line of the body


def help_txt() -> str:
    """The help that help.txt holds (after its first line, which names Typer and Rich)."""
    return HELP_FILE.read_text(encoding="utf-8").split("\n", 1)[1]


def typer_help(*args: str, env: dict[str, str] | None = None) -> str:
    out, imported = start(TYPER, *args, env=env)
    assert "typer" in imported
    return out


def test_the_served_help_is_typers_in_a_pipe() -> None:
    """`lstm-trace --help > file` or `| grep` with no terminal to give a width: 80 columns,
    no colour. UPDATE_GOLDEN=1 rewrites help.txt from the Typer app's help."""
    rendered = typer_help("--help")
    renderers = " ".join(f"{n} {importlib.metadata.version(n)}" for n in ("typer", "rich"))
    if os.environ.get("UPDATE_GOLDEN"):
        HELP_FILE.write_text(f"{renderers}\n{rendered}", encoding="utf-8")
    assert HELP_FILE.read_text(encoding="utf-8").split("\n", 1)[0] == renderers
    assert help_txt() == rendered, (
        f"{HELP_FILE} is not what Typer prints; rerun with UPDATE_GOLDEN=1 to rewrite it"
    )
    assert "Usage: lstm-trace [OPTIONS] [COMMAND] [ARGS]..." in rendered
    assert "\x1b" not in rendered and max(map(len, rendered.splitlines())) == 80
    for flag in ("--help", "-h"):
        quick, imported = start(ENTRY, flag)
        assert not HEAVY & imported, HEAVY & imported
        assert quick == rendered


def test_the_served_help_is_typers_with_columns_80_and_no_colour() -> None:
    """The form tests and CI use: COLUMNS=80, NO_COLOR, TERM=dumb."""
    env = clean_env(COLUMNS="80", NO_COLOR="1", TERM="dumb")
    quick, imported = start(ENTRY, "--help", env=env)
    assert not HEAVY & imported
    assert quick == typer_help("--help", env=env) == help_txt()


def test_another_width_or_forced_colour_is_rendered_by_typer() -> None:
    """COLUMNS=100 or FORCE_COLOR: not help.txt's form, so the Typer app answers, as before."""
    for extra in ({"COLUMNS": "100"}, {"FORCE_COLOR": "1"}):
        env = clean_env(**extra)
        slow, imported = start(ENTRY, "--help", env=env)
        assert "typer" in imported
        assert slow == typer_help("--help", env=env) != help_txt()


@pytest.mark.parametrize(
    ("columns", "terminals", "width"),
    [
        ("80", {}, 80),
        ("132", {2: 100}, 132),  # COLUMNS, a number, wins
        ("wide", {}, 80),  # not a number: ignored, as Rich ignores it
        (None, {}, 80),  # no terminal anywhere
        (None, {0: 120, 2: 90}, 120),  # `lstm-trace --help | less` typed in a terminal
        (None, {2: 0}, 80),  # a terminal that reports no size
    ],
)
def test_the_width_is_richs(
    monkeypatch: pytest.MonkeyPatch, columns: str | None, terminals: dict[int, int], width: int
) -> None:
    """Rich's rule: COLUMNS when it is a number, else the width of the first of stdin, stdout
    and stderr that is a terminal, else 80."""
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)

    def size(fd: int) -> os.terminal_size:
        if fd not in terminals:
            raise OSError("not a terminal")
        return os.terminal_size((terminals[fd], 24))

    monkeypatch.setattr(os, "get_terminal_size", size)
    assert served.rich_width() == Console(file=io.StringIO()).width == width


def test_a_terminal_gets_typers_help(monkeypatch: pytest.MonkeyPatch) -> None:
    """stdout a terminal: colours and the terminal's width, which only Rich renders."""
    leader, follower = pty.openpty()
    with open(follower, "w", encoding="utf-8") as terminal:
        monkeypatch.setattr(sys, "stdout", terminal)
        monkeypatch.setenv("COLUMNS", "80")
        for name in served._CHANGES_HELP:
            monkeypatch.delenv(name, raising=False)
        assert quick_answer(["--help"]) is None
    os.close(leader)


def test_an_ascii_stdout_or_a_forcing_variable_gets_typers_help(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    for name in served._CHANGES_HELP:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding="utf-8"))
    assert quick_answer(["--help"]) == help_txt()
    assert quick_answer(["--help", "--seed", "1"]) is None  # only --help alone
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding="ascii"))
    assert quick_answer(["--help"]) is None  # Rich would draw the boxes in ASCII
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding="utf-8"))
    for name in served._CHANGES_HELP:
        monkeypatch.setenv(name, "1")
        assert quick_answer(["--help"]) is None, name
        monkeypatch.delenv(name)


def test_help_rendered_by_another_typer_or_rich_is_not_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another Rich may draw the same help otherwise: then Typer renders it here."""
    monkeypatch.setenv("COLUMNS", "80")
    for name in served._CHANGES_HELP:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding="utf-8"))
    stale = tmp_path / "help.txt"
    real = served.renderers()
    for first in (real.replace("typer ", "typer 0.", 1), real.replace(" rich ", " rich 1"), ""):
        assert first != real
        stale.write_text(f"{first}\n{help_txt()}", encoding="utf-8")
        monkeypatch.setattr(served, "HELP_FILE", str(stale))
        assert served.served_help() is None, first
    stale.write_text(f"{served.renderers()}\nthe help", encoding="utf-8")
    assert served.served_help() == "the help"
    monkeypatch.setattr(served, "HELP_FILE", str(tmp_path / "missing.txt"))
    assert served.served_help() is None


def test_the_quick_versions_of_typer_and_rich_are_importlib_metadatas() -> None:
    from lstm_trace.entry.version import installed_versions

    names = ("typer", "rich", "numpy", "no-such-distribution")
    expected = {n: importlib.metadata.version(n) for n in names[:3]}
    assert installed_versions(names) == {**expected, "no-such-distribution": None}


def test_a_subcommands_help_still_works() -> None:
    out, imported = start(ENTRY, "check", "--help")
    assert "Usage: lstm-trace check" in out
    assert "typer" in imported


def test_a_quick_answer_to_a_reader_that_left_is_a_quiet_exit() -> None:
    for flag in ("--help", "--version"):
        read, write = os.pipe()
        os.close(read)
        done = subprocess.run(
            [sys.executable, "-c", ENTRY, flag],
            stdout=write,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            env=clean_env(),
        )
        os.close(write)
        assert (done.returncode, done.stderr) == (0, b""), flag


def _modules_after(*args: str) -> set[str]:
    """The modules loaded by the end of a run of the command line (a fresh process)."""
    code = (  # the command leaves by os._exit (entry.serve): the modules are listed there
        "import os, sys\n"
        "leave = os._exit\n"
        "os._exit = lambda code: (sys.stderr.write('MODULES ' + ' '.join(sys.modules) + '\\n'),"
        " sys.stderr.flush(), leave(code))\n"
        f"{ENTRY}\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(x for x in done.stderr.splitlines() if x.startswith("MODULES "))
    return set(line.split()[1:])


#: what the walkthrough does not use: the expectations' checks (--expect), the output files'
#: checks (only with a file to write), the readers and writers, the subcommands' machinery
NOT_FOR_THE_WALKTHROUGH = {
    "lstm_trace.ci.expect",
    "lstm_trace.formats.targets",
    "lstm_trace.formats.registry",
    "lstm_trace.formats.reading",
    "lstm_trace.ci.spec",
    "lstm_trace.ci.checks",
}


def _with_teardown_note(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The command line in a fresh process with an atexit handler that says 'TEARDOWN'."""
    code = f"import atexit, sys\natexit.register(lambda: sys.stderr.write('TEARDOWN\\n'))\n{ENTRY}"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=clean_env(**env),
        stdin=subprocess.DEVNULL,
    )


def test_the_command_leaves_at_once_with_its_output_written() -> None:
    """The command exits by os._exit once its streams are flushed (the modules' teardown
    cost 15 to 30 ms of a 0.2 s walkthrough): the whole document is out, an error's line too,
    no atexit handler runs; with LSTM_TRACE_DEBUG the exit is the usual one."""
    done = _with_teardown_note("--input", "3", "--hidden", "2", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["config"]["hidden_size"] == 2  # all of it, flushed
    assert "TEARDOWN" not in done.stderr
    bad = _with_teardown_note("--input", "0")
    assert bad.returncode == 2 and bad.stderr.startswith("lstm-trace: error: --input")
    assert "TEARDOWN" not in bad.stderr
    debug = _with_teardown_note("--version", LSTM_TRACE_DEBUG="1")
    assert debug.returncode == 0 and debug.stdout.startswith("lstm-trace ")
    assert "TEARDOWN" in debug.stderr


def test_the_walkthrough_loads_only_what_it_uses() -> None:
    loaded = _modules_after("--input", "32", "--hidden", "70")
    assert {"numpy", "rich.table", "lstm_trace.trace", "lstm_trace.render.table"} <= loaded
    assert not NOT_FOR_THE_WALKTHROUGH & loaded, NOT_FOR_THE_WALKTHROUGH & loaded


def test_what_the_walkthrough_leaves_out_loads_when_asked_for() -> None:
    loaded = _modules_after("--expect", "output=3,70", "--json", "--samples", "0")
    assert {"lstm_trace.ci.expect", "json"} <= loaded


def test_the_kernels_line_says_when_it_is_not_built(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from lstm_trace import kernel_status

    real = importlib.import_module

    def without_kernel(name: str, *args: Any) -> Any:
        if name == "lstm_trace._kernel":
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", without_kernel)
    assert kernel_status.describe().startswith("kernel: not built, the NumPy path runs")
