"""Where an output goes, and how it is written without destroying what is at the path.

Every file lstm-trace writes is opened here (atomic_open), and a path is one of three kinds:

- a regular file, or a name not yet taken: the bytes go to a temporary file beside it, which
  is renamed onto it only when complete and keeps the old file's mode (a new one gets the
  mode a plain open() would give). A failed or interrupted write leaves the old file as it was
  and no temporary file behind. A symlink is followed to the file it names, as a shell's `>`
  does, so the link stays a link; a dangling link creates its target when its folder exists.
- a character device or a FIFO (/dev/null, /dev/stdout into a pipe, a named pipe): opened
  for writing as it is, never renamed over and never chmod-ed. A format that must seek (a zip
  archive, HDF5) is first built in a temporary file in the temporary folder, then copied in.
  Such a stream is exempt from the suffix check, since it has no suffix to check.
- anything else (a directory, a socket, a block device, a path in a missing folder): refused,
  in one line that names what it is, before any work.

This module and file_limits.py import nothing else of lstm_trace.formats.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..errors import FileError, LSTMTraceError

#: the name endings each output option writes; weights kinds are checked by writing.py
SUFFIXES = {
    "--dump": (".npz",),
    "--svg": (".svg",),
    "--png": (".png",),
    "--export-svg": (".svg",),
    "--export-html": (".html", ".htm"),
    "--html": (".html", ".htm"),
    "--junit": (".xml",),
}

#: bytes per copy from a temporary file into a device or FIFO
CHUNK = 1 << 20


def suffix_of(path: Path) -> str:
    """'.weights.h5' for Keras weight files, else the last suffix, lower case."""
    name = path.name.lower()
    return ".weights.h5" if name.endswith(".weights.h5") else path.suffix.lower()


@dataclass(frozen=True)
class Target:
    """An output path, classified: where a rename lands, or a stream written in place."""

    path: Path  # as the user gave it
    #: the file the temporary file is renamed onto (a symlink's target); path for a stream
    resolved: Path
    stream: bool  # a character device or a FIFO: written in place
    #: the existing regular file's status (mode, owner), None for a new file or a stream
    old: os.stat_result | None = None
    #: the file stdout writes to (/dev/stdout, or what the shell redirected it to): written
    #: through stdout's own descriptor, so that `>>` appends and `>` keeps its file
    stdout: bool = False


def is_stdout(path: Path) -> bool:
    """Whether path is the file stdout writes to (/dev/stdout, /proc/self/fd/1, or the file
    the shell redirected stdout to)."""
    try:
        a, b = os.stat(path), os.fstat(1)
    except (OSError, ValueError):  # no such file; no stdout
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def same_file(a: Path, b: Path) -> bool:
    """Whether two output paths name one file that a second write would spoil (the same
    name, a link, /dev/stdout and the file or pipe stdout goes to). A character device is
    not: /dev/null takes any number of writes, and a terminal shows them one after another."""
    try:
        if stat.S_ISCHR(os.stat(a).st_mode):
            return False
    except OSError:  # not there yet: a new file
        pass
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return False


def plan(path: Path) -> Target:
    """Classify path for writing, or refuse it (FileError) in one line naming what it is."""
    try:
        st = os.stat(path)  # follows symlinks, /dev/stdout's too
    except (FileNotFoundError, NotADirectoryError):
        return _new_file(path)
    except OSError as exc:  # a symlink loop, a folder that may not be searched
        raise FileError(f"{path}: cannot write it ({exc.strerror or exc})") from None
    mode = st.st_mode
    if is_stdout(path) and not stat.S_ISCHR(mode):  # a terminal is a device: written as one
        return Target(path, Path(os.path.realpath(path)), True, stdout=True)
    if stat.S_ISREG(mode):
        if not os.access(path, os.W_OK):  # a shell's `>` would refuse it too (not as root)
            raise FileError(f"{path}: cannot write it (the file is read-only)")
        target = Target(path, Path(os.path.realpath(path)), False, st)
        _writable_folder(target)
        return target
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        if not os.access(path, os.W_OK):
            raise FileError(f"{path}: cannot write it (permission denied)")
        return Target(path, path, True)
    raise FileError(f"{path}: is {_kind_name(mode)}, not a file")


def _new_file(path: Path) -> Target:
    """A name not yet taken, or a dangling symlink (then its target is the new file)."""
    resolved = Path(os.path.realpath(path))
    link = path.is_symlink()
    folder = resolved.parent if link else path.parent
    if not folder.exists():
        via = f" links to {resolved}, but" if link else ""
        raise FileError(f"{path}:{via} the folder {folder} does not exist")
    if not folder.is_dir():
        raise FileError(f"{path}: {folder} is not a folder")
    target = Target(path, resolved, False)
    _writable_folder(target)
    return target


def _writable_folder(target: Target) -> None:
    """A rename needs a new file beside the target: refuse a folder where none can be made
    (named as given, unless the target is a symlink's)."""
    if not os.access(target.resolved.parent, os.W_OK | os.X_OK):
        given = target.path.parent
        folder = target.resolved.parent if target.path.is_symlink() else given
        raise FileError(f"{target.path}: cannot create files in the folder {folder}")


def _kind_name(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "a special file"


def check_output(path: Path, option: str) -> Target:
    """plan(path), and refuse (a usage error) a file name without the option's suffix."""
    target = plan(path)
    expected = SUFFIXES[option]
    named = suffix_of(path) in expected or suffix_of(target.resolved) in expected
    if not target.stream and not named:  # a link's own name or its file's: /dev/stdout > x.svg
        raise LSTMTraceError(
            f"{option} {path}: expected a file name ending in {' or '.join(expected)}"
        )
    return target


@contextlib.contextmanager
def atomic_open(path: Path, *, seekable: bool = False) -> Iterator[IO[bytes]]:
    """A binary file to write path's new content to; see the module docstring for how each
    kind of path is written. seekable: the writer seeks (zip, HDF5), so a device or FIFO gets
    the content by way of a temporary file. An OSError becomes a FileError naming path."""
    target = plan(path)
    try:
        if not target.stream:
            with _replacing(target) as f:
                yield f
        elif seekable:
            with _spooled(target) as f:
                yield f
        else:
            with _in_place(target) as f:
                yield f
    except OSError as exc:  # EACCES, ENOSPC, EROFS, EPIPE, ...
        raise FileError(f"{path}: cannot write it ({exc.strerror or exc})") from None


@contextlib.contextmanager
def _replacing(target: Target) -> Iterator[IO[bytes]]:
    resolved = target.resolved
    fd, tmp = tempfile.mkstemp(dir=resolved.parent, prefix=f".{resolved.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())  # the content is on disk before the name points at it
        _keep_status(tmp, target.old)
        os.replace(tmp, resolved)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _keep_status(tmp: str, old: os.stat_result | None) -> None:
    """mkstemp makes the file private (0600): give it the old file's mode, or the mode a plain
    open() would give a new file; as root, also the old file's owner."""
    os.chmod(tmp, stat.S_IMODE(old.st_mode) if old is not None else 0o666 & ~_umask())
    if old is not None and hasattr(os, "geteuid") and os.geteuid() == 0:
        with contextlib.suppress(OSError):  # a file system without owners (FAT) keeps none
            os.chown(tmp, old.st_uid, old.st_gid)


def _umask() -> int:
    mask = os.umask(0)  # the only portable way to read it is to set it
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _in_place(target: Target) -> Iterator[IO[bytes]]:
    if target.stdout:  # the descriptor itself: its offset and O_APPEND are the shell's
        with os.fdopen(os.dup(1), "wb") as f:
            yield f
        return
    # no O_CREAT: if the device or FIFO went away, fail rather than make a regular file
    fd = os.open(target.path, os.O_WRONLY | getattr(os, "O_NOCTTY", 0))
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
        os.close(fd)
        raise FileError(f"{target.path}: is no longer a device or FIFO; nothing was written")
    with os.fdopen(fd, "wb") as f:
        yield f


@contextlib.contextmanager
def _spooled(target: Target) -> Iterator[IO[bytes]]:
    folder = tempfile.gettempdir()
    try:
        spool = tempfile.TemporaryFile(prefix="lstm-trace-")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise FileError(_spool_error(target, folder, exc)) from None
    with spool:
        try:
            yield spool
            spool.flush()
        except OSError as exc:  # the writer's writes go to the spool: its folder failed
            raise FileError(_spool_error(target, folder, exc)) from None
        spool.seek(0)
        with _in_place(target) as out:
            shutil.copyfileobj(spool, out, CHUNK)


def _spool_error(target: Target, folder: str, exc: OSError) -> str:
    return (
        f"{target.path}: cannot build it in the temporary folder {folder} "
        f"({exc.strerror or exc}; TMPDIR chooses another)"
    )
