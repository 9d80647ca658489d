"""The machine a benchmark ran on: CPU model, cores, the vector ISA, NumPy's BLAS (its build,
the core it runs, its threads) and torch. Linux's /proc is read where there is one; elsewhere
its rows say "unknown"."""

from __future__ import annotations

import ctypes
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

from lstm_trace import kernel_status

# the symbols of OpenBLAS's own queries, in the plain build and in the renamed one NumPy's
# wheels ship (scipy-openblas, 64-bit integers)
_CORENAME = ("scipy_openblas_get_corename64_", "openblas_get_corename64_", "openblas_get_corename")
_THREADS = (
    "scipy_openblas_get_num_threads64_",
    "openblas_get_num_threads64_",
    "openblas_get_num_threads",
)
_SET_THREADS = (
    "scipy_openblas_set_num_threads64_",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
)
# read by OpenBLAS, OpenMP and MKL when a fresh process loads them
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# variables that make OpenBLAS run another core's kernels (set on some machines as a guard
# against old builds' bugs; they slow a current one)
OPENBLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def cpu_info() -> tuple[str, list[str]]:
    """The CPU's model name and which of avx512f and avx2 it has, from /proc/cpuinfo."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown", []
    model, flags = "unknown", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            model = value.strip()
        elif key.strip() == "flags":
            flags = set(value.split())
    return model, [isa for isa in ("avx512f", "avx2") if isa in flags]


def _openblas() -> Any:
    """NumPy's loaded OpenBLAS as a ctypes library, or None (not Linux, or another BLAS)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    paths = {line.split()[-1] for line in maps.splitlines() if "openblas" in line.lower()}
    for path in sorted(p for p in paths if ".so" in p):
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


def _call(lib: Any, names: tuple[str, ...], restype: Any) -> Any:
    for name in names:
        fn = getattr(lib, name, None)
        if fn is not None:
            fn.restype = restype
            return fn()
    return None


def blas_threads() -> int:
    """The threads NumPy's BLAS runs on: OpenBLAS's own count, else the CPU count."""
    lib = _openblas()
    threads = None if lib is None else _call(lib, _THREADS, ctypes.c_int)
    return int(threads) if threads else os.cpu_count() or 1


def set_blas_threads(threads: int) -> None:
    """Run NumPy's OpenBLAS on `threads` threads from now on, and every fresh process this
    one starts too. Raises RuntimeError where OpenBLAS's own setter cannot be found."""
    lib = _openblas()
    setter = (
        None
        if lib is None
        else next((getattr(lib, n) for n in _SET_THREADS if hasattr(lib, n)), None)
    )
    if setter is None:
        raise RuntimeError("cannot set the BLAS threads: NumPy's BLAS is not an OpenBLAS")
    setter.argtypes = [ctypes.c_int]
    setter(threads)
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, str(threads)))


def blas_name() -> str:
    """NumPy's BLAS as built ("scipy-openblas 0.3.31"), and the core OpenBLAS runs."""
    config: Any = np.show_config(mode="dicts")
    blas = config.get("Build Dependencies", {}).get("blas", {})
    name = f"{blas.get('name', 'unknown')} {blas.get('version', '')}".strip()
    lib = _openblas()
    core = None if lib is None else _call(lib, _CORENAME, ctypes.c_char_p)
    if core:
        name += f", running the {core.decode()} kernels"
    forced = [f"{v}={os.environ[v]}" for v in OPENBLAS_VARIABLES if v in os.environ]
    return name + (f" (forced by {', '.join(forced)})" if forced else "")


def torch_version() -> str:
    try:
        import torch
    except ImportError:
        return "not installed"
    return f"{torch.__version__}, {threads(blas_threads())} (as many as NumPy's BLAS)"


def threads(n: int) -> str:
    """ "1 thread", "2 threads"."""
    return f"{n} thread" + ("" if n == 1 else "s")


def describe() -> list[list[str]]:
    """The machine as rows of a two-column table."""
    model, isa = cpu_info()
    return [
        ["CPU", f"{model} ({platform.machine()})"],
        ["cores", str(os.cpu_count())],
        ["vector ISA", ", ".join(isa) or "neither avx512f nor avx2"],
        ["NumPy", f"{np.__version__}, BLAS {blas_name()}, {threads(blas_threads())}"],
        ["lstm-trace", kernel_status.describe()],
        ["torch", torch_version()],
        ["Python", platform.python_version()],
        ["load average", load()],
    ]


def load() -> str:
    """The 1-minute load average against the cores: other work on the machine slows every
    run, though the runs of one shape take turns and so share the slowdown."""
    try:
        one = os.getloadavg()[0]
    except OSError:
        return "unknown"
    return f"{one:.2f} at the start ({os.cpu_count()} cores)"
