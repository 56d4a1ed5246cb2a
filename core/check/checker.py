"""``check(history)``: is there an order of the operations, consistent with real time, that the model accepts?

The history is split by ``model.partition`` (the key, for the key-value
model) and each part is searched alone: a history is linearizable iff
every part is (Herlihy & Wing's locality, the P-compositionality of
Horn & Kroening). ``fail`` operations are left out: they did not happen.

A part with ``info`` operations is searched twice at most. The first
search may apply an info operation more than once (see
quorumlab.core.check.search_py); if it finds no order, none exists. If its order
applies an info operation more than once, other info operations with the
same effect, called early enough, are assigned to the repeats; when that
cannot be done, the exact search (each info operation at most once) decides.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Hashable, Iterable, Sequence

from quorumlab.core import _accel  # read at call time: quorumlab.core._accel imports this package while it loads
from quorumlab.core.check import kv_model, kv_search, search_generic, search_py
from quorumlab.core.check.history import FAIL, INFO, OK, History, Operation
from quorumlab.core.check.kv_model import KVRegister
from quorumlab.core.check.model import UNKNOWN, Model
from quorumlab.core.check.result import CheckResult, PartitionResult, Verdict

DEFAULT_MODEL = KVRegister()
_STATUS = {search_py.OK: Verdict.OK, search_py.VIOLATION: Verdict.VIOLATION, search_py.TIMEOUT: Verdict.UNKNOWN}
_INIT: Any = object()


@dataclass
class Linearization:
    """One search's answer for one partition: the order (or longest prefix) and the operation stuck after it."""

    verdict: Verdict
    order: list[Operation]
    stuck: Operation | None
    steps: int


def check(history: History | Iterable[Operation], model: Model = DEFAULT_MODEL,
          timeout_s: float | None = None) -> CheckResult:
    """Check ``history`` against ``model``; after ``timeout_s`` seconds the parts not yet decided are unknown."""
    start = time.monotonic()
    deadline = start + timeout_s if timeout_s is not None else 0.0
    ops = history.operations() if isinstance(history, History) else list(history)
    for op in ops:
        validate(op, model)
    parts: dict[Hashable, list[Operation]] = {}
    for op in ops:
        parts.setdefault(model.partition(op), []).append(op)
    results = []
    for key, part in parts.items():
        t0 = time.monotonic()
        if deadline and t0 >= deadline:
            results.append(PartitionResult(key, Verdict.UNKNOWN, len(part), note="not checked: time limit"))
            continue
        lin = linearize(part, model, deadline)
        results.append(PartitionResult(
            key, lin.verdict, len(part), time.monotonic() - t0, lin.steps, [op.index for op in lin.order],
            lin.stuck.index if lin.stuck is not None else None,
            "time limit" if lin.verdict == Verdict.UNKNOWN else ""))
    verdicts = {r.verdict for r in results}
    verdict = (Verdict.VIOLATION if Verdict.VIOLATION in verdicts
               else Verdict.UNKNOWN if Verdict.UNKNOWN in verdicts else Verdict.OK)
    return CheckResult(verdict, results, time.monotonic() - start, model.name, implementation(model), len(ops))


def implementation(model: Model) -> str:
    """Which search runs ``model``: the compiled or twin key-value search, or the generic Python one."""
    return _accel.checksearch.__name__ if type(model) is KVRegister else "quorumlab.core.check.search_py.search (generic model)"


def validate(op: Operation, model: Model) -> None:
    """Raise ValueError naming the operation and field if ``op`` cannot be checked."""
    complete = op.complete
    try:
        if op.outcome != OK and op.outcome != FAIL and op.outcome != INFO:
            raise ValueError(f"outcome: {op.outcome!r} is not ok, fail or info")
        if complete is None:
            if op.outcome != INFO:
                raise ValueError(f"complete: an {op.outcome} operation needs a completion time")
        elif complete < op.invoke:
            raise ValueError(f"complete: {complete} is before invoke {op.invoke}")
        model.validate(op)
    except ValueError as exc:
        raise ValueError(f"operation #{op.index}: {exc}") from None


def linearize(ops: Sequence[Operation], model: Model, deadline: float, init: Hashable = _INIT) -> Linearization:
    """Search one partition from ``model.init()`` (or ``init``) until ``deadline`` (0: none)."""
    part = _Part(ops, model, model.init() if init is _INIT else init)
    return part.answer(part.run_kv(deadline) if part.enc is not None else part.run_generic(deadline))


