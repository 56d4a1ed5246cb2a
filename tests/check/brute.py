"""A brute-force linearizability oracle for small histories: tries every order real time allows, no memo, no cleverness.

Its key-value semantics are written out here, apart from the checker's, so
that the two can disagree if one of them is wrong.
"""
from __future__ import annotations

from typing import Any, Sequence

from quorumlab.core.check.history import FAIL, INFO, OK, Operation

_UNSEEN = object()


def kv_apply(state: Any, op: Operation, output: Any) -> tuple[bool, Any]:
    """(could op return output in state, next state); output is _UNSEEN for an info op."""
    seen = output is not _UNSEEN
    if op.op == "get":
        return (not seen or output == state), state
    if op.op == "put":
        return (not seen or output == state), op.args[0]
    if op.op == "delete":
        if not seen:
            return True, None
        if output is True or output is False:
            return output == (state is not None), None
        return output == state, None
    expected, new = op.args
    swapped = state == expected
    if seen and output is not swapped:
        return False, state
    return True, new if swapped else state


def linearizable(ops: Sequence[Operation], initial: Any = None) -> bool:
    """True iff some order of the ok ops and some of the info ops, each after its call, explains every key."""
    keys = {op.key for op in ops}
    return all(_key_linearizable([op for op in ops if op.key == k and op.outcome != FAIL], initial) for k in keys)


def _key_linearizable(ops: list[Operation], state: Any) -> bool:
    if not any(op.outcome == OK for op in ops):
        return True
    for x in ops:
        # x may go next unless some ok op still waiting returned before x was called
        if any(y is not x and y.outcome == OK and y.complete < x.invoke for y in ops):
            continue
        ok, after = kv_apply(state, x, x.result if x.outcome == OK else _UNSEEN)
        if ok and _key_linearizable([y for y in ops if y is not x], after):
            return True
        if x.outcome == INFO and _key_linearizable([y for y in ops if y is not x], state):
            return True
    return False
