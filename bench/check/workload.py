"""The random key-value workload: what each client calls next, and what became of it (ok, fail or info).

Every client draws from its own seeded RNG, so a seed fixes the calls each
client makes (not the interleaving, on real processes). Puts and cas write
values no other call writes (``<client>.<n>``), so a read names the one write
it saw. A cas expects the last value its client saw on that key (or absence),
so some succeed.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable

from quorumlab.core.check import FAIL, INFO, OK
from quorumlab.core.client import ClientError
from quorumlab.core.kv import CAS_MISMATCH, NOT_FOUND, OPS, REUSED, Command, Result
from quorumlab.core.kv import OK as DONE

MIX = (("get", 40), ("put", 30), ("cas", 20), ("delete", 10))
"""Operation kinds and their weights (percent)."""


@dataclass(frozen=True, slots=True)
class Call:
    """One operation a client is about to invoke: ``op(key, *args)`` as histories record it."""

    op: str
    key: str
    args: tuple = ()


class ClientWorkload:
    """The calls of one client: seeded by (run seed, client), over ``keys`` keys ``k0``, ``k1``, ..."""

    def __init__(self, client: int, seed: int, keys: int) -> None:
        if keys < 1:
            raise ValueError(f"the workload needs at least 1 key, got {keys}")
        self.client = client
        self.rng = random.Random(f"quorumlab-check:{seed}:{client}")
        self.keys = keys
        self.count = 0
        self.seen: dict[str, str | None] = {}
        self._ops = [op for op, _ in MIX]
        self._weights = [w for _, w in MIX]

    def next(self) -> Call:
        """The next call: a random kind on a random key, writing a value never written before."""
        self.count += 1
        op = self.rng.choices(self._ops, self._weights)[0]
        key = f"k{self.rng.randrange(self.keys)}"
        value = f"{self.client}.{self.count}"
        if op == "put":
            return Call(op, key, (value,))
        if op == "cas":
            return Call(op, key, (self.seen.get(key), value))
        return Call(op, key)

    def saw(self, call: Call, result: Any) -> None:
        """Remember what an ok ``call`` says the key holds now (for the expected value of later cas)."""
        if call.op == "get":
            self.seen[call.key] = result
        elif call.op == "put" or (call.op == "cas" and result is True):
            self.seen[call.key] = call.args[-1]
        elif call.op == "delete":
            self.seen[call.key] = None


CALLS: dict[str, Callable[..., Any]] = {
    "get": lambda client, key, reads="linearizable": client.get(key, consistency=reads),
    "put": lambda client, key, value: client.put(key, value),
    "delete": lambda client, key: client.delete(key),
    "cas": lambda client, key, expected, new: client.cas(key, expected, new),
}
"""How each call runs on a ``quorumlab.core.client.KVClient``; a get reads with the run's consistency (spec.READS)."""


def perform(client: Any, call: Call, reads: str = "linearizable") -> Any:
    """Run ``call`` on ``client`` (a KVClient), a get with consistency ``reads``; its result as the key-value
    model expects it."""
    if call.op == "get":
        return CALLS["get"](client, call.key, reads)
    return CALLS[call.op](client, call.key, *call.args)


def outcome_of(error: BaseException) -> str:
    """The history outcome of a call that raised ``error``: ``fail`` only when the command was certainly not
    applied (``ClientError.applied is False``); anything else (a timeout, a lost connection, leadership lost,
    applied with its result lost, an unexpected error) is ``info``: it may have taken effect."""
    if isinstance(error, ClientError) and error.applied is False:
        return FAIL
    return INFO


def command(call: Call, client: int, seq: int) -> bytes:
    """``call`` as the key-value store's command bytes from session (``client``, ``seq``), as KVClient sends it."""
    args = call.args
    value = args[-1] if call.op in ("put", "cas") else ""
    expected = args[0] if call.op == "cas" else None
    return Command(client, seq, OPS[call.op], call.key.encode(), value.encode(),
                   None if expected is None else expected.encode()).encode()


def answer(call: Call, raw: bytes) -> tuple[str, Any]:
    """The outcome and result a client reads from the store's encoded result ``raw``, as KVClient reads it:
    a reused sequence number was not applied (``fail``); a status it cannot interpret is ``info``."""
    result = Result.decode(raw)
    if result.status not in (DONE, NOT_FOUND, CAS_MISMATCH):
        return (FAIL if result.status == REUSED else INFO), None
    if call.op in ("delete", "cas"):
        return OK, result.status == DONE
    return OK, result.value
