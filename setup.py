"""Build script: compiles the Cython hot path when it can, installs the pure-Python twins when it cannot.

The metadata lives in pyproject.toml. This file only adds the optional C
extensions, the way msgpack-python does it: a missing compiler or a missing
Cython is a warning, never a failed install.
"""
import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

ACCEL_MODULES = ["core._codec", "core._timerwheel", "core._quorum", "core._framing", "core.check._search"]


class OptionalBuildExt(build_ext):
    """A build_ext whose failure leaves the pure-Python twins in charge."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # compiler missing, headers missing, ...
            self._warn(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._warn(exc)

    @staticmethod
    def _warn(exc):
        sys.stderr.write(
            f"WARNING: quorumlab's accelerated core could not be compiled ({exc}); "
            "installing the pure-Python twins instead.\n"
        )


def extensions():
    if os.environ.get("QUORUMLAB_PURE_PYTHON") == "1":
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        sys.stderr.write("WARNING: Cython is not available; installing the pure-Python core.\n")
        return []
    sources = [m.replace(".", "/") + ".pyx" for m in ACCEL_MODULES]
    present = [s for s in sources if os.path.exists(s)]
    if not present:
        return []
    return cythonize(
        present,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
        quiet=True,
    )


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
