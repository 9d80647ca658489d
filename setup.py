"""The optional compiled kernel (csrc/), beside pyproject.toml's metadata.

`optional=True`: where no C compiler works (none installed, CC naming a missing program, a
compiler that rejects the flags), setuptools warns and installs lstm-trace without it, and
every pass takes the NumPy path. The flags name no -march: the instruction set is chosen when
the module loads (csrc/kernel.c), so a wheel built here runs on any x86-64.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "lstm_trace._kernel",
            sources=["csrc/kernel.c"],
            depends=["csrc/body.h"],
            # -fno-math-errno: fabs and friends inline, so the loops vectorize; no -ffast-math,
            # which would let the compiler reorder the arithmetic the tests hold to 1e-5
            extra_compile_args=["-O3", "-fno-math-errno", "-Wno-psabi"],
            optional=True,
        )
    ]
)
