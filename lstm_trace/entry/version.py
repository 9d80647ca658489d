"""`lstm-trace --version`: the text, and the installed version read without importlib.metadata.

importlib.metadata costs some 30 ms to import (email, zipfile, csv), more than the rest of a
`--version` answer; the version is one line of a file that a few directory listings find.
"""

from __future__ import annotations

import importlib
import os
import re
import sys

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
    it; "0+unknown" for a source tree that was never installed."""
    found = installed_versions(("lstm-trace",))["lstm-trace"]
    return found if found is not None else _metadata_version()


def installed_versions(names: tuple[str, ...]) -> dict[str, str | None]:
    """{name: version} of installed distributions, found as importlib.metadata finds them:
    in the first sys.path entry holding a NAME-*.dist-info or NAME.egg-info (its METADATA or
    PKG-INFO). None where this quick look cannot tell: installed nowhere it looks, a zip file
    on sys.path before it, or metadata it cannot read."""
    wanted = {_normalized(name): name for name in names}
    found: dict[str, str | None] = dict.fromkeys(names)
    for entry in sys.path:
        root = entry or "."
        try:
            children = os.listdir(root)
        except OSError:
            if os.path.isfile(root):  # a zip file: importlib.metadata reads it, not this look
                return found
            continue
        for child in children:
            name = wanted.pop(_info_name(child) or "", None)
            if name is not None:
                found[name] = _version_in(os.path.join(root, child))
        if not wanted:
            break
    return found


def _normalized(name: str) -> str:
    """A distribution's name as importlib.metadata compares it: "lstm-trace" -> "lstm_trace"."""
    return re.sub(r"[-_.]+", "_", name).lower()


def _info_name(child: str) -> str | None:
    """The normalized distribution name of a .dist-info or .egg-info directory entry."""
    low = child.lower()
    if not low.endswith((".dist-info", ".egg-info")):
        return None
    return _normalized(low.rpartition(".")[0].partition("-")[0])


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
