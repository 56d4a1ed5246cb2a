"""The key-value register's linearization search, pure-Python twin of ``quorumlab.core.check._search`` (same API and results).

This is Wing & Gong's search with Lowe's memoization, as Porcupine and
Knossos run it. The entries of the ok operations (a call and a return
each) sit in a linked list in time order. At each node the search tries,
in order, the calls that come before the first return: such an operation
may take effect now. If the model accepts it and the node (set of
operations taken, state) is new, the operation is lifted out of the list
and the search goes on; when the first return is reached with nothing left
to try, that operation can no longer take effect in time, and the search
backs up. An operation is a few small ints (see kv_model.encode); values
are interned (0 is absent).

Nodes are remembered as 128-bit fingerprints: each operation has a random
key, the set of taken operations is the XOR of their keys (updated in O(1)
per step), and the state's key is XORed in. Two different nodes share a
fingerprint with probability about N²/2^129 for N nodes (1e-20 at 10^9
nodes); a shared fingerprint could only hide a linearization, never invent one.

``info`` operations (outcome unknown) have a call and no return: they may
take effect at any time after their call, or never. An info put or delete
is a jump, at any moment after its call, to its value. A value some
operation looks at (a get or put returned it, a cas expected it) is
*precious*: a jump to it uses up one of its writers, and the writers used
are part of the node, so this is exact. Any other value is *garbage*: only
a cas that failed or a delete that found something can tell it is there,
and then any garbage value does. Jumps to garbage are not counted (a
relaxation: if the search finds no order, there is none), and all garbage
values are one state, ANY ("a value nobody looks at, or one about to be
named"), so a node never tells them apart however many info operations are
open. From ANY a look at a precious value names it and uses up its writer.
quorumlab.core.check.kv_search then gives each garbage jump its own writer, or runs
the exact search. An info cas is a move of its own, used up like a writer,
tried only from its expected value and only if a waiting call accepts the
value it writes (or another info cas expects it). Moves by info operations
are tried after the ok operations, and a jump never follows another info
move (the jump alone would have done it with less used up).

An ok operation that cannot change the state (a get, a cas that failed, a
delete that found nothing, a put of the value it found) and is accepted in
a concrete state is taken at once and alone: any order that works from here
still works with it moved to the front, as nothing before its call is
pending and it changes nothing. If that branch fails, so does the node.
This removes most of the branching over concurrent reads.
"""
from __future__ import annotations

import time
from typing import Sequence

OK, VIOLATION, TIMEOUT = 0, 1, 2
PUT, GET, DELETE, CAS = 1, 2, 3, 4
ANY = -1
"""Output code: not observed (an info operation); the step accepts any state."""
PRESENT = -2
"""Output code of ``delete -> True``: the key held some value."""
JUMP = -1
"""In an order: the state jumped to ANY (an info put or delete of a garbage value took effect)."""
CHECK_EVERY = 4096
"""Loop turns between two looks at the clock."""

_M64 = (1 << 64) - 1
_NIL = -1
_START, _SWAPS, _PINS, _DEAD = -2, 0, 1, 2
_FORCED = -2  # in a frame's writer column: this move was the only one its node had to try


def splitmix64(x: int) -> int:
    """SplitMix64's output function: a well-mixed 64-bit value for each integer."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def op_key(i: int) -> int:
    """Operation ``i``'s 128-bit key."""
    return splitmix64(2 * i) << 64 | splitmix64(2 * i + 1)


def state_key(s: int) -> int:
    """State ``s``'s 128-bit key (from a range of inputs the operation keys never use)."""
    return splitmix64((1 << 62) + 2 * s) << 64 | splitmix64((1 << 62) + 2 * s + 1)


def kv_step(s: int, code: int, a: int, b: int, out: int) -> int:
    """The key-value register's step on interned values: the next state, or -1 if impossible."""
    if code == PUT:
        return a if out == ANY or out == s else -1
    if code == GET:
        return s if out == ANY or out == s else -1
    if code == DELETE:
        return 0 if out == ANY or out == s or (out == PRESENT and s != 0) else -1
    if s == a:
        return b if out == ANY or out == 1 else -1
    return s if out == ANY or out == 0 else -1


