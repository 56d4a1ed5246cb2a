"""Raft (registered as the ``raft`` plugin): node, config, messages, durable log, observers, key-value store."""
from algorithms.raft.config import RaftConfig
from algorithms.raft.log import Entry, RaftLog
from algorithms.raft.messages import AppendEntries, AppendEntriesResponse, RequestVote, RequestVoteResponse
from algorithms.raft.node import ELECTION, FLUSH, HEARTBEAT, Raft
from algorithms.raft.observers import (
    CommittedNeverLost,
    LeaderCompleteness,
    LogMatching,
    StateMachineSafety,
    TermNeverDecreases,
    VoteOnce,
    election_observers,
    replication_observers,
)

__all__ = [
    "ELECTION",
    "FLUSH",
    "HEARTBEAT",
    "AppendEntries",
    "AppendEntriesResponse",
    "CommittedNeverLost",
    "Entry",
    "LeaderCompleteness",
    "LogMatching",
    "Raft",
    "RaftConfig",
    "RaftLog",
    "RequestVote",
    "RequestVoteResponse",
    "StateMachineSafety",
    "TermNeverDecreases",
    "VoteOnce",
    "election_observers",
    "replication_observers",
]
