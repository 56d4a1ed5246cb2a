"""A hand-driven Raft cluster for replication tests: the test decides which messages arrive, and when.

Unlike the simulator, nothing moves on its own: ``pump`` delivers queued messages
among the nodes it is given (new replies included) until none is left, messages
to or from a down node are lost, and a node's zero-delay flush timer fires as soon
as it is armed. The cluster plays the simulator's part for the safety observers
(``ids``, ``node``, ``fail``), so every Figure 3 invariant is checked after each step.
"""
from __future__ import annotations

import random
from typing import Any, Iterable

from algorithms.raft import ELECTION, FLUSH, Raft, RaftConfig, replication_observers
from core.algorithm import Role
from core.effects import Apply, Broadcast, Persist, Send, SetTimer
from core.errors import InvariantViolation
from core.storage import MemoryStorage

QUIET = RaftConfig(election_timeout_min=10_000, election_timeout_max=20_000, heartbeat_interval=1_000)
"""Timers far away: only the test starts elections."""


class Cluster:
    """Nodes 1..n of ``cls`` with simulated disks, a message queue and the replication observers."""

    def __init__(self, n: int, cls: type[Raft] = Raft, config: RaftConfig = QUIET) -> None:
        self.ids = tuple(range(1, n + 1))
        self.cls, self.config = cls, config
        self.storage = {i: MemoryStorage() for i in self.ids}
        self.nodes: dict[int, Raft] = {}
        self.up: set[int] = set()
        self.queue: list[tuple[int, int, Any]] = []
        self.applied: dict[int, list[Apply]] = {i: [] for i in self.ids}
        self.observers = replication_observers()
        self.now = 0
        self.last_node: int | None = None
        for i in self.ids:
            self.restart(i)

    # the observers' view of a simulation
    def node(self, i: int) -> Raft | None:
        return self.nodes.get(i)

    def fail(self, message: str) -> None:
        raise InvariantViolation(message)

    def run(self, i: int, effects: list) -> None:
        """Carry out node ``i``'s effects the way a runtime would."""
        for e in effects:
            t = type(e)
            if t is Send:
                self.queue.append((i, e.to, e.msg))
            elif t is Broadcast:
                self.queue.extend((i, p, e.msg) for p in self.nodes[i].peers)
            elif t is Persist:
                self.storage[i].flush()
            elif t is Apply:
                self.applied[i].append(e)
            for o in self.observers:
                o.on_effect(self, i, e)
        self.last_node = i
        for o in self.observers:
            o.after_event(self)
        if any(type(e) is SetTimer and e.name == FLUSH for e in effects) and i in self.up:
            self.run(i, self.nodes[i].fire(FLUSH, self.now))

    def restart(self, i: int) -> None:
        """Start node ``i`` (again) from its disk."""
        self.nodes[i] = self.cls(i, self.ids, self.config, self.storage[i], random.Random(i), 1)
        self.up.add(i)
        self.applied[i] = []
        self.run(i, self.nodes[i].start(self.now))

    def crash(self, i: int) -> None:
        """Node ``i`` stops; what its disk had not flushed is gone."""
        self.up.discard(i)
        self.storage[i].crash()

    def propose(self, i: int, command: bytes) -> None:
        self.run(i, self.nodes[i].propose(command, self.now))

    def elect(self, i: int, voters: Iterable[int]) -> None:
        """Node ``i`` times out and campaigns (again, up to 3 times, if it meets a newer term); only ``voters`` hear it."""
        for _ in range(3):
            self.run(i, self.nodes[i].fire(ELECTION, self.now))
            self.pump({i, *voters}, only_types=("RequestVote", "RequestVoteResponse"))
            if self.nodes[i].role == Role.LEADER:
                return
        assert self.nodes[i].role == Role.LEADER, f"node {i} did not win"

    def pump(
        self, among: Iterable[int], only_types: tuple[str, ...] | None = None, limit: int | None = None
    ) -> int:
        """Deliver queued messages between nodes of ``among`` (at most ``limit``) until none is left. Returns count."""
        among = set(among)
        delivered = 0
        for _ in range(100_000 if limit is None else limit):
            k = next(
                (
                    k
                    for k, (s, d, m) in enumerate(self.queue)
                    if s in among and d in among and (only_types is None or m.name in only_types)
                ),
                None,
            )
            if k is None:
                return delivered
            src, dst, m = self.queue.pop(k)
            if src in self.up and dst in self.up:
                self.now += 1
                self.run(dst, self.nodes[dst].receive(m, self.now))
                delivered += 1
        if limit is None:
            raise AssertionError("pump did not settle")
        return delivered

    def drop_all(self) -> None:
        """Lose every message in flight."""
        self.queue.clear()

    def heartbeat(self, i: int) -> None:
        """Leader ``i``'s heartbeat interval passes."""
        from algorithms.raft import HEARTBEAT

        self.run(i, self.nodes[i].fire(HEARTBEAT, self.now))

    def terms(self, i: int) -> list[int]:
        log = self.nodes[i].log
        return [log.term_at(k) for k in range(1, log.last_index + 1)]
