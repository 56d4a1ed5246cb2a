"""Operations as clients saw them, and a thread-safe recorder that builds a history from concurrent clients.

An operation is what one client asked (op, key, arguments), when it asked
(``invoke``), when it heard back (``complete``) and what it heard:
``ok`` with a result, ``fail`` (it certainly did not happen) or ``info``
(unknown: it may have happened at any time after ``invoke``, or never).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Union

OK = "ok"
FAIL = "fail"
INFO = "info"
OUTCOMES = (OK, FAIL, INFO)

Key = Union[str, int]
Value = Union[str, int, None]


@dataclass(frozen=True, slots=True)
class Operation:
    """One client operation: ``op(key, *args)`` invoked at ``invoke``, answered at ``complete`` with ``outcome``.

    ``index`` is its position in the history. ``complete`` is None for an
    ``info`` operation that never got an answer. ``result`` is meaningful for
    ``ok`` only.
    """

    index: int
    client: Key
    op: str
    key: Key
    args: tuple
    invoke: float
    complete: float | None
    outcome: str
    result: Any = None

    def forgotten(self) -> "Operation":
        """The same call with its answer forgotten (``info``): it may or may not have taken effect."""
        return replace(self, outcome=INFO, result=None)


def plain(value: Any) -> Any:
    """A value as histories store it: bytes become str (UTF-8), str/int/bool/None pass through."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{bytes(value)[:32]!r} is not UTF-8: histories store keys and values as text") from None
    if value is None or isinstance(value, (str, int)):
        return value
    raise ValueError(f"{value!r} ({type(value).__name__}) is not a history value: use str, int, bytes or None")


class History:
    """Records operations from many threads: ``i = h.invoke(client, "put", key, value)``, later ``h.complete(i, "ok", old)``.

    The clock is read before the lock is taken, so a slow lock never
    stretches an operation. ``operations()`` returns every operation so far;
    those still waiting for an answer appear as ``info`` with no completion
    time, which is what the checker must assume about them.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic_ns, time_unit: str = "ns") -> None:
        self._clock = clock
        self.time_unit = time_unit
        self._lock = threading.Lock()
        self._ops: list[Operation] = []
        self._open: set[int] = set()

    def invoke(self, client: Key, op: str, key: Any, *args: Any) -> int:
        """Record the start of ``op(key, *args)`` by ``client`` now; returns the operation's index."""
        now = self._clock()
        record = Operation(-1, client, op, plain(key), tuple(plain(a) for a in args), now, None, INFO)
        with self._lock:
            index = len(self._ops)
            self._ops.append(replace(record, index=index))
            self._open.add(index)
        return index

    def complete(self, index: int, outcome: str, result: Any = None) -> Operation:
        """Record the answer to operation ``index`` now: ``ok`` with its result, ``fail`` or ``info``."""
        now = self._clock()
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
        value = plain(result) if outcome == OK else None
        with self._lock:
            if index not in self._open:
                raise ValueError(f"operation {index} is not waiting for an answer (unknown or already completed)")
            self._open.discard(index)
            done = replace(self._ops[index], complete=now, outcome=outcome, result=value)
            self._ops[index] = done
        return done

    def extend(self, ops: Iterable[Operation]) -> None:
        """Add operations recorded elsewhere (read from a file, say), renumbered after those already here."""
        with self._lock:
            for op in ops:
                index = len(self._ops)
                self._ops.append(op if op.index == index else replace(op, index=index))

    def operations(self) -> list[Operation]:
        """Every operation recorded so far, in invocation order of their indexes."""
        with self._lock:
            return list(self._ops)

    def __len__(self) -> int:
        return len(self._ops)

