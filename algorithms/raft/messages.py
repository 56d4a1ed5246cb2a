"""Raft's messages (algo_id 1): the paper's four, the optional pre-vote pair, follower reads, leadership
transfer and commands a follower forwards to its leader. The term travels in every header.

AppendEntries carries Figure 2's prevLogIndex, prevLogTerm, entries and
leaderCommit; its response carries the follower's match index on success and,
on a rejection, the rejected prevLogIndex plus a (hint_index, hint_term) pair
for fast backtracking. InstallSnapshot (section 7) carries a leader's snapshot
image (quorumlab.core.snapshots) in chunks to a follower that needs entries the leader has
compacted away; the follower answers each with how much of the image it holds.
"""
from __future__ import annotations

from quorumlab.core.messages import Blob, Entries, Flag, Message, UInt64, message

ALGO_ID = 1


@message(ALGO_ID, 1)
class RequestVote(Message):
    """A candidate asks for a vote in its term (header), describing how up to date its log is. ``transfer``: the
    candidate campaigns because its leader handed leadership over (TimeoutNow), so the voters' leader lease
    (check_quorum) does not hold the vote back: the leader gave it up."""

    last_log_index: UInt64
    last_log_term: UInt64
    transfer: Flag

    markers = ("transfer",)
    """Flags the scenario printer shows only when set (a transfer campaign is the rare case)."""


@message(ALGO_ID, 2)
class RequestVoteResponse(Message):
    """The voter's answer; its header term is the voter's current term, so a stale candidate learns."""

    granted: Flag


@message(ALGO_ID, 3)
class AppendEntries(Message):
    """Leader to follower: replication of entries after (prev_log_index, prev_log_term); a heartbeat has none."""

    prev_log_index: UInt64
    prev_log_term: UInt64
    entries: Entries
    leader_commit: UInt64
    read_round: UInt64
    """The leader's latest read round: an answer in this term to a message carrying round r confirms that the
    sender still led when r began (reads and the leader lease are confirmed by such rounds)."""


@message(ALGO_ID, 4)
class AppendEntriesResponse(Message):
    """success: the follower's log matched at prev_log_index and holds the entries durably;
    match_index: the last index known to match the leader (on success); reject_index: the
    prev_log_index that did not match (on failure); hint_index/hint_term: the follower's last
    entry at or before reject_index whose term is <= prev_log_term (its last index on success)."""

    success: Flag
    match_index: UInt64
    hint_index: UInt64
    hint_term: UInt64
    reject_index: UInt64
    read_round: UInt64
    """The highest read round this follower has seen from its leader in this term (echoed)."""


@message(ALGO_ID, 5)
class PreVote(Message):
    """Would you vote for me? Asked before campaigning (pre_vote); the header term is the term the sender would
    campaign in (its term + 1), which no receiver adopts."""

    last_log_index: UInt64
    last_log_term: UInt64


@message(ALGO_ID, 6)
class PreVoteResponse(Message):
    """The answer: a grant echoes the asked term; a refusal carries the voter's own term, so a sender behind learns it."""

    granted: Flag


@message(ALGO_ID, 7)
class ReadIndex(Message):
    """A follower asks its leader for a read index on behalf of a client read (``lease``: a lease read will do)."""

    request: UInt64
    lease: Flag


@message(ALGO_ID, 8)
class ReadIndexResponse(Message):
    """The leader's answer: ``ok`` and the index the read may be served at once applied, or not (not leader)."""

    request: UInt64
    ok: Flag
    index: UInt64


@message(ALGO_ID, 9)
class InstallSnapshot(Message):
    """Leader to follower: ``data`` is the chunk at ``offset`` of the image (``size`` bytes in all) of the snapshot
    whose last included entry is (last_index, last_term). A chunk at offset 0 starts the transfer anew."""

    last_index: UInt64
    last_term: UInt64
    size: UInt64
    offset: UInt64
    data: Blob


@message(ALGO_ID, 10)
class InstallSnapshotResponse(Message):
    """The follower's answer: ``offset``, how many bytes of the image of last_index it holds (where the leader
    goes on); ``done`` once it installed the snapshot, its log then matching the leader's up to ``match_index``."""

    last_index: UInt64
    offset: UInt64
    done: Flag
    match_index: UInt64


@message(ALGO_ID, 11)
class TimeoutNow(Message):
    """Leadership transfer (thesis 3.10): the leader, having brought the receiver's log up to its own, tells it to
    campaign at once, in the next term, past pre-vote and the voters' leases."""


@message(ALGO_ID, 12)
class Propose(Message):
    """A follower forwards its clients' commands to its leader (thesis 6.2; etcd's MsgProp): ``commands`` holds
    one (0, 0, command) per command, in order; ``request`` names them in the answer."""

    request: UInt64
    commands: Entries


@message(ALGO_ID, 13)
class ProposeResponse(Message):
    """The leader's answer to a Propose: ``code`` 0 and the ``count`` entries from ``index`` it appended in the
    header's term, or the code of its refusal (PROPOSE_CODES: nothing was appended)."""

    request: UInt64
    code: UInt64
    index: UInt64
    count: UInt64


PROPOSE_CODES = ("", "not_leader", "busy", "invalid")
"""ProposeResponse.code: 0 appended; then the quorumlab.core.effects rejection codes a leader can answer with."""


ALL = (
    RequestVote,
    RequestVoteResponse,
    AppendEntries,
    AppendEntriesResponse,
    PreVote,
    PreVoteResponse,
    ReadIndex,
    ReadIndexResponse,
    InstallSnapshot,
    InstallSnapshotResponse,
    TimeoutNow,
    Propose,
    ProposeResponse,
)
