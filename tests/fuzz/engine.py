"""One fuzz target under atheris (libFuzzer), in this process: ``python -m tests.fuzz.engine NAME [libFuzzer args]``.

The target module, and so quorumlab's own modules, are imported inside
``atheris.instrument_imports`` so that libFuzzer is guided by the coverage of the
Python code (the pure-Python twins included; the compiled modules are checked
against them, not instrumented). ``atheris.Fuzz`` never returns: libFuzzer exits
the process, so ``python -m tests.fuzz`` runs each target in a process of its own.
"""
from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    import atheris

    with atheris.instrument_imports(include=["quorumlab.core", "quorumlab.algorithms", "tests.fuzz"]):
        from tests.fuzz.target import load

        target = load(argv[1])
    atheris.Setup([argv[0], *argv[2:]], target.run)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
