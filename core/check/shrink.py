"""Shrinking a failing partition to a small sub-history that still fails, by steps that keep the proof.

Every step here turns a history H into H' such that if H' has no
linearization, neither has H; so the small history shown to a person is a
genuine reason the big one fails, not an artefact of dropping operations
(dropping the write behind a read would make any read "fail").

- **Back cut at time t**: keep the operations called by t; those still
  running at t keep their call but forget their answer (they become info).
  A linearization of H, cut at t, is one of H'.
- **Front cut at time t** (models with ``any_states``): drop the operations
  that returned by t, forget the answers of those running at t, and start
  from any state: H' must fail from every state in ``any_states``. The state
  of a linearization of H at t is one of them (as far as H' can tell).
- **Deleting an inert operation**: one that leaves every state it accepts
  unchanged (a get, a cas that failed). Removing it from a linearization of
  H leaves one of H'.

Cuts are found by bisection over the completion times (a back cut fails
from some time on; a front cut only roughly so, and bisection then finds a
failing cut, maybe not the latest), then inert operations are deleted, all
at once or else one by one, then the cuts are tried again, all within a
time budget; a check that runs out of time counts as not failing.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Hashable, Sequence

from quorumlab.core.check.checker import Linearization, linearize
from quorumlab.core.check.history import INFO, OK, Operation
from quorumlab.core.check.model import UNKNOWN, Model
from quorumlab.core.check.result import Verdict


@dataclass
class Shrunk:
    """A failing sub-history: its operations (cut ones forgotten), where it was cut, and what the checks cost."""

    ops: list[Operation]
    forgotten: dict[int, Operation]
    """index -> the operation as recorded, for those whose answer a cut set aside."""
    any_start: bool
    front: float | None = None
    back: float | None = None
    checks: int = 0
    elapsed_s: float = 0.0
    failure: Linearization | None = field(default=None, repr=False)
    """The deepest failing search of ``ops``: its longest prefix and the operation stuck after it."""
    start: Hashable = None
    """The initial state of ``failure`` (one of ``any_states`` after a front cut)."""


class _Shrinker:
    """Runs the checks, within one deadline, and remembers the last history that failed and how."""

    def __init__(self, model: Model, deadline: float) -> None:
        self.model = model
        self.deadline = deadline
        self.checks = 0
        self.last: tuple[list[Operation], Linearization, Hashable] | None = None

    def fails(self, ops: list[Operation], any_start: bool) -> bool:
        """Does ``ops`` fail (from every state in any_states if ``any_start``)? Keeps the deepest failing search."""
        if time.monotonic() >= self.deadline:
            return False
        starts = self.model.any_states(ops) if any_start else [self.model.init()]
        deepest = None
        for start in starts:
            self.checks += 1
            lin = linearize(ops, self.model, self.deadline, start)
            if lin.verdict != Verdict.VIOLATION:
                return False
            if deepest is None or len(lin.order) > len(deepest[0].order):
                deepest = (lin, start)
        self.last = (ops, *deepest)
        return True


def back_cut(ops: Sequence[Operation], t: float) -> list[Operation]:
    """The operations called by ``t``; those still running at ``t`` forget their answer."""
    return [op if op.outcome != OK or op.complete <= t else op.forgotten() for op in ops if op.invoke <= t]


def front_cut(ops: Sequence[Operation], t: float) -> list[Operation]:
    """The operations still running after ``t``; those called by ``t`` forget their answer."""
    kept = []
    for op in ops:
        if op.outcome == OK and op.complete <= t:
            continue
        kept.append(op if op.invoke > t else op.forgotten())
    return kept


def inert(op: Operation, model: Model, states: Sequence[Hashable]) -> bool:
    """Does ``op`` leave every one of ``states`` it accepts unchanged?"""
    output = op.result if op.outcome == OK else UNKNOWN
    for s in states:
        ok, after = model.step(s, op, output)
        if ok and after != s:
            return False
    return True


def shrink(ops: Sequence[Operation], model: Model, budget_s: float = 10.0) -> Shrunk | None:
    """A smaller history that still fails, for ``ops`` (one partition); None if ``ops`` does not fail in time."""
    start = time.monotonic()
    sh = _Shrinker(model, start + budget_s)
    current = list(ops)
    if not sh.fails(current, False):
        return None
    any_start = False
    front = back = None
    can_cut_front = model.any_states(current) is not None
    for _ in range(3):
        size = len(current)
        t = _bisect([op.complete for op in current if op.outcome == OK],
                    lambda t: sh.fails(back_cut(current, t), any_start))
        if t is not None:
            current, back = back_cut(current, t), t
        if can_cut_front:
            t = _bisect([op.complete for op in current if op.outcome == OK],
                        lambda t: sh.fails(front_cut(current, t), True), last=True)
            if t is not None:
                current, front, any_start = front_cut(current, t), t, True
            current = _delete_inert(current, model, sh, any_start)
        if len(current) == size:
            break
    if sh.last is None or sh.last[0] != current:
        sh.deadline = time.monotonic() + budget_s  # re-run the check that last passed, for its order
        sh.fails(current, any_start)
    recorded = {op.index: op for op in ops}
    forgotten = {op.index: recorded[op.index] for op in current
                 if op.outcome == INFO and recorded[op.index].outcome != INFO}
    _, failure, first = sh.last
    return Shrunk(current, forgotten, any_start, front, back, sh.checks, time.monotonic() - start, failure, first)


def _bisect(times: list[float], fails, last: bool = False) -> float | None:
    """The earliest (or with ``last`` the latest) of ``times`` at which ``fails`` holds, failing being
    monotone in time (non-decreasing, or with ``last`` non-increasing); None if it holds at none."""
    ts = sorted(set(times), reverse=last)
    lo, hi, found = 0, len(ts) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        if fails(ts[mid]):
            found, hi = ts[mid], mid - 1
        else:
            lo = mid + 1
    return found


def _delete_inert(ops: list[Operation], model: Model, sh: _Shrinker, any_start: bool) -> list[Operation]:
    """Remove inert operations, all at once if the rest still fails, else one at a time, newest first."""
    states = model.any_states(ops)
    gone = [op for op in ops if inert(op, model, states)]
    if not gone or len(gone) == len(ops):
        return ops
    drop = {op.index for op in gone}
    trial = [op for op in ops if op.index not in drop]
    if sh.fails(trial, any_start):
        return trial
    current = list(ops)
    for op in sorted(gone, key=lambda o: -o.index):
        trial = [o for o in current if o.index != op.index]
        if sh.fails(trial, any_start):
            current = trial
    return current
