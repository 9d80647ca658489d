"""One line on the compiled kernel for `lstm-trace --version`: built or not, and the
instruction set this CPU would use. Imports no NumPy (the extension reads arrays through the
buffer protocol and needs none), so --version stays quick."""

from __future__ import annotations

import importlib
import os


def describe() -> str:
    """'kernel: compiled, avx512 on this CPU (...)' or 'kernel: not built (...)'."""
    try:  # a C extension, optional: absent where the install found no C compiler
        k = importlib.import_module("lstm_trace._kernel")
    except ImportError:
        return (
            "kernel: not built, the NumPy path runs (`pip install .` builds it where a C "
            "compiler is found)"
        )
    isas = list(k.isas())
    threads = "with OpenMP threads" if k.OPENMP else "on one thread (built without OpenMP)"
    line = f"kernel: compiled, {isas[-1]} on this CPU (of {', '.join(reversed(isas))}), {threads}"
    mode = os.environ.get("LSTM_TRACE_KERNEL", "").strip().lower()
    if mode and mode != "auto":
        line += f"; LSTM_TRACE_KERNEL={mode} is set"
    return line
