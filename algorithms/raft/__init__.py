"""Raft (registered as the ``raft`` plugin): node, config, messages, durable log, observers, key-value store."""
from quorumlab.algorithms.raft.config import RaftConfig
from quorumlab.algorithms.raft.log import Entry, RaftLog
from quorumlab.algorithms.raft.messages import (
    AppendEntries,
    AppendEntriesResponse,
    InstallSnapshot,
    InstallSnapshotResponse,
    PreVote,
    PreVoteResponse,
    ReadIndex,
    ReadIndexResponse,
    RequestVote,
    RequestVoteResponse,
    TimeoutNow,
)
from quorumlab.algorithms.raft.node import CHECK_QUORUM, COMPACT, ELECTION, FLUSH, HEARTBEAT, TRANSFER, Raft
from quorumlab.algorithms.raft.observers import (
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
    "COMPACT",
    "ELECTION",
    "FLUSH",
    "HEARTBEAT",
    "TRANSFER",
    "TimeoutNow",
    "AppendEntries",
    "AppendEntriesResponse",
    "CommittedNeverLost",
    "Entry",
    "InstallSnapshot",
    "InstallSnapshotResponse",
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
