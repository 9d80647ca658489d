"""`lstm-trace --version`: the text, and the installed version read without importlib.metadata.

importlib.metadata costs some 30 ms to import (email, zipfile, csv), more than the rest of a
`--version` answer; the version is one line of a file that a few directory listings find.
"""

from __future__ import annotations

import importlib
import os
import re
import sys

#: the distribution's name as importlib.metadata normalizes it ("lstm-trace")
_NORMALIZED = "lstm_trace"
_VERSION_LINE = re.compile(r"Version:[ \t]*(\S+)")


def version_text() -> str:
    """What `lstm-trace --version` prints, without its last newline."""
    lines = [f"lstm-trace {package_version()}"]
    kernel = _kernel_line()
    if kernel:
        lines.append(kernel)
    return "\n".join(lines)


def _kernel_line() -> str | None:
    """THE KERNEL'S LINE: lstm_trace.kernel_status.describe() (whether the compiled kernel is
    built, and the instruction set this machine uses), when that module exists. It must
    import no NumPy: --version answers before NumPy is imported."""
    try:
        status = importlib.import_module("lstm_trace.kernel_status")
    except ModuleNotFoundError as exc:
        if exc.name != "lstm_trace.kernel_status":
            raise  # the module is there and broken: a bug to see, not a line to drop
        return None
    line: str = status.describe()
    return line


def package_version() -> str:
    """The installed lstm-trace's version, as importlib.metadata.version("lstm-trace") gives
    it: from the first sys.path entry holding an lstm_trace-*.dist-info or .egg-info (its
    METADATA or PKG-INFO), "0+unknown" for a source tree that was never installed."""
    for entry in sys.path:
        root = entry or "."
        try:
            children = os.listdir(root)
        except OSError:
            if os.path.isfile(root):  # a zip file on sys.path: importlib.metadata reads it
                return _metadata_version()
            continue
        for child in children:
            if _is_ours(child):
                found = _version_in(os.path.join(root, child))
                return found if found is not None else _metadata_version()
    return _metadata_version()


def _is_ours(child: str) -> bool:
    """importlib.metadata's test of a directory entry, for lstm-trace's name."""
    low = child.lower()
    if not low.endswith((".dist-info", ".egg-info")):
        return False
    name = low.rpartition(".")[0].partition("-")[0]
    return re.sub(r"[-_.]+", "_", name) == _NORMALIZED


def _version_in(info: str) -> str | None:
    """The Version header of a .dist-info's METADATA or an .egg-info's PKG-INFO (or of the
    .egg-info itself when it is a file), None when there is none to read."""
    candidates = [os.path.join(info, "METADATA"), os.path.join(info, "PKG-INFO"), info]
    for path in candidates:
        if not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as file:
                for line in file:
                    if not line.strip():
                        break  # the headers end at the first blank line
                    found = _VERSION_LINE.match(line)
                    if found:
                        return found.group(1)
        except (OSError, UnicodeDecodeError):
            return None
        return None
    return None


def _metadata_version() -> str:
    """The version as importlib.metadata finds it (what the quick look above mirrors), for
    what that look does not handle."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lstm-trace")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"
