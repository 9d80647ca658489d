"""Cold start of the lstm-trace command: medians of fresh processes, as a Markdown table.

    python bench/startup.py                  # this checkout's code, 10 fresh processes each
    python bench/startup.py --script /tmp/suvenv/bin/lstm-trace   # an installed console script
    python bench/startup.py --imports        # and where the time goes (python -X importtime)

Every command runs as a fresh process with its stdout a pipe, as `lstm-trace ... | less` or
`> file` would. Without --script the checkout's own code runs through the entry point that
pyproject.toml's [project.scripts] names, from the checkout's folder (so that this copy, not
an installed one, is imported). `python -c pass` is the interpreter alone, for scale: what no
change to lstm-trace can take away. Targets: the walkthrough <= 0.2 s, --help and --version
<= 0.1 s. Never run as part of the tests.
"""

from __future__ import annotations

import argparse
import compileall
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: (what is timed, the arguments after `lstm-trace`)
COMMANDS: list[tuple[str, list[str]]] = [
    ("lstm-trace --input 32 --hidden 70", ["--input", "32", "--hidden", "70"]),
    ("lstm-trace --help", ["--help"]),
    ("lstm-trace --version", ["--version"]),
    ("lstm-trace check --help", ["check", "--help"]),
]

#: the packages whose import time --imports reports, the rest summed as "other"
PACKAGES = ("lstm_trace", "numpy", "typer", "click", "rich")


def entry_point() -> tuple[str, str]:
    """(module, function) of the `lstm-trace` console script in pyproject.toml."""
    text = (ROOT / "pyproject.toml").read_text()
    found = re.search(r'^lstm-trace\s*=\s*"([\w.]+):(\w+)"', text, re.MULTILINE)
    if found is None:
        raise SystemExit("startup.py: pyproject.toml names no lstm-trace console script")
    return found.group(1), found.group(2)


def interpreter(script: str | None) -> str:
    """The Python a console script runs on (its #! line), this one without a script."""
    if script is None:
        return sys.executable
    with open(script, "rb") as file:
        first = file.readline().decode(errors="replace")
    if not first.startswith("#!"):
        raise SystemExit(f"startup.py: {script} is not a Python console script (no #! line)")
    return first[2:].strip().split()[0]


def command(script: str | None, args: list[str], *flags: str) -> list[str]:
    """The command line that starts lstm-trace with args: the installed script (through its
    own interpreter when flags are given), or the checkout's entry point as the console
    script calls it."""
    if script is not None:
        return [script, *args] if not flags else [interpreter(script), *flags, script, *args]
    module, function = entry_point()
    code = f"import sys; sys.argv[0] = 'lstm-trace'; from {module} import {function}; {function}()"
    return [sys.executable, *flags, "-c", code, *args]


def median_seconds(cmd: list[str], repeats: int) -> float:
    """Median wall-clock seconds of repeats fresh processes (after one untimed, which puts
    the files in the page cache and writes the bytecode)."""
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, cwd=ROOT)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip()
            raise SystemExit(f"startup.py: {' '.join(cmd)} failed: {err}")
        if i:
            times.append(elapsed)
    return statistics.median(times)


def import_times(cmd: list[str]) -> dict[str, float]:
    """{package: ms} that `python -X importtime` reports for one run: each package's own
    modules' self times summed, the rest as "other"."""
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    totals = dict.fromkeys((*PACKAGES, "other"), 0.0)
    for line in done.stderr.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if found is None:
            continue
        top = found.group(2).split(".")[0]
        totals[top if top in totals else "other"] += int(found.group(1)) / 1000
    return totals


def table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--script", help="an installed lstm-trace console script to time")
    parser.add_argument("--repeats", type=int, default=10, help="fresh processes per command")
    parser.add_argument("--imports", action="store_true", help="also -X importtime's sums")
    args = parser.parse_args()
    where = args.script or f"{ROOT} ({':'.join(entry_point())})"
    if args.script is None:
        # pip compiles an installed package's bytecode; a checkout run with
        # PYTHONDONTWRITEBYTECODE set would otherwise time the compiler at every start.
        compileall.compile_dir(ROOT / "lstm_trace", quiet=1)
    print(f"lstm-trace: {where}; Python at {interpreter(args.script)}\n")
    rows = [
        [name, f"{median_seconds(command(args.script, argv), args.repeats):.3f}"]
        for name, argv in COMMANDS
    ]
    bare = median_seconds([interpreter(args.script), "-c", "pass"], args.repeats)
    rows.append(["python -c pass (the interpreter alone)", f"{bare:.3f}"])
    table(["command (stdout a pipe)", f"median s of {args.repeats}"], rows)
    if not args.imports:
        return
    print()
    rows = []
    for name, argv in COMMANDS:
        ms = import_times(command(args.script, argv, "-X", "importtime"))
        rows.append([name, *(f"{ms[p]:.0f}" for p in (*PACKAGES, "other"))])
    table(["imports, ms (python -X importtime)", *PACKAGES, "other"], rows)


if __name__ == "__main__":
    main()
