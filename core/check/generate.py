"""Realistic linearizable key-value histories, for benchmarks and tests of the checker.

A discrete-event simulation: each client has one operation outstanding at a
time, with random latency and think time; each operation takes effect at a
random instant inside its call (a few timed-out ones take effect later, or
never); a real sequential store applies them in that order and the clients
record what it answered. So the history is linearizable by construction.
"""
from __future__ import annotations

import heapq
import random

from quorumlab.core.check.history import FAIL, INFO, OK, Operation

MIX = (("get", 0.5), ("put", 0.3), ("cas", 0.15), ("delete", 0.05))
"""The default share of each operation."""


def generate(n_ops: int, keys: int = 10, clients: int = 8, info_rate: float = 0.03, fail_rate: float = 0.01,
             seed: int = 0, latency_ns: float = 500_000.0) -> list[Operation]:
    """``n_ops`` operations by ``clients`` clients over ``keys`` keys; times in ns.

    A put writes a value never written before; a cas expects the value its
    client last saw for that key (so some fail); a delete answers whether
    the key existed. ``info_rate`` of the operations time out (half of
    those take effect, possibly after the timeout), ``fail_rate`` fail.
    """
    rng = random.Random(seed)
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    store: dict[int, int] = {}
    seen: dict[tuple[int, int], int | None] = {}
    ops: list[Operation | None] = []
    events: list[tuple[float, int, int, int]] = []  # (time, order, kind, op index)
    pending: dict[int, tuple] = {}
    answers: dict[int, object] = {}
    counter = 0
    next_value = 1
    invoke, apply_, answer = 0, 1, 2
    for c in range(clients):
        heapq.heappush(events, (rng.uniform(0, latency_ns), counter, invoke, c))
        counter += 1
    while events:
        t, _, what, x = heapq.heappop(events)
        if what == invoke:
            if len(ops) >= n_ops:
                continue
            index, client = len(ops), x
            key = rng.randrange(keys)
            kind = rng.choices(kinds, weights)[0]
            if kind == "put":
                args: tuple = (next_value,)
                next_value += 1
            elif kind == "cas":
                args = (seen.get((client, key)), next_value)
                next_value += 1
            else:
                args = ()
            done = t + latency_ns * (0.2 + rng.expovariate(1.0))
            roll = rng.random()
            outcome = INFO if roll < info_rate else FAIL if roll < info_rate + fail_rate else OK
            ops.append(None)
            pending[index] = (client, kind, key, args, t, done, outcome)
            if outcome == OK or (outcome == INFO and rng.random() < 0.5):
                late = done if outcome == OK else done + latency_ns * rng.expovariate(1.0)
                heapq.heappush(events, (rng.uniform(t, late), counter, apply_, index))
                counter += 1
            heapq.heappush(events, (done, counter, answer, index))
            counter += 1
        elif what == apply_:
            client, kind, key, args, *_ = pending[x]
            answers[x] = _apply(store, kind, key, args)
        else:
            client, kind, key, args, t0, done, outcome = pending[x]
            result = answers.pop(x, None) if outcome == OK else None
            if outcome == OK and kind in ("get", "put"):
                seen[(client, key)] = args[0] if kind == "put" else result
            elif outcome == OK and kind == "cas" and result:
                seen[(client, key)] = args[1]
            ops[x] = Operation(x, client, kind, f"k{key}", args, t0, done, outcome, result)
            heapq.heappush(events, (done + rng.uniform(0, latency_ns / 4), counter, invoke, client))
            counter += 1
    return ops  # type: ignore[return-value]  # every operation was answered


def _apply(store: dict[int, int], kind: str, key: int, args: tuple) -> object:
    """The sequential store: the answer ``kind`` gets, after changing ``store``."""
    old = store.get(key)
    if kind == "get":
        return old
    if kind == "put":
        store[key] = args[0]
        return old
    if kind == "delete":
        store.pop(key, None)
        return old is not None
    if old != args[0]:
        return False
    store[key] = args[1]
    return True
