"""A third-party plugin for bench tests: randomized timeouts and one vote per term, without a log.

It lives outside quorumlab and is found only through its ``quorumlab.algorithms``
entry point (the dist-info beside it), the way a package installed from PyPI is.
"""
from __future__ import annotations

import dataclasses

from quorumlab.core import AlgorithmConfig, ElectionAlgorithm, Role, message_type, setting
from quorumlab.core.quorum import WON, VoteTally

ALGO_ID = 0xFE10
Ask = message_type("PocketAsk", ALGO_ID, 1, [])
Answer = message_type("PocketAnswer", ALGO_ID, 2, [("granted", "bool")])
Beat = message_type("PocketBeat", ALGO_ID, 3, [])


@dataclasses.dataclass(frozen=True)
class PocketConfig(AlgorithmConfig):
    timeout_min_ms: int = setting(150, 1, 60_000, "ms", "shortest silence before a node stands")
    timeout_max_ms: int = setting(300, 1, 60_000, "ms", "longest silence before a node stands")
    beat_ms: int = setting(50, 1, 60_000, "ms", "leader heartbeat period")


class PocketVote(ElectionAlgorithm):
    """Followers stand after a random silence; one vote per term; a majority of votes leads."""

    name = "pocketvote"
    description = "fixture plugin: random timeouts, one vote per term, majority wins"
    algo_id = ALGO_ID
    Config = PocketConfig
    messages = (Ask, Answer, Beat)
    detection_timer = "stand"

    @classmethod
    def detection_config(cls, detect_min_ms: int, detect_max_ms: int) -> dict[str, int]:
        """The silence timeout spans the detection range; heartbeats come three times per minimum."""
        return {"timeout_min_ms": detect_min_ms, "timeout_max_ms": detect_max_ms, "beat_ms": max(1, detect_min_ms // 3)}

    def on_start(self, now):
        state = self.storage.read()
        self.term = state.get("term", 0)
        self.voted_for = state.get("voted_for")
        self.tally = None
        self._arm()

    def _arm(self):
        self.set_timer("stand", self.rng.randint(self.config.timeout_min_ms, self.config.timeout_max_ms))

    def _save(self):
        self.persist({"term": self.term, "voted_for": self.voted_for})

    def on_timer(self, timer, now):
        if timer == "beat" and self.role == Role.LEADER:
            self.broadcast(Beat(term=self.term))
            self.set_timer("beat", self.config.beat_ms)
        elif timer == "stand" and self.role != Role.LEADER:
            self.term += 1
            self.role, self.leader, self.voted_for = Role.CANDIDATE, None, self.id
            self._save()
            self.note("election_started", term=self.term)
            self.tally = VoteTally(self.voters)
            self.tally.record(self.id, True)
            self.broadcast(Ask(term=self.term))
            self._arm()

    def on_message(self, msg, now):
        if msg.term > self.term:
            if self.role == Role.CANDIDATE:
                self.note("election_lost", term=self.term, reason="higher term")
            self.term, self.voted_for, self.role, self.leader = msg.term, None, Role.FOLLOWER, None
            self._save()
        if type(msg) is Ask:
            granted = msg.term == self.term and self.voted_for in (None, msg.src)
            if granted:
                self.voted_for = msg.src
                self._save()
                self._arm()
            self.send(msg.src, Answer(term=self.term, granted=granted))
        elif type(msg) is Answer:
            if self.role == Role.CANDIDATE and msg.term == self.term and self.tally.record(msg.src, msg.granted) == WON:
                self.role, self.leader = Role.LEADER, self.id
                self.note("election_won", term=self.term)
                self.cancel_timer("stand")
                self.broadcast(Beat(term=self.term))
                self.set_timer("beat", self.config.beat_ms)
        elif type(msg) is Beat and msg.term == self.term:
            if self.role == Role.CANDIDATE:
                self.note("election_lost", term=self.term, reason="another leader")
            self.role, self.leader = Role.FOLLOWER, msg.src
            self._arm()
