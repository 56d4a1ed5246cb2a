"""Raft leader election (registered as the ``raft`` plugin): node, config, messages, log, observers."""
from algorithms.raft.config import RaftConfig
from algorithms.raft.log import Entry, RaftLog
from algorithms.raft.messages import AppendEntries, AppendEntriesResponse, RequestVote, RequestVoteResponse
from algorithms.raft.node import ELECTION, HEARTBEAT, Raft
from algorithms.raft.observers import TermMonotonic, VoteOnce, election_observers

__all__ = [
    "ELECTION",
    "HEARTBEAT",
    "AppendEntries",
    "AppendEntriesResponse",
    "Entry",
    "Raft",
    "RaftConfig",
    "RaftLog",
    "RequestVote",
    "RequestVoteResponse",
    "TermMonotonic",
    "VoteOnce",
    "election_observers",
]
