"""Short builders for hand-written histories: ``H(put(1, "x", "a", 0, 1), get(2, "x", 2, 3, "a"))``.

Times are plain numbers; ``outcome`` is ok unless given; an info operation
has no completion time unless one is passed.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from quorumlab.core.check.history import OK, Operation


def _op(client: Any, kind: str, key: Any, args: tuple, t0: float, t1: float | None, outcome: str,
        result: Any) -> Operation:
    return Operation(-1, client, kind, key, args, t0, t1, outcome, result if outcome == OK else None)


def put(c: Any, key: Any, value: Any, t0: float, t1: float | None = None, prev: Any = None,
        outcome: str = OK) -> Operation:
    return _op(c, "put", key, (value,), t0, t1, outcome, prev)


def get(c: Any, key: Any, t0: float, t1: float | None = None, value: Any = None, outcome: str = OK) -> Operation:
    return _op(c, "get", key, (), t0, t1, outcome, value)


def delete(c: Any, key: Any, t0: float, t1: float | None = None, found: Any = True,
           outcome: str = OK) -> Operation:
    return _op(c, "delete", key, (), t0, t1, outcome, found)


def cas(c: Any, key: Any, expected: Any, new: Any, t0: float, t1: float | None = None, swapped: bool = True,
        outcome: str = OK) -> Operation:
    return _op(c, "cas", key, (expected, new), t0, t1, outcome, swapped)


def H(*ops: Operation) -> list[Operation]:
    """The operations as a history: indexes 0, 1, 2, ... in the order given."""
    return [replace(op, index=i) for i, op in enumerate(ops)]
