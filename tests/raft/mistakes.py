"""The deliberately broken raft variants, by the names the stories use (``cluster raft 3 mistake=<name>``).

The variants themselves live in algorithms/raft/mistakes.py (``bench web`` offers the track's five).
"""
from __future__ import annotations

from quorumlab.algorithms.raft.mistakes import (
    CampaignsAtEveryDisconnect,
    CommitsByCountingReplicas,
    ForgetsToResetTimerOnHeartbeat,
    KeepsTermAndVoteInMemory,
    RepliesBeforeSteppingDown,
    VotesForAnyLog,
)
from quorumlab.algorithms.raft.node import Raft

MISTAKES: dict[str, type[Raft]] = {
    "forgets-to-reset-timer-on-heartbeat": ForgetsToResetTimerOnHeartbeat,
    "votes-for-any-log": VotesForAnyLog,
    "keeps-term-and-vote-in-memory": KeepsTermAndVoteInMemory,
    "replies-before-stepping-down": RepliesBeforeSteppingDown,
    "commits-by-counting-replicas": CommitsByCountingReplicas,
    "campaigns-at-every-disconnect": CampaignsAtEveryDisconnect,
}
