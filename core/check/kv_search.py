"""The key-value register around the compiled search: its order made exact, else the exact search.

The compiled search (quorumlab.core.check.search_py, and its twin) uses up the
writers of precious values and the info cas operations exactly, but lets
garbage jumps (to ANY) repeat. ``Replay.exact_order`` replays the order it
found with real values: where an operation needs a garbage value the state
does not hold, it puts in an info put (or delete) of one that the order
does not use elsewhere, called early enough, earliest first. When that
fails, ``search_exact`` decides with the generic search, each info
operation at most once.
"""
from __future__ import annotations

from typing import Sequence

from quorumlab.core.check import search_generic
from quorumlab.core.check.search_py import CAS, DELETE, JUMP, PRESENT, PUT, kv_step


class Replay:
    """One partition's encoded operations, indexed for giving each jump of an order its own info operation."""

    def __init__(self, events: Sequence[int], is_info: Sequence[int], code: Sequence[int], a: Sequence[int],
                 b: Sequence[int], out: Sequence[int]) -> None:
        self.events, self.is_info = events, is_info
        self.code, self.a, self.b, self.out = code, a, b, out
        self.pos = {e: p for p, e in enumerate(events)}
        self.returns = sorted((i for i, info in enumerate(is_info) if not info), key=lambda i: self.pos[2 * i + 1])
        self.writers = [i for i in (e >> 1 for e in events)
                        if is_info[i] and code[i] in (PUT, DELETE)]  # in call order

    def written(self, i: int) -> int:
        return self.a[i] if self.code[i] == PUT else 0

    def exact_order(self, order: Sequence[int], init: int, strict: bool = True) -> list[int] | None:
        """``order`` with each info operation at most once; None if this replay cannot do it.

        With ``strict`` off an info operation may repeat (to show a prefix that has no exact form).
        """
        pos, returns, writers = self.pos, self.returns, self.writers
        taken = {x for x in order if x != JUMP and self.is_info[x]}
        seen: set[int] = set()
        done: set[int] = set()
        first = spare = 0  # the first ok op not done (in return order); the first writer maybe not taken
        state, result = init, []
        for x in order:
            if x == JUMP:
                continue
            while first < len(returns) and returns[first] in done:
                first += 1
            limit = pos[2 * returns[first] + 1] if first < len(returns) else len(self.events)
            if self.is_info[x]:
                if x in seen and strict:
                    return None
                seen.add(x)
                result.append(x)
                state = self.b[x] if self.code[x] == CAS else self.written(x)
                continue
            after = kv_step(state, self.code[x], self.a[x], self.b[x], self.out[x])
            if after < 0:
                if not (self.code[x] == DELETE and self.out[x] == PRESENT or self.code[x] == CAS and self.out[x] == 0):
                    return None
                avoid = 0 if self.code[x] == DELETE else self.a[x]
                while spare < len(writers) and writers[spare] in taken:
                    spare += 1
                k = spare
                while k < len(writers) and pos[2 * writers[k]] < limit and (
                        writers[k] in taken or self.written(writers[k]) == avoid):
                    k += 1
                if k < len(writers) and pos[2 * writers[k]] < limit:
                    w = writers[k]
                    taken.add(w)
                else:
                    w = None if strict else next((w for w in writers if self.written(w) != avoid), None)
                    if w is None:
                        return None
                result.append(w)
                after = kv_step(self.written(w), self.code[x], self.a[x], self.b[x], self.out[x])
            result.append(x)
            done.add(x)
            state = after
        return result


def search_exact(events: Sequence[int], is_info: Sequence[int], code: Sequence[int], a: Sequence[int],
                 b: Sequence[int], out: Sequence[int], init: int, deadline: float) -> tuple[int, list[int], int, int]:
    """The exact search (each info operation at most once) for the key-value register, in Python."""
    cas_from: dict[int, int] = {}
    for p, e in enumerate(events):
        i = e >> 1
        if is_info[i] and code[i] == CAS and a[i] != b[i] and a[i] not in cas_from:
            cas_from[a[i]] = p

    def step(s: int, i: int) -> int:
        return kv_step(s, code[i], a[i], b[i], out[i])

    def useful(s: int, calls: list[int], limit: int) -> bool:
        """Only a state a waiting call accepts, or a waiting info cas expects, can help."""
        for c in calls:
            if kv_step(s, code[c], a[c], b[c], out[c]) >= 0:
                return True
        p = cas_from.get(s)
        return p is not None and p < limit

    return search_generic.search(events, is_info, step, init, False, deadline, useful)
