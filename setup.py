"""Build script: compiles the Cython hot path when it can, installs the pure-Python twins when it cannot.

The metadata lives in pyproject.toml. This file adds what it cannot say:

* the package mapping: the repository keeps its folders ``core/``, ``algorithms/`` and ``bench/``
  at the top, and they install as ``quorumlab.core``, ``quorumlab.algorithms`` and
  ``quorumlab.bench`` (``package_dir``; the editable install maps them the same way), so the
  distribution puts one name, ``quorumlab``, into site-packages;
* the optional C extensions, the way msgpack-python does it: a missing compiler or a missing
  Cython is a warning, never a failed install.
"""
import os
import sys

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

PACKAGE_DIRS = {
    "quorumlab": "quorumlab",
    "quorumlab.core": "core",
    "quorumlab.algorithms": "algorithms",
    "quorumlab.bench": "bench",
}
ACCEL_MODULES = ["quorumlab.core._codec", "quorumlab.core._timerwheel", "quorumlab.core._quorum",
                 "quorumlab.core._framing", "quorumlab.core.check._search"]


def packages():
    """Every package under each mapped folder, named under ``quorumlab``."""
    found = []
    for name, folder in PACKAGE_DIRS.items():
        found.append(name)
        found.extend(f"{name}.{sub}" for sub in find_packages(folder))
    return found


def source_of(module):
    """``quorumlab.core.check._search`` -> ``core/check/_search.pyx`` (by the longest mapped package)."""
    package = max((p for p in PACKAGE_DIRS if module.startswith(p + ".")), key=len)
    rest = module[len(package) + 1:].split(".")
    return os.path.join(PACKAGE_DIRS[package], *rest) + ".pyx"


def drop_stale_c(module, source):
    """A .c file generated for another module name (the layout before the mapping) is generated again."""
    generated = source[:-len(".pyx")] + ".c"
    try:
        with open(generated, encoding="utf-8", errors="replace") as fh:
            head = fh.read(2048)
    except OSError:
        return
    if f'"module_name": "{module}"' not in head:
        os.remove(generated)


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
    present = [(m, source_of(m)) for m in ACCEL_MODULES if os.path.exists(source_of(m))]
    if not present:
        return []
    for module, source in present:
        drop_stale_c(module, source)
    return cythonize(
        [Extension(module, [source]) for module, source in present],
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
        quiet=True,
    )


setup(
    packages=packages(),
    package_dir=PACKAGE_DIRS,
    ext_modules=extensions(),
    cmdclass={"build_ext": OptionalBuildExt},
)
