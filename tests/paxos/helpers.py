"""Drive one Paxos node message by message and read its effects (no simulator)."""
from __future__ import annotations

import random

from core.effects import Broadcast, Note, Persist, Send, SetTimer
from core.storage import MemoryStorage

from algorithms.paxos import Paxos, PaxosConfig


def make_node(node_id: int = 1, voters: tuple[int, ...] = (1, 2, 3), storage: MemoryStorage | None = None,
              now: int = 0, seed: int = 0, **config) -> tuple[Paxos, list]:
    """A started node and the effects of its start."""
    node = Paxos(node_id, voters, PaxosConfig(**config), storage if storage is not None else MemoryStorage(), random.Random(seed))
    return node, node.start(now)


def msg(cls, src: int, dst: int, term: int = 0, **fields):
    """A message of ``cls`` as it would arrive from ``src``."""
    m = cls(term=term, **fields)
    m.cluster, m.src, m.dst = 0, src, dst
    return m


def sent(effects: list, cls=None) -> list:
    """Messages the effects send (unicast or broadcast), optionally only of type ``cls``."""
    out = [e.msg for e in effects if type(e) in (Send, Broadcast)]
    return [m for m in out if cls is None or type(m) is cls]


def notes(effects: list, kind: str) -> list[dict]:
    return [e.data for e in effects if type(e) is Note and e.kind == kind]


def timer(effects: list, name: str) -> int | None:
    """The delay of the last SetTimer(name) among the effects, or None."""
    delays = [e.delay_ms for e in effects if type(e) is SetTimer and e.name == name]
    return delays[-1] if delays else None


def persist_index(effects: list) -> int:
    return next(i for i, e in enumerate(effects) if type(e) is Persist)


def send_index(effects: list, cls) -> int:
    return next(i for i, e in enumerate(effects) if type(e) in (Send, Broadcast) and type(e.msg) is cls)


def run_persists(storage: MemoryStorage, effects: list) -> list:
    """Do what a runtime does with Persist effects (flush), so a later ``storage.crash()`` keeps them."""
    if any(type(e) is Persist for e in effects):
        storage.flush()
    return effects
