"""A hand-driven Raft cluster for replication tests: quorumlab.core.testing.ManualCluster with raft's conveniences.

Nothing moves on its own: ``deliver`` hands over queued messages among the nodes it is
given (new replies included) until none is left, messages to or from a down node are
lost, and a node's zero-delay flush timer fires as soon as it is armed. The replication
observers check every Figure 3 invariant after each step.
"""
from __future__ import annotations

from typing import Iterable

from quorumlab.algorithms.raft import ELECTION, FLUSH, HEARTBEAT, Raft, RaftConfig, replication_observers
from quorumlab.core.algorithm import Role
from quorumlab.core.testing import ManualCluster

QUIET = RaftConfig(election_timeout_min=10_000, election_timeout_max=20_000, heartbeat_interval=1_000)
"""Timers far away: only the test starts elections."""


class Cluster(ManualCluster):
    """Nodes 1..n of ``cls`` with simulated disks, a message queue and the replication observers."""

    def __init__(self, n: int, cls: type[Raft] = Raft, config: RaftConfig = QUIET) -> None:
        super().__init__(cls, n, config, observers=replication_observers(), auto=(FLUSH,))

    def elect(self, i: int, voters: Iterable[int]) -> None:
        """Node ``i`` times out and campaigns (again, up to 3 times, if it meets a newer term); only ``voters`` hear it."""
        for _ in range(3):
            self.trigger(i, ELECTION)
            self.deliver({i, *voters}, types=("RequestVote", "RequestVoteResponse"))
            if self.nodes[i].role == Role.LEADER:
                return
        assert self.nodes[i].role == Role.LEADER, f"node {i} did not win"

    def heartbeat(self, i: int) -> None:
        """Leader ``i``'s heartbeat interval passes."""
        self.trigger(i, HEARTBEAT)

    def terms(self, i: int) -> list[int]:
        log = self.nodes[i].log
        return [log.term_at(k) for k in range(1, log.last_index + 1)]
