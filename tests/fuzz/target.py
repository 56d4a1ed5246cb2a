"""What a fuzz target is, and where the targets, their seeds and their regression inputs live.

A target is one module ``tests/fuzz/fuzz_<name>.py`` that defines ``TARGET``: a function
over bytes that returns quietly on any input and raises only for a bug (it catches the
errors its boundary documents and checks its rules with asserts), the valid inputs the
fuzzer starts from, and a hypothesis strategy of well-formed inputs. The atheris engine
(``python -m tests.fuzz``), the seed-corpus script (``python -m tests.fuzz.corpus``), the
regression replay and the hypothesis properties all find targets by that file name.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterable

from quorumlab.core.errors import CodecError
from quorumlab.core.framing import unpack_blobs

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
"""``corpus/<name>/``: the checked-in seeds of each target, written by ``python -m tests.fuzz.corpus``."""
REGRESSIONS = HERE / "regressions"
"""``regressions/<name>/``: inputs that once crashed a target; ``make test`` replays every one."""


@dataclass(frozen=True)
class Target:
    """One fuzzed boundary."""

    run: Callable[[bytes], None]
    """Feed one input: returns, or raises only for a bug."""
    seeds: Callable[[], Iterable[bytes]]
    """Valid inputs to start from (deterministic: they are checked in)."""
    structured: Callable[[], Any]
    """A hypothesis strategy of well-formed (and lightly damaged) inputs, built on demand."""
    max_len: int = 4096
    """Longest input libFuzzer generates for this target."""


def names() -> list[str]:
    """Every target, by the name in its file name ``fuzz_<name>.py``."""
    return sorted(p.stem.removeprefix("fuzz_") for p in HERE.glob("fuzz_*.py"))


def load(name: str) -> Target:
    """The ``TARGET`` of ``tests/fuzz/fuzz_<name>.py`` (imports it, and so what it fuzzes)."""
    return importlib.import_module(f"tests.fuzz.fuzz_{name}").TARGET


def implementations(compiled: str, twin: str) -> list[ModuleType]:
    """The pure-Python twin, then the compiled module when it was built: inputs go through each and must agree."""
    modules = [importlib.import_module(twin)]
    try:
        modules.append(importlib.import_module(compiled))
    except ImportError:
        pass
    return modules


def outcome(call: Callable[[], Any], *documented: type[BaseException]) -> Any:
    """What ``call()`` returns, or the documented exception it raised (as a value, to compare twins' outcomes)."""
    try:
        return call()
    except documented as exc:
        return exc


def split(data: bytes) -> list[bytes]:
    """The blobs of a blob list, or ``[data]`` when it is not one: how one input carries several items."""
    items = outcome(lambda: unpack_blobs(data), CodecError)
    return [data] if isinstance(items, CodecError) else items
