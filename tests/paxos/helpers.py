"""Drive one Paxos node message by message (no simulator); quorumlab.core.testing reads the effects."""
from __future__ import annotations

import random

from quorumlab.core.effects import Broadcast, Persist, Send
from quorumlab.core.storage import MemoryStorage

from quorumlab.algorithms.paxos import Paxos, PaxosConfig


def make_node(node_id: int = 1, voters: tuple[int, ...] = (1, 2, 3), storage: MemoryStorage | None = None,
              now: int = 0, seed: int = 0, **config) -> tuple[Paxos, list]:
    """A started node and the effects of its start."""
    node = Paxos(node_id, voters, PaxosConfig(**config), storage if storage is not None else MemoryStorage(), random.Random(seed))
    return node, node.start(now)


def persist_index(effects: list) -> int:
    return next(i for i, e in enumerate(effects) if type(e) is Persist)


def send_index(effects: list, cls) -> int:
    return next(i for i, e in enumerate(effects) if type(e) in (Send, Broadcast) and type(e.msg) is cls)
