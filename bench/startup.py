"""Cold start of the lstm-trace command: medians of fresh processes, as a Markdown table.

    python bench/startup.py                  # this checkout's code, 10 fresh processes each
    python bench/startup.py --script /tmp/suvenv/bin/lstm-trace   # an installed console script
    python bench/startup.py --script OLD/bin/lstm-trace --script NEW/bin/lstm-trace  # side by side
    python bench/startup.py --imports        # and where the time goes (python -X importtime)

Every command runs as a fresh process with stdin /dev/null and stdout and stderr pipes, as in
CI or `lstm-trace ... > file` from a script (no terminal gives Rich a width: 80 columns);
several scripts take turns, so that a slow spell of a shared machine falls on all alike.
Without --script the checkout's own code runs through the entry point that pyproject.toml's
[project.scripts] names, from the checkout's folder (so that this copy, not an installed one,
is imported). `python -c pass` is the interpreter alone, for scale: what no change to
lstm-trace can take away. Targets: the walkthrough <= 0.2 s, --help and --version <= 0.1 s.
Never run as part of the tests.
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
PACKAGES = ("lstm_trace", "numpy", "typer", "rich")  # typer: its own copy of click too


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


def median_seconds(cmds: list[list[str]], repeats: int) -> list[float]:
    """Median wall-clock seconds of repeats fresh processes of each command, the commands
    taking turns (a slow spell of a shared machine falls on all of them alike), after one
    untimed round, which puts the files in the page cache."""
    times: list[list[float]] = [[] for _ in cmds]
    for i in range(repeats + 1):
        for cmd, timed in zip(cmds, times, strict=True):
            start = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, cwd=ROOT, stdin=subprocess.DEVNULL)
            elapsed = time.perf_counter() - start
            if done.returncode != 0:
                err = done.stderr.decode(errors="replace").strip()
                raise SystemExit(f"startup.py: {' '.join(cmd)} failed: {err}")
            if i:
                timed.append(elapsed)
    return [statistics.median(t) for t in times]


def import_times(cmd: list[str], runs: int = 5) -> dict[str, float]:
    """{package: ms} that `python -X importtime` reports: each package's own modules' self
    times summed, the rest as "other"; each module's least of a few runs, which is the
    steadiest figure on a shared machine."""
    least: dict[str, int] = {}
    for _ in range(runs):
        done = subprocess.run(
            cmd, capture_output=True, text=True, cwd=ROOT, stdin=subprocess.DEVNULL
        )
        for line in done.stderr.splitlines():
            found = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
            if found is not None:
                us, name = int(found.group(1)), found.group(2)
                least[name] = min(us, least.get(name, us))
    totals = dict.fromkeys((*PACKAGES, "other"), 0.0)
    for name, us in least.items():
        top = name.split(".")[0]
        totals[top if top in totals else "other"] += us / 1000
    return totals


def table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--script",
        action="append",
        help="an installed lstm-trace console script to time (repeat it to compare several)",
    )
    parser.add_argument("--repeats", type=int, default=10, help="fresh processes per command")
    parser.add_argument("--imports", action="store_true", help="also -X importtime's sums")
    args = parser.parse_args()
    scripts: list[str | None] = list(args.script or [None])
    if None in scripts:
        # pip compiles an installed package's bytecode; a checkout run with
        # PYTHONDONTWRITEBYTECODE set would otherwise time the compiler at every start.
        compileall.compile_dir(ROOT / "lstm_trace", quiet=1)
    names = [s or "checkout" for s in scripts]
    for script, name in zip(scripts, names, strict=True):
        where = script or f"{ROOT} ({':'.join(entry_point())})"
        print(f"{name}: {where}; Python at {interpreter(script)}")
    print()
    cmds = [command(s, argv) for _, argv in COMMANDS for s in scripts]
    cmds += [[interpreter(s), "-c", "pass"] for s in scripts]
    medians = iter(median_seconds(cmds, args.repeats))
    labels = [label for label, _ in COMMANDS] + ["python -c pass (the interpreter alone)"]
    rows = [[label, *(f"{next(medians):.3f}" for _ in scripts)] for label in labels]
    table([f"median s of {args.repeats} (stdout a pipe)", *names], rows)
    if not args.imports:
        return
    for script, name in zip(scripts, names, strict=True):
        print(f"\n{name}:\n")
        rows = []
        for label, argv in COMMANDS:
            ms = import_times(command(script, argv, "-X", "importtime"))
            rows.append([label, *(f"{ms[p]:.0f}" for p in (*PACKAGES, "other"))])
        table(["imports, ms (python -X importtime)", *PACKAGES, "other"], rows)


if __name__ == "__main__":
    main()
