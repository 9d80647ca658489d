"""The compiled kernel (csrc/) on the edges a review found: undefined behaviour that only a
sanitizer shows, arrays the argument checks must refuse, and the hooked steps' contracts.

The sanitizer test compiles csrc/kernel.c itself (gcc with -fsanitize=undefined, about 2 s)
and runs it in a subprocess, so that undefined behaviour is an exit status rather than a
silent wrong bit; it is skipped where no gcc or no libubsan is installed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

CSRC = Path(__file__).resolve().parents[1] / "csrc"

TANH_EDGES = """
import numpy as np, _kernel as k
for isa in k.isas():
    k.set_isa(isa)
    for dt in (np.float32, np.float64):
        with np.errstate(over="ignore"):
            x = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-310, 3.0, 1e300], dt)
        out = np.empty_like(x)
        k.tanh(x, out)
        assert np.isnan(out[:2]).all() and list(out[2:4]) == [1, -1], (isa, out)
print("ok")
"""


@pytest.fixture(scope="module")
def ubsan_kernel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """csrc/kernel.c built with -fsanitize=undefined, every finding fatal: its directory."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("no gcc to build a sanitized kernel")
    out = tmp_path_factory.mktemp("ubsan")
    target = out / f"_kernel{sysconfig.get_config_var('EXT_SUFFIX')}"
    flags = ["-O1", "-fsanitize=undefined", "-fno-sanitize-recover=all", "-fno-math-errno"]
    flags += ["-Wno-psabi", "-shared", "-fPIC", f"-I{sysconfig.get_paths()['include']}"]
    built = subprocess.run([gcc, *flags, str(CSRC / "kernel.c"), "-o", str(target)],
                           capture_output=True, text=True)  # fmt: skip
    if built.returncode != 0:
        pytest.skip(f"gcc cannot build with -fsanitize=undefined: {built.stderr[-200:]}")
    return out


def _run(directory: Path, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=directory)  # fmt: skip


def test_tanh_of_nan_and_inf_has_no_undefined_behaviour(ubsan_kernel: Path) -> None:
    """NaN reached the exponent's shift as a huge integer: a signed left shift out of range
    (undefined in C, so a compiler may do anything with it)."""
    done = _run(ubsan_kernel, TANH_EDGES)
    assert done.returncode == 0 and "runtime error" not in done.stderr, done.stderr[-600:]
    assert done.stdout.strip() == "ok"
