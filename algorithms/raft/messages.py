"""Raft's four messages (algo_id 1). The term travels in every message header.

AppendEntries already has the fields log replication needs (prevLogIndex,
prevLogTerm, entries, leaderCommit) and its response carries the follower's
match index and a hint for backing up, so replication can fill them in
without a wire change.
"""
from __future__ import annotations

from core.messages import message_type

ALGO_ID = 1

RequestVote = message_type(
    "RequestVote", ALGO_ID, 1, [("last_log_index", "u64"), ("last_log_term", "u64")]
)
"""A candidate asks for a vote in its term (header), describing how up to date its log is."""

RequestVoteResponse = message_type("RequestVoteResponse", ALGO_ID, 2, [("granted", "bool")])
"""The voter's answer; its header term is the voter's current term, so a stale candidate learns."""

AppendEntries = message_type(
    "AppendEntries",
    ALGO_ID,
    3,
    [("prev_log_index", "u64"), ("prev_log_term", "u64"), ("entries", "entries"), ("leader_commit", "u64")],
)
"""Leader to follower: heartbeat (no entries) and, later, replication."""

AppendEntriesResponse = message_type(
    "AppendEntriesResponse",
    ALGO_ID,
    4,
    [("success", "bool"), ("match_index", "u64"), ("hint_index", "u64")],
)
"""success: the follower's log matched at prev_log_index; match_index: the last index known to
match the leader (on success); hint_index: the follower's last log index (to back up on failure)."""

ALL = (RequestVote, RequestVoteResponse, AppendEntries, AppendEntriesResponse)
