"""Raft leader election as a deterministic state machine (paper sections 5.1, 5.2 and 5.4.1).

Every node starts as a follower. A follower that hears from no leader for a
randomized election timeout becomes a candidate: it increments its term, votes
for itself, persists both, and asks every other node for its vote. A majority
makes it leader; a leader sends AppendEntries heartbeats to keep followers from
timing out. Any message with a higher term first makes the node adopt that
term, forget its vote, step down and persist, and only then is the message
handled; a message with a lower term is answered with the current term and
otherwise ignored. currentTerm and votedFor are persisted before every message
that depends on them leaves.

The log exists (``RaftLog``) for the up-to-date vote rule and the heartbeat's
consistency check; appending entries to it from a leader arrives with log
replication, so a follower answers an AppendEntries that carries entries with
success=False rather than claim entries it does not hold.
"""
from __future__ import annotations

import random
from typing import Any, Callable, Sequence

from algorithms.raft.config import RaftConfig
from algorithms.raft.log import RaftLog
from algorithms.raft.messages import (
    ALGO_ID,
    ALL,
    AppendEntries,
    AppendEntriesResponse,
    RequestVote,
    RequestVoteResponse,
)
from algorithms.raft.observers import election_observers
from core.algorithm import ElectionAlgorithm, Role
from core.config import AlgorithmConfig
from core.messages import Message
from core.quorum import LOST, WON, VoteTally

ELECTION = "election"
"""Timer armed on followers and candidates; expiry starts an election."""
HEARTBEAT = "heartbeat"
"""Timer armed on the leader; expiry sends AppendEntries to every follower."""


