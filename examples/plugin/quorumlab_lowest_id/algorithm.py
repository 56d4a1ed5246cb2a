"""The lowest live id leads: a deliberately tiny election algorithm, written as a quorumlab plugin.

Every node broadcasts ``Alive`` every ``interval_ms``. A node considers a peer
live if it heard from it within ``timeout_ms``; it believes the leader is the
lowest id among itself and its live peers. Its term counts the leader changes
it has observed, is persisted, and so only grows, across restarts too. There is
no agreement protocol: during a partition each side picks its own leader, and
two nodes may both lead under the same term number. That is why this plugin
checks only that terms never go back, not one-leader-per-term.
"""
from __future__ import annotations

from quorumlab.core import ElectionAlgorithm, Role
from quorumlab.core.observers import TermNeverDecreases
from quorumlab_lowest_id.config import LowestIdConfig
from quorumlab_lowest_id.messages import ALGO_ID, Alive


class LowestId(ElectionAlgorithm):
    """Heartbeats plus a liveness timeout; the lowest id heard from recently (or this node) leads."""

    name = "lowest"
    description = "example plugin: the lowest live node id leads (heartbeats + timeout, no voting)"
    algo_id = ALGO_ID
    Config = LowestIdConfig
    messages = (Alive,)
    detection_timer = "check"

    @classmethod
    def safety_observers(cls) -> list:
        """Terms never go back (this algorithm promises nothing stronger)."""
        return [TermNeverDecreases()]

    @classmethod
    def detection_config(cls, detect_min_ms: int, detect_max_ms: int) -> dict[str, int]:
        """Centre the liveness timeout in [min, max] and check every half-width.

        A silent leader is declared down between ``timeout_ms - interval_ms`` and
        ``timeout_ms + interval_ms`` after its last heartbeat left (plus the network
        delay), so timeout = (min + max) / 2 and interval = (max - min) / 2 span the range.
        """
        interval = max(1, (detect_max_ms - detect_min_ms) // 2)
        timeout = max(interval + 1, (detect_min_ms + detect_max_ms) // 2)
        return {"interval_ms": interval, "timeout_ms": timeout}

    def on_start(self, now: int) -> None:
        self.term = self.storage.read().get("term", 0)
        self.heard: dict[int, int] = {}
        self.deciding = False  # for the first timeout, only listen: do not claim before hearing the others
        self.broadcast(Alive(term=self.term))
        self.set_timer("beat", self.config.interval_ms)
        self.set_timer("check", self.config.timeout_ms)

    def on_message(self, msg: Alive, now: int) -> None:
        self.heard[msg.src] = now
        if self.deciding:
            self._decide(now)

    def on_timer(self, timer: str, now: int) -> None:
        if timer == "beat":
            self.broadcast(Alive(term=self.term))
            self.set_timer("beat", self.config.interval_ms)
        elif timer == "check":
            self.deciding = True
            self._decide(now)
            self.set_timer("check", self.config.interval_ms)

    def live_peers(self, now: int) -> list[int]:
        """Peers heard from within the timeout."""
        limit = self.config.timeout_ms
        return [p for p, t in self.heard.items() if now - t <= limit]

    def _decide(self, now: int) -> None:
        lowest = min([self.id, *self.live_peers(now)])
        if lowest == self.leader:
            return
        if self.leader is not None:
            self.note("election_started", term=self.term, previous=self.leader)
        self.term += 1
        self.persist({"term": self.term})
        self.leader = lowest
        self.role = Role.LEADER if lowest == self.id else Role.FOLLOWER
        if lowest == self.id:
            self.note("election_won", term=self.term)
