"""Raft's messages (algo_id 1): the paper's four plus the optional pre-vote pair. The term travels in every header.

AppendEntries carries Figure 2's prevLogIndex, prevLogTerm, entries and
leaderCommit; its response carries the follower's match index on success and,
on a rejection, the rejected prevLogIndex plus a (hint_index, hint_term) pair
for fast backtracking.
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
"""Leader to follower: replication of entries after (prev_log_index, prev_log_term); a heartbeat has none."""

AppendEntriesResponse = message_type(
    "AppendEntriesResponse",
    ALGO_ID,
    4,
    [
        ("success", "bool"),
        ("match_index", "u64"),
        ("hint_index", "u64"),
        ("hint_term", "u64"),
        ("reject_index", "u64"),
    ],
)
"""success: the follower's log matched at prev_log_index and holds the entries durably;
match_index: the last index known to match the leader (on success); reject_index: the
prev_log_index that did not match (on failure); hint_index/hint_term: the follower's last
entry at or before reject_index whose term is <= prev_log_term (its last index on success)."""

PreVote = message_type("PreVote", ALGO_ID, 5, [("last_log_index", "u64"), ("last_log_term", "u64")])
"""Would you vote for me? Asked before campaigning (pre_vote); the header term is the term the sender would
campaign in (its term + 1), which no receiver adopts."""

PreVoteResponse = message_type("PreVoteResponse", ALGO_ID, 6, [("granted", "bool")])
"""The answer: a grant echoes the asked term; a refusal carries the voter's own term, so a sender behind learns it."""

ALL = (RequestVote, RequestVoteResponse, AppendEntries, AppendEntriesResponse, PreVote, PreVoteResponse)
