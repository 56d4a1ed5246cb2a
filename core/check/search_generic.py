"""The linearization search for any model (Python only): info operations as moves of their own.

The same search as quorumlab.core.check.search_py (read its docstring first), for a
model given as ``step(state, op) -> state or -1`` on small ints. An info
operation is a move like any other, tried when no ok operation can go on,
and only when it changes the state, the state it leads to is ``useful``,
and, right after another info move, its effect depends on the state (else
it could have been taken first). With ``reuse_info`` an info operation may
be applied again and again (the relaxation: it finds every violation the
exact search finds); without, each is applied at most once and lifted out.
The checker uses this search for plugin models, and for the key-value
register when the relaxed order cannot be made exact.
"""
from __future__ import annotations

import time
from typing import Callable, Sequence

from quorumlab.core.check.search_py import CHECK_EVERY, OK, TIMEOUT, VIOLATION, check_events, op_key, state_key

_NIL = -1


def search(events: Sequence[int], is_info: Sequence[int], step: Callable[[int, int], int], init: int,
           reuse_info: bool, deadline: float,
           useful: Callable[[int, list[int], int], bool] | None = None) -> tuple[int, list[int], int, int]:
    """Search for a linearization; returns (status, order, stuck, steps).

    ``events``: entries in time order, ``2*i`` the call and ``2*i+1`` the
    return of operation ``i`` (info operations have no return). ``step(s, i)``:
    the state after ``i`` in state ``s`` (small ints), or -1. ``deadline``:
    ``time.monotonic()`` value to give up at (0: never). ``useful(s, calls,
    limit)``: may an info operation leading to ``s`` help, given the waiting
    ``calls`` and the first return's position.

    ``order`` is the linearization (OK) or the longest prefix found
    (VIOLATION, TIMEOUT); ``stuck`` is the operation that could not take
    effect before its return at the end of that prefix (-1 for OK).
    """
    n = len(is_info)
    n_real = check_events(events, is_info)
    head, ihead = 2 * n, 2 * n + 1
    nxt = [_NIL] * (2 * n + 2)
    prv = [_NIL] * (2 * n + 2)
    pos = [0] * (2 * n)
    last_main, last_info = head, ihead
    for p, e in enumerate(events):
        pos[e] = p
        if is_info[e >> 1]:
            nxt[last_info], prv[e], last_info = e, last_info, e
        else:
            nxt[last_main], prv[e], last_main = e, last_main, e
    keys = [op_key(i) for i in range(n)]
    skeys: dict[int, int] = {}

    def skey(s: int) -> int:
        k = skeys.get(s)
        if k is None:
            k = skeys[s] = state_key(s)
        return k

    state, fp, remaining, steps = init, 0, n_real, 0
    if remaining == 0:
        return OK, [], -1, 0
    cache = {skey(state)}
    stack_op: list[int] = []
    stack_state: list[int] = []
    best: list[int] = []
    best_depth, stuck, low = -1, -1, 0
    entry = nxt[head]
    in_main = True
    ientry = limit = ret = _NIL
    cands: list[int] = []
    countdown = CHECK_EVERY
    while True:
        countdown -= 1
        if countdown == 0:
            countdown = CHECK_EVERY
            if deadline and time.monotonic() > deadline:
                return TIMEOUT, best, stuck, steps
        if in_main:
            if not entry & 1:
                i = entry >> 1
                steps += 1
                s2 = step(state, i)
                if s2 >= 0:
                    fp2 = fp ^ keys[i]
                    k = fp2 ^ skey(s2)
                    if k not in cache:
                        cache.add(k)
                        stack_op.append(i)
                        stack_state.append(state)
                        state, fp = s2, fp2
                        c, r = entry, entry + 1
                        nxt[prv[c]] = nxt[c]
                        prv[nxt[c]] = prv[c]
                        nxt[prv[r]] = nxt[r]
                        if nxt[r] != _NIL:
                            prv[nxt[r]] = prv[r]
                        remaining -= 1
                        if remaining == 0:
                            return OK, stack_op, -1, steps
                        entry = nxt[head]
                        continue
                entry = nxt[entry]
                continue
            ret, limit = entry, pos[entry]
            cands = _calls_before(nxt, head) if useful is not None else cands
            in_main, ientry = False, nxt[ihead]
            continue
        if ientry != _NIL and pos[ientry] < limit:
            i = ientry >> 1
            steps += 1
            s2 = step(state, i)
            if (s2 >= 0 and s2 != state
                    and not (stack_op and is_info[stack_op[-1]] and step(stack_state[-1], i) == s2)
                    and (useful is None or useful(s2, cands, limit))):
                fp2 = fp if reuse_info else fp ^ keys[i]
                k = fp2 ^ skey(s2)
                if k not in cache:
                    cache.add(k)
                    stack_op.append(i)
                    stack_state.append(state)
                    state, fp = s2, fp2
                    if not reuse_info:
                        nxt[prv[ientry]] = nxt[ientry]
                        if nxt[ientry] != _NIL:
                            prv[nxt[ientry]] = prv[ientry]
                    in_main, entry = True, nxt[head]
                    continue
            ientry = nxt[ientry]
            continue
        depth = n_real - remaining
        if depth > best_depth:
            best[low:] = stack_op[low:]
            best_depth, stuck, low = depth, ret >> 1, len(stack_op)
        if not stack_op:
            return VIOLATION, best, stuck, steps
        i = stack_op.pop()
        state = stack_state.pop()
        low = min(low, len(stack_op))
        c = 2 * i
        if is_info[i]:
            if not reuse_info:
                fp ^= keys[i]
                nxt[prv[c]] = c
                if nxt[c] != _NIL:
                    prv[nxt[c]] = c
            ret = _first_return(nxt, head)
            limit = pos[ret]
            cands = _calls_before(nxt, head) if useful is not None else cands
            ientry = nxt[c]
        else:
            fp ^= keys[i]
            r = c + 1
            nxt[prv[r]] = r
            if nxt[r] != _NIL:
                prv[nxt[r]] = r
            nxt[prv[c]] = c
            prv[nxt[c]] = c
            remaining += 1
            in_main, entry = True, nxt[c]


def _first_return(nxt: list[int], head: int) -> int:
    e = nxt[head]
    while not e & 1:
        e = nxt[e]
    return e


def _calls_before(nxt: list[int], head: int) -> list[int]:
    """The operations whose calls come before the first return: those that may take effect now."""
    out = []
    e = nxt[head]
    while not e & 1:
        out.append(e >> 1)
        e = nxt[e]
    return out