def check_events(events: Sequence[int], is_info: Sequence[int]) -> int:
    """Validate the entry list; returns the number of ok operations (each needs a call, then a return)."""
    n = len(is_info)
    seen = bytearray(2 * n)
    n_real = 0
    for e in events:
        if not 0 <= e < 2 * n or seen[e]:
            raise ValueError(f"entry {e} is out of range or repeated")
        if e & 1:
            if is_info[e >> 1] or not seen[e - 1]:
                raise ValueError(f"operation {e >> 1}: a return without an earlier call, or a return for an info op")
            n_real += 1
        seen[e] = 1
    for i in range(n):
        if not seen[2 * i] or (not is_info[i] and not seen[2 * i + 1]):
            raise ValueError(f"operation {i} is missing its call or return")
    return n_real


def search_kv(events: Sequence[int], is_info: Sequence[int], code: Sequence[int], a: Sequence[int],
              b: Sequence[int], out: Sequence[int], init: int, deadline: float) -> tuple[int, list[int], int, int]:
    """Search for a linearization; returns (status, order, stuck, steps).

    ``events``: entries in time order, ``2*i`` the call and ``2*i+1`` the
    return of operation ``i`` (info operations have no return). ``init``:
    the initial state. ``deadline``: ``time.monotonic()`` value to give up
    at (0: never). ``order``: the operations in the order they took effect
    (OK), or the longest prefix found (VIOLATION, TIMEOUT), with JUMP where
    the state jumped to ANY. ``stuck``: the operation that could not take
    effect before it returned, right after that prefix (-1 for OK).
    ``steps``: the moves tried.
    """
    n = len(is_info)
    n_real = check_events(events, is_info)
    if n_real == 0:
        return OK, [], -1, 0
    code, a, b, out, is_info = list(code), list(a), list(b), list(out), list(is_info)
    if len(code) != n or len(a) != n or len(b) != n or len(out) != n:
        raise ValueError("code, a, b and out need one value per operation")
    if init < 0:
        raise ValueError(f"initial state {init} is not a state id")
    n_states = init + 1
    for i in range(n):
        if not PUT <= code[i] <= CAS:
            raise ValueError(f"operation {i}: code {code[i]} is not PUT, GET, DELETE or CAS")
        if a[i] < 0 or b[i] < 0 or out[i] < PRESENT or (out[i] == ANY and not is_info[i]) or (
                out[i] == PRESENT and code[i] != DELETE):
            raise ValueError(f"operation {i}: a negative value id, an ok operation with no output, "
                             f"or PRESENT for another op than delete")
        n_states = max(n_states, a[i] + 1, b[i] + 1, out[i] + 1)
    jump_to = n_states  # the state id of ANY
    end = len(events)

    readonly = [not is_info[i] and (code[i] == GET or (code[i] == CAS and (out[i] == 0 or a[i] == b[i]))
                                    or (code[i] == DELETE and out[i] == 0) or (code[i] == PUT and a[i] == out[i]))
                for i in range(n)]
    observed = [False] * n_states
    for i in range(n):
        if is_info[i]:
            if code[i] == CAS and a[i] != b[i]:
                observed[a[i]] = True
        elif code[i] == CAS:
            if out[i] == 1:
                observed[a[i]] = True
        elif out[i] >= 0:
            observed[out[i]] = True

    head = 2 * n
    nxt = [_NIL] * (2 * n + 1)
    prv = [_NIL] * (2 * n + 1)
    pos = [0] * (2 * n)
    last = head
    value = [0] * n  # what an info put or delete writes
    garbage = [end] * n_states  # earliest call of a writer of each garbage value
    g1 = g2 = end  # earliest garbage writer's call, and earliest of another value than the first's
    gv1 = -1
    jump_from = end  # earliest call of any writer
    writers: list[list[int]] = [[] for _ in range(n_states)]  # precious value -> its writers, in call order
    used = [0] * n_states
    spent = [False] * n  # info cas ops used up
    pin_first = _NIL  # precious writers in call order
    pin_next = [_NIL] * n
    pin_last = _NIL
    swaps_all = _NIL  # info cas ops that can change the state, in call order: all, and per expected value
    swaps_from = [_NIL] * n_states
    swap_next_all = [_NIL] * n
    swap_next_from = [_NIL] * n
    tail_all = _NIL
    tail_from = [_NIL] * n_states
    for p, e in enumerate(events):
        pos[e] = p
        i = e >> 1
        if not is_info[i]:
            nxt[last], prv[e], last = e, last, e
        elif code[i] == PUT or code[i] == DELETE:
            v = value[i] = a[i] if code[i] == PUT else 0
            jump_from = min(jump_from, p)
            if observed[v]:
                writers[v].append(i)
                if pin_last == _NIL:
                    pin_first = i
                else:
                    pin_next[pin_last] = i
                pin_last = i
                continue
            if garbage[v] == end:
                garbage[v] = p
            if gv1 < 0:
                g1, gv1 = p, v
            elif v != gv1 and g2 == end:
                g2 = p
        elif code[i] == CAS and a[i] != b[i]:
            if tail_all == _NIL:
                swaps_all = i
            else:
                swap_next_all[tail_all] = i
            tail_all = i
            v = a[i]
            if tail_from[v] == _NIL:
                swaps_from[v] = i
            else:
                swap_next_from[tail_from[v]] = i
            tail_from[v] = i

    keys = [op_key(i) for i in range(n)]
    skeys = [state_key(s) for s in range(n_states + 1)]

    def settle(s: int, limit: int) -> int:
        """ANY for a garbage value a writer called before ``limit`` can jump to, else the value itself."""
        return jump_to if s != jump_to and garbage[s] < limit else s

    def writer(v: int, limit: int) -> int:
        """The next unused writer of precious value ``v``, if called before ``limit``; else -1."""
        ws = writers[v]
        k = used[v]
        return ws[k] if k < len(ws) and pos[2 * ws[k]] < limit else -1

    def garbage_besides(v: int, limit: int) -> bool:
        """Can a writer called before ``limit`` jump to a garbage value other than ``v``?"""
        return (g1 < limit and gv1 != v) or g2 < limit

    def from_any(i: int, limit: int) -> tuple[int, int]:
        """Ok operation ``i`` from ANY: (state after it or -1, the writer it uses up or -1)."""
        c, o = code[i], out[i]
        if c == DELETE and o == PRESENT:
            return (0 if garbage_besides(0, limit) else -1), -1
        if c == CAS and o == 0:
            return (jump_to if garbage_besides(a[i], limit) else -1), -1
        w = writer(a[i] if c == CAS else o, limit)
        if w < 0:
            return -1, -1
        return (a[i] if c == PUT else o if c == GET else 0 if c == DELETE else b[i]), w

    def swap_helps(v: int, limit: int) -> bool:
        """Is value ``v`` one a waiting call accepts, or a waiting info cas expects?"""
        e = nxt[head]
        while not e & 1:
            i = e >> 1
            if kv_step(v, code[i], a[i], b[i], out[i]) >= 0:
                return True
            e = nxt[e]
        return swaps_from[v] != _NIL and pos[2 * swaps_from[v]] < limit

    def pins_needed(limit: int) -> bool:
        """Does a waiting call need a precious value where no garbage one will do (then ANY may name one)?"""
        e = nxt[head]
        while not e & 1:
            i = e >> 1
            if ((code[i] == DELETE and out[i] == PRESENT and not garbage_besides(0, limit))
                    or (code[i] == CAS and out[i] == 0 and not garbage_besides(a[i], limit))):
                return True
            e = nxt[e]
        return False

    ret = nxt[head]
    while not ret & 1:
        ret = nxt[ret]
    state = settle(init, pos[ret])
    fp, remaining, steps = 0, n_real, 0
    cache = {skeys[state]}
    stack_op: list[int] = []
    stack_state: list[int] = []
    stack_ret: list[int] = []
    stack_used: list[int] = []
    best_op: list[int] = []
    best_used: list[int] = []
    best_depth, stuck, low = -1, -1, 0
    entry = nxt[head]
    in_main = True
    phase = cursor = _START
    countdown = CHECK_EVERY
    while True:
        countdown -= 1
        if countdown == 0:
            countdown = CHECK_EVERY
            if deadline and time.monotonic() > deadline:
                return TIMEOUT, _order(best_op, best_used), stuck, steps
        if in_main:
            if not entry & 1:
                i = entry >> 1
                steps += 1
                if state == jump_to:
                    s2, w = from_any(i, pos[ret])
                else:
                    s2, w = kv_step(state, code[i], a[i], b[i], out[i]), -1
                if s2 >= 0:
                    r = entry + 1
                    ret2 = ret
                    if r == ret:
                        ret2 = nxt[r]
                        while ret2 != _NIL and not ret2 & 1:
                            ret2 = nxt[ret2]
                    forced = readonly[i] and state != jump_to
                    s2 = settle(s2, pos[ret2] if ret2 != _NIL else end)
                    fp2 = fp ^ keys[i] ^ (keys[w] if w >= 0 else 0)
                    k = fp2 ^ skeys[s2]
                    if k not in cache:
                        cache.add(k)
                        stack_op.append(i)
                        stack_state.append(state)
                        stack_ret.append(ret)
                        stack_used.append(_FORCED if forced else w)
                        if w >= 0:
                            used[value[w]] += 1
                        state, fp, ret = s2, fp2, ret2
                        nxt[prv[entry]] = nxt[entry]
                        prv[nxt[entry]] = prv[entry]
                        nxt[prv[r]] = nxt[r]
                        if nxt[r] != _NIL:
                            prv[nxt[r]] = prv[r]
                        remaining -= 1
                        if remaining == 0:
                            return OK, _order(stack_op, stack_used), -1, steps
                        entry = nxt[head]
                        continue
                    if forced:
                        in_main, phase = False, _DEAD
                        continue
                entry = nxt[entry]
                continue
            in_main, phase = False, _START
            continue
        limit = pos[ret]
        if phase == _START:
            phase = _SWAPS
            cursor = swaps_all if state == jump_to else swaps_from[state]
            after_info = stack_op and stack_op[-1] >= 0 and is_info[stack_op[-1]]
            if state != jump_to and jump_from < limit and not after_info:
                steps += 1
                k = fp ^ skeys[jump_to]
                if k not in cache:
                    cache.add(k)
                    stack_op.append(JUMP)
                    stack_state.append(state)
                    stack_ret.append(ret)
                    stack_used.append(-1)
                    state, in_main, entry = jump_to, True, nxt[head]
            continue
        if phase == _SWAPS:
            if cursor != _NIL and pos[2 * cursor] < limit:
                i = cursor
                cursor = swap_next_all[i] if state == jump_to else swap_next_from[i]
                if spent[i]:
                    continue
                w = writer(a[i], limit) if state == jump_to else -1
                if state == jump_to and w < 0:
                    continue
                steps += 1
                s2 = settle(b[i], limit)
                if s2 != jump_to and swap_helps(s2, limit):
                    fp2 = fp ^ keys[i] ^ (keys[w] if w >= 0 else 0)
                    k = fp2 ^ skeys[s2]
                    if k not in cache:
                        cache.add(k)
                        stack_op.append(i)
                        stack_state.append(state)
                        stack_ret.append(ret)
                        stack_used.append(w)
                        if w >= 0:
                            used[a[i]] += 1
                        spent[i] = True
                        state, fp, in_main, entry = s2, fp2, True, nxt[head]
                continue
            phase = _PINS
            cursor = pin_first if state == jump_to and pins_needed(limit) else _NIL
            continue
        if phase == _PINS and cursor != _NIL and pos[2 * cursor] < limit:
            w = cursor
            cursor = pin_next[w]
            v = value[w]
            if writer(v, limit) != w:
                continue
            steps += 1
            fp2 = fp ^ keys[w]
            k = fp2 ^ skeys[v]
            if k not in cache:
                cache.add(k)
                stack_op.append(w)
                stack_state.append(state)
                stack_ret.append(ret)
                stack_used.append(w)
                used[v] += 1
                state, fp, in_main, entry = v, fp2, True, nxt[head]
            continue
        depth = n_real - remaining
        if depth > best_depth:
            best_op[low:] = stack_op[low:]
            best_used[low:] = stack_used[low:]
            best_depth, stuck, low = depth, ret >> 1, len(stack_op)
        if not stack_op:
            return VIOLATION, _order(best_op, best_used), stuck, steps
        i = stack_op.pop()
        state = stack_state.pop()
        ret = stack_ret.pop()
        w = stack_used.pop()
        low = min(low, len(stack_op))
        if w >= 0:
            used[value[w]] -= 1
            fp ^= keys[w]
        if i == JUMP:
            phase, cursor = _SWAPS, swaps_from[state]
        elif is_info[i] and code[i] == CAS:
            spent[i] = False
            fp ^= keys[i]
            phase, cursor = _SWAPS, swap_next_all[i] if state == jump_to else swap_next_from[i]
        elif is_info[i]:
            phase, cursor = _PINS, pin_next[i]
        else:
            c, r = 2 * i, 2 * i + 1
            fp ^= keys[i]
            nxt[prv[r]] = r
            if nxt[r] != _NIL:
                prv[nxt[r]] = r
            nxt[prv[c]] = c
            prv[nxt[c]] = c
            remaining += 1
            if w == _FORCED:
                phase = _DEAD
            else:
                in_main, entry = True, nxt[c]


def _order(ops: list[int], writers: list[int]) -> list[int]:
    """The path as operations in the order they took effect, each writer used up just before its reader."""
    order = []
    for op, w in zip(ops, writers):
        if w >= 0 and w != op:
            order.append(w)
        order.append(op)
    return order
