"""The optional compiled kernel (csrc/), beside pyproject.toml's metadata.

`optional=True`: where no C compiler works (none installed, CC naming a missing program, a
compiler that rejects the flags), setuptools warns and installs lstm-trace without it, and
every pass takes the NumPy path. The flags name no -march: the instruction set is chosen when
the module loads (csrc/kernel.c), so a wheel built here runs on any x86-64. OpenMP (the
threads of a large step) is used where the compiler has it, and left out where not.
"""

import tempfile
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

OPENMP_PROBE = "#include <omp.h>\nint main(void) { return omp_get_max_threads() > 0 ? 0 : 1; }\n"


class BuildExt(build_ext):
    """build_ext, with -fopenmp added when this compiler compiles and links it."""

    def build_extensions(self) -> None:
        if self._has_openmp():
            for ext in self.extensions:
                ext.extra_compile_args.append("-fopenmp")
                ext.extra_link_args.append("-fopenmp")
        super().build_extensions()

    def _has_openmp(self) -> bool:
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp, "probe.c")
            source.write_text(OPENMP_PROBE)
            try:
                objects = self.compiler.compile([str(source)], output_dir=tmp,
                                                extra_postargs=["-fopenmp"])  # fmt: skip
                self.compiler.link_executable(objects, "probe", output_dir=tmp,
                                              extra_postargs=["-fopenmp"])  # fmt: skip
            except Exception:  # no compiler, no OpenMP: the kernel's build says which
                return False
        return True


setup(
    cmdclass={"build_ext": BuildExt},
    ext_modules=[
        Extension(
            "lstm_trace._kernel",
            sources=["csrc/kernel.c"],
            depends=sorted(p.as_posix() for p in Path("csrc").glob("*.h")),
            # -fno-math-errno: fabs and friends inline, so the loops vectorize; no -ffast-math,
            # which would let the compiler reorder the arithmetic the tests hold to 1e-5
            extra_compile_args=["-O3", "-fno-math-errno", "-Wno-psabi"],
            optional=True,
        )
    ],
)