class _Part:
    """One partition ready for the search: entries in time order, and the model as a step on small ints."""

    def __init__(self, ops: Sequence[Operation], model: Model, init: Hashable) -> None:
        fast = type(model) is KVRegister  # a subclass may change step: it takes the generic path
        self.ops = [op for op in ops if op.outcome != FAIL and (not fast or kv_model.constrains(op))]
        self.is_info = [1 if op.outcome == INFO else 0 for op in self.ops]
        self.events = _events(self.ops)
        if fast:
            self.enc = kv_model.encode(self.ops, [init])
            self.init = self.enc.intern(init)
        else:
            self.enc = None
            self.step, self.init = _interned_step(model, self.ops, init)

    def run_kv(self, deadline: float) -> tuple[int, list[int], int, int]:
        """The compiled relaxed search, its order made exact, else the exact search (quorumlab.core.check.kv_search)."""
        e = self.enc
        args = (self.events, self.is_info, e.code, e.a, e.b, e.out, self.init, deadline)
        status, order, stuck, steps = _accel.checksearch.search_kv(*args)
        if not any(self.is_info):
            return status, order, stuck, steps
        replay = kv_search.Replay(*args[:6])
        if status != search_py.OK:
            return status, replay.exact_order(order, self.init, strict=False) or [], stuck, steps
        exact = replay.exact_order(order, self.init)
        if exact is not None:
            return status, exact, stuck, steps
        status, order, stuck, more = kv_search.search_exact(*args)
        return status, order, stuck, steps + more

    def run_generic(self, deadline: float) -> tuple[int, list[int], int, int]:
        """The generic search, relaxed first, then exact if the relaxed order repeats an info operation."""
        if not any(self.is_info):
            return search_generic.search(self.events, self.is_info, self.step, self.init, False, deadline)
        relaxed = search_generic.search(self.events, self.is_info, self.step, self.init, True, deadline)
        if relaxed[0] != search_py.OK:
            return relaxed
        order = self.single_use(relaxed[1])
        if order is not None:
            return search_py.OK, order, -1, relaxed[3]
        status, order, stuck, steps = search_generic.search(self.events, self.is_info, self.step, self.init,
                                                            False, deadline)
        return status, order, stuck, relaxed[3] + steps

    def answer(self, found: tuple[int, list[int], int, int]) -> Linearization:
        status, order, stuck, steps = found
        ops = self.ops
        return Linearization(_STATUS[status], [ops[i] for i in order], ops[stuck] if stuck >= 0 else None, steps)

    def single_use(self, order: list[int]) -> list[int] | None:
        """``order`` with each info operation used at most once, by swapping in equivalent ones; None if impossible.

        A repeat of info operation i, applied in state s and leading to s',
        can be any unused info operation j with the same step from s, called
        before the first return still pending there. The operations called
        early enough only grow along the order, so taking the earliest-called
        candidate each time never blocks a later repeat that another choice
        would have served (for the key-value model, where effects fall into
        disjoint classes; otherwise a failure here only costs the exact search).
        """
        infos = [i for i in order if self.is_info[i]]
        if len(set(infos)) == len(infos):
            return order
        pos = {e: p for p, e in enumerate(self.events)}
        returns = sorted((i for i, info in enumerate(self.is_info) if not info), key=lambda i: pos[2 * i + 1])
        calls = sorted((i for i, info in enumerate(self.is_info) if info), key=lambda i: pos[2 * i])
        done = [False] * len(self.ops)
        used = [False] * len(self.ops)
        first = released = 0
        pool: list[int] = []
        state, result = self.init, []
        for i in order:
            if not self.is_info[i]:
                done[i] = True
                state = self.step(state, i)
                result.append(i)
                continue
            while first < len(returns) and done[returns[first]]:
                first += 1
            limit = pos[2 * returns[first] + 1] if first < len(returns) else len(self.events)
            while released < len(calls) and pos[2 * calls[released]] < limit:
                pool.append(calls[released])
                released += 1
            after = self.step(state, i)
            j = next((j for j in pool if not used[j] and self.step(state, j) == after), None)
            if j is None:
                return None
            used[j] = True
            state = after
            result.append(j)
        return result


def _events(ops: Sequence[Operation]) -> list[int]:
    """Entries in time order (2i: call of ops[i], 2i+1: its return; info ops have no return); calls first on ties."""
    n = len(ops)
    times: list[float] = [0.0] * (2 * n)
    entries = []
    for i, op in enumerate(ops):
        times[2 * i] = op.invoke
        entries.append(2 * i)
    for i, op in enumerate(ops):
        if op.outcome == OK:
            times[2 * i + 1] = op.complete
            entries.append(2 * i + 1)
    entries.sort(key=times.__getitem__)  # stable: a call and a return at the same time stay call first
    return entries


def _interned_step(model: Model, ops: Sequence[Operation], init: Hashable):
    """(step on state ids, id of ``init``) for a generic model; states are interned, steps memoized."""
    states: list[Hashable] = [init]
    ids: dict[Hashable, int] = {init: 0}
    outputs = [op.result if op.outcome == OK else UNKNOWN for op in ops]
    memo: dict[tuple[int, int], int] = {}

    def step(s: int, i: int) -> int:
        found = memo.get((s, i))
        if found is not None:
            return found
        ok, new = model.step(states[s], ops[i], outputs[i])
        if not ok:
            result = -1
        else:
            try:
                result = ids.get(new)
            except TypeError:
                raise TypeError(f"{type(model).__name__}.step returned an unhashable state {new!r}") from None
            if result is None:
                result = ids[new] = len(states)
                states.append(new)
        memo[(s, i)] = result
        return result

    return step, 0
