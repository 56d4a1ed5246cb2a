"""Drive one Raft node by hand, etcd style: build messages, feed them, read back the exact effects."""
from __future__ import annotations

import random
from typing import Iterable

from quorumlab.algorithms.raft import ELECTION, Raft, RaftConfig, RequestVoteResponse
from quorumlab.algorithms.raft.durable import LOG_FILE, encode_entry
from quorumlab.core.algorithm import Role
from quorumlab.core.effects import Broadcast, Persist, Send
from quorumlab.core.storage import MemoryStorage
from quorumlab.core.testing import arrive

CLUSTER = 7


def make_node(
    node_id: int = 1,
    voters: Iterable[int] = (1, 2, 3),
    *,
    term: int = 0,
    voted_for: int | None = None,
    log_terms: Iterable[int] = (),
    storage: MemoryStorage | None = None,
    config: RaftConfig | None = None,
    cls: type[Raft] = Raft,
    seed: int = 0,
) -> tuple[Raft, list]:
    """A started node with the given durable term/vote and log; returns (node, effects of start)."""
    storage = storage if storage is not None else MemoryStorage()
    if term or voted_for is not None:
        storage.write({"term": term, "voted_for": voted_for})
        storage.flush()
    store = storage.open_log(LOG_FILE)
    store.append(encode_entry(t, b"") for t in log_terms)
    store.flush()
    node = cls(node_id, tuple(voters), config or RaftConfig(), storage, random.Random(seed), CLUSTER)
    return node, node.start(0)


def persisted_before_sends(effects: list) -> bool:
    """Some Persist comes before the first message sent (durable before visible)."""
    sends = [i for i, e in enumerate(effects) if type(e) in (Send, Broadcast)]
    persists = [i for i, e in enumerate(effects) if type(e) is Persist]
    return bool(persists) and (not sends or persists[0] < sends[0])


def elect(node: Raft, now: int = 0) -> list:
    """Make ``node`` a candidate and grant it every other vote until it leads; returns the last effects."""
    node.fire(ELECTION, now)
    out: list = []
    for peer in node.peers:
        if node.role == Role.LEADER:
            break
        out = node.receive(arrive(RequestVoteResponse, peer, node.id, node.term, granted=True), now)
    return out
