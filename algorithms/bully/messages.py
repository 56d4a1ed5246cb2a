"""Bully's wire messages (algo_id 3). The header ``term`` carries the sender's epoch.

ELECTION, ANSWER and COORDINATOR are Garcia-Molina's three messages. HEARTBEAT
is the coordinator's periodic "I am alive", the failure detector the algorithm
assumes. HEARTBEAT_ACK is sent only by the quorum-gated variant, so that a
coordinator can tell whether a majority still hears it.
"""
from __future__ import annotations

from quorumlab.core.messages import Message, message

ALGO_ID = 3


@message(ALGO_ID, 1)
class Election(Message):
    """Sent to every higher id: "I am holding an election; are you alive?"."""


@message(ALGO_ID, 2)
class Answer(Message):
    """A higher id's reply to ELECTION (Garcia-Molina's OK): "I am alive and take over from here"."""


@message(ALGO_ID, 3)
class Coordinator(Message):
    """The winner's announcement to every lower id; ``term`` is the new epoch."""


@message(ALGO_ID, 4)
class Heartbeat(Message):
    """The coordinator's periodic liveness signal to every peer; ``term`` is the epoch it announced."""


@message(ALGO_ID, 5)
class HeartbeatAck(Message):
    """Quorum-gated variant only: a follower's reply to its coordinator's HEARTBEAT or COORDINATOR."""


ALL = (Election, Answer, Coordinator, Heartbeat, HeartbeatAck)
ELECTION_TRAFFIC = ("Election", "Answer", "Coordinator")
"""Message names counted as "messages per election" (heartbeats and acks are failure detection)."""
