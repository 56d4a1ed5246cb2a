"""A probe algorithm for the runtime's own tests (loaded in node processes as ``tests.runtime.algos:Prober``)."""
from __future__ import annotations

import dataclasses

from quorumlab.core import AlgorithmConfig, ElectionAlgorithm, Role, message_type, setting

ALGO_ID = 0xFC41
Probe = message_type("RuntimeTestProbe", ALGO_ID, 1, [("n", "u64")])


@dataclasses.dataclass(frozen=True)
class ProberConfig(AlgorithmConfig):
    tick_ms: int = setting(40, 1, 60_000, "ms", "delay of the one-shot 'tick' timer armed at start")


class Prober(ElectionAlgorithm):
    """Bumps and persists a counter at start, then sends it to every peer; notes timers, messages and hints.

    Node 1 calls itself leader so LocalCluster.wait_for_leader works. Firing the
    'probe' timer (control ``fire``) broadcasts another Probe.
    """

    name = "prober"
    description = "runtime test fixture: persist-then-send at start, notes for every event"
    algo_id = ALGO_ID
    Config = ProberConfig
    messages = (Probe,)

    def on_start(self, now: int) -> None:
        self.started_at = now
        self.term = int(self.storage.read().get("term", 0)) + 1
        self.leader = 1
        if self.id == 1:
            self.role = Role.LEADER
        self.persist({"term": self.term})
        for peer in self.peers:
            self.send(peer, Probe(term=self.term, n=1))
        self.set_timer("tick", self.config.tick_ms)

    def on_timer(self, timer: str, now: int) -> None:
        if timer == "probe":
            self.broadcast(Probe(term=self.term, n=2))
        self.note("ticked", timer=timer, after_ms=now - self.started_at)

    def on_message(self, msg, now: int) -> None:
        self.note("probed", src=msg.src, n=msg.n, term=msg.term)

    def on_peer_up(self, peer: int, now: int) -> None:
        self.note("hint_up", peer=peer)

    def on_peer_down(self, peer: int, now: int) -> None:
        self.note("hint_down", peer=peer)
