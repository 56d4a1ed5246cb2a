"""Tiny algorithms that exercise the runtimes without any election logic of interest."""
from __future__ import annotations

from quorumlab.core import AlgorithmConfig, ElectionAlgorithm, Role, message_type, setting
import dataclasses

Beat = message_type("Beat", 0xFF01, 1, [("seq", "u64"), ("payload", "bytes")])


@dataclasses.dataclass(frozen=True)
class BeaconConfig(AlgorithmConfig):
    interval_ms: int = setting(10, 1, 10_000, "ms", "how often every node broadcasts a Beat")


class Beacon(ElectionAlgorithm):
    """Node 1 declares itself leader; every node broadcasts a Beat every interval. For simulator tests."""

    name = "beacon"
    description = "test fixture: every node broadcasts heartbeats; node 1 leads"
    algo_id = 0xFF01
    Config = BeaconConfig
    messages = (Beat,)

    def on_start(self, now):
        self.seq = 0
        self.received = 0
        self.leader = 1
        if self.id == 1:
            self.role = Role.LEADER
        self.set_timer("beat", self.config.interval_ms)

    def on_timer(self, timer, now):
        self.seq += 1
        self.broadcast(Beat(seq=self.seq, payload=b"x" * 8))
        self.set_timer("beat", self.config.interval_ms)

    def on_message(self, msg, now):
        self.received += 1
