"""Raft (registered as the ``raft`` plugin): node, config, messages, durable log, observers, key-value store."""
from algorithms.raft.config import RaftConfig
from algorithms.raft.log import Entry, RaftLog
from algorithms.raft.messages import (
    AppendEntries,
    AppendEntriesResponse,
    PreVote,
    PreVoteResponse,
    ReadIndex,
    ReadIndexResponse,
    RequestVote,
    RequestVoteResponse,
    TimeoutNow,
)
from algorithms.raft.node import CHECK_QUORUM, ELECTION, FLUSH, HEARTBEAT, TRANSFER, Raft
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
    "CHECK_QUORUM",
    "ELECTION",
    "FLUSH",
    "HEARTBEAT",
    "TRANSFER",
    "TimeoutNow",
    "AppendEntries",
    "AppendEntriesResponse",
    "CommittedNeverLost",
    "Entry",
    "LeaderCompleteness",
    "LogMatching",
    "PreVote",
    "PreVoteResponse",
    "Raft",
    "RaftConfig",
    "RaftLog",
    "ReadIndex",
    "ReadIndexResponse",
    "RequestVote",
    "RequestVoteResponse",
    "StateMachineSafety",
    "TermNeverDecreases",
    "VoteOnce",
    "election_observers",
    "replication_observers",
]