class Raft(ElectionAlgorithm):
    """One Raft node: follower, candidate or leader (Figure 4), with durable term and vote."""

    name = "raft"
    description = "Raft election (Ongaro & Ousterhout 5.2, 5.4.1): randomized timeouts, terms, durable votes"
    algo_id = ALGO_ID
    Config = RaftConfig
    messages = ALL
    detection_timer = ELECTION

    def __init__(
        self,
        node_id: int,
        voters: Sequence[int],
        config: AlgorithmConfig | None = None,
        storage: Any = None,
        rng: random.Random | None = None,
        cluster: int = 0,
    ) -> None:
        super().__init__(node_id, voters, config, storage, rng, cluster)
        self.voted_for: int | None = None
        self.log = RaftLog()
        self.commit_index = 0
        self.match_index: dict[int, int] = {}
        self._tally: VoteTally | None = None
        self._handlers: dict[type, Callable[[Any, int], None]] = {
            RequestVote: self._on_request_vote,
            RequestVoteResponse: self._on_request_vote_response,
            AppendEntries: self._on_append_entries,
            AppendEntriesResponse: self._on_append_entries_response,
        }

    @classmethod
    def safety_observers(cls) -> list:
        """Election Safety, VoteOnce and TermMonotonic (algorithms.raft.observers)."""
        return election_observers()

    @classmethod
    def detection_config(cls, detect_min_ms: int, detect_max_ms: int) -> dict[str, int]:
        """The election timeout is the detection range itself; heartbeats come max(1, min // 3) ms apart.

        A follower suspects the leader when its election timer, drawn from [min, max], expires;
        a third of the minimum leaves room for two lost heartbeats before that can happen.
        """
        return {
            "election_timeout_min": detect_min_ms,
            "election_timeout_max": detect_max_ms,
            "heartbeat_interval": max(1, detect_min_ms // 3),
        }

    def status(self) -> dict:
        """Role, term, leader, vote and log tail."""
        return {
            **super().status(),
            "voted_for": self.voted_for,
            "last_log_index": self.log.last_index,
            "last_log_term": self.log.last_term,
            "commit_index": self.commit_index,
        }

    # -- events ---------------------------------------------------------------------------

    def on_start(self, now: int) -> None:
        """(Re)start as a follower in the durable term, remembering the durable vote; arm the election timer."""
        state = self.storage.read()
        self.term = int(state.get("term", 0))
        voted = state.get("voted_for")
        self.voted_for = None if voted is None else int(voted)
        self.role = Role.FOLLOWER
        self.leader = None
        self._reset_election_timer()

    def on_timer(self, timer: str, now: int) -> None:
        """Election timeout: campaign (unless leading). Heartbeat interval: a leader sends AppendEntries."""
        if timer == ELECTION and self.role != Role.LEADER:
            self._campaign()
        elif timer == HEARTBEAT and self.role == Role.LEADER:
            self._send_heartbeats()
            self.set_timer(HEARTBEAT, self.config.heartbeat_interval)

    def on_message(self, msg: Message, now: int) -> None:
        """A higher term is adopted (step down, persist) before the message is handled; foreign types are dropped."""
        handler = self._handlers.get(type(msg))
        if handler is None:
            self.note("message_dropped", type=msg.name, src=msg.src)
            return
        if msg.term > self.term:
            self._become_follower(msg.term)
        handler(msg, now)

    # -- role changes -----------------------------------------------------------------------

    def _become_follower(self, term: int) -> None:
        """Adopt a higher term: forget the vote, step down, persist, before anything else."""
        was_leader = self.role == Role.LEADER
        lost_term = self.term if self._tally is not None else None
        self._tally = None
        self.term = term
        self.voted_for = None
        self.role = Role.FOLLOWER
        self.leader = None
        self._save_hard_state()
        if lost_term is not None:
            self.note("election_lost", term=lost_term, reason=f"saw higher term {term}")
        if was_leader:
            self.cancel_timer(HEARTBEAT)
            self._reset_election_timer()

    def _campaign(self) -> None:
        """Start an election: new term, vote for self, persist, then ask every other node."""
        self._close_election("election timeout without a majority")
        self.term += 1
        self.role = Role.CANDIDATE
        self.voted_for = self.id
        self.leader = None
        self._save_hard_state()
        self.note("election_started", term=self.term)
        self.note("vote_granted", term=self.term, candidate=self.id)
        self._tally = VoteTally(self.voters)
        self._reset_election_timer()
        if self._tally.record(self.id, True) == WON:
            self._become_leader()
            return
        self.broadcast(
            RequestVote(term=self.term, last_log_index=self.log.last_index, last_log_term=self.log.last_term)
        )

    def _become_leader(self) -> None:
        """Won: lead, stop the election timer, assert leadership with a heartbeat at once and every interval."""
        self._tally = None
        self.role = Role.LEADER
        self.leader = self.id
        self.match_index = {p: 0 for p in self.peers}
        self.note("election_won", term=self.term)
        self.cancel_timer(ELECTION)
        self._send_heartbeats()
        self.set_timer(HEARTBEAT, self.config.heartbeat_interval)

    def _close_election(self, reason: str) -> None:
        """End this term's open election, if any, as lost."""
        if self._tally is not None:
            self._tally = None
            self.note("election_lost", term=self.term, reason=reason)

    # -- RequestVote ----------------------------------------------------------------------

    def _on_request_vote(self, msg: Any, now: int) -> None:
        granted = (
            msg.term == self.term
            and self.voted_for in (None, msg.src)
            and self._candidate_log_ok(msg.last_log_term, msg.last_log_index)
        )
        if granted:
            if self.voted_for is None:
                self.voted_for = msg.src
                self._save_hard_state()
            self.note("vote_granted", term=self.term, candidate=msg.src)
            self._reset_election_timer()
        self.send(msg.src, RequestVoteResponse(term=self.term, granted=granted))

    def _candidate_log_ok(self, last_log_term: int, last_log_index: int) -> bool:
        """Section 5.4.1: vote only for a candidate whose log is at least as up to date as ours."""
        return self.log.is_up_to_date(last_log_term, last_log_index)

    def _on_request_vote_response(self, msg: Any, now: int) -> None:
        if self._tally is None or msg.term != self.term:
            return
        result = self._tally.record(msg.src, msg.granted)
        if result == WON:
            self._become_leader()
        elif result == LOST:
            self._close_election("a majority refused its vote")

    # -- AppendEntries ----------------------------------------------------------------------

    def _on_append_entries(self, msg: Any, now: int) -> None:
        if msg.term < self.term:
            self._answer_append(msg.src, success=False, match_index=0)
            return
        if self.role == Role.LEADER:
            self.note("conflicting_leader", term=self.term, other=msg.src)
            return
        if self.role == Role.CANDIDATE:
            self._close_election(f"node {msg.src} leads term {self.term}")
            self.role = Role.FOLLOWER
        self._accept_leader(msg.src)
        success = not msg.entries and self.log.matches(msg.prev_log_index, msg.prev_log_term)
        self._answer_append(msg.src, success=success, match_index=msg.prev_log_index if success else 0)

    def _accept_leader(self, leader: int) -> None:
        """A valid AppendEntries from the leader of our term: follow it and reset the election timer."""
        self.leader = leader
        self._reset_election_timer()

    def _answer_append(self, to: int, success: bool, match_index: int) -> None:
        self.send(
            to,
            AppendEntriesResponse(
                term=self.term, success=success, match_index=match_index, hint_index=self.log.last_index
            ),
        )

    def _on_append_entries_response(self, msg: Any, now: int) -> None:
        """A leader records how far each follower's log matches its own."""
        if self.role == Role.LEADER and msg.term == self.term and msg.success:
            self.match_index[msg.src] = max(self.match_index.get(msg.src, 0), msg.match_index)

    # -- helpers --------------------------------------------------------------------------------

    def _send_heartbeats(self) -> None:
        self.broadcast(
            AppendEntries(
                term=self.term,
                prev_log_index=self.log.last_index,
                prev_log_term=self.log.last_term,
                entries=[],
                leader_commit=self.commit_index,
            )
        )

    def _reset_election_timer(self) -> None:
        """Arm the election timer with a timeout drawn anew from [min, max] by this node's RNG."""
        self.set_timer(ELECTION, self.rng.randint(self.config.election_timeout_min, self.config.election_timeout_max))

    def _save_hard_state(self) -> None:
        """Stage currentTerm and votedFor; the runtime flushes them before any later send."""
        self.persist({"term": self.term, "voted_for": self.voted_for})
