"""Raft nodes that make one classic mistake each: small subclasses overriding exactly the method that goes wrong.

The track's common mistakes (docs/track.md) and Figure 8's commit rule. ``MISTAKES`` names them
for the scenario files (``cluster raft 3 mistake=votes-for-any-log``); the same safety
observers watch them, so a story shows what each one breaks. The track's first mistake, one
election timeout for every node, is a configuration (min = max), not a subclass.
"""
from __future__ import annotations

from typing import Any

from algorithms.raft import Raft, RequestVote


class ForgetsToResetTimerOnHeartbeat(Raft):
    """Mistake: follows the leader named by AppendEntries but leaves the election timer running."""

    def _accept_leader(self, leader: int) -> None:
        self.leader = leader


class VotesForAnyLog(Raft):
    """Mistake: grants its vote without comparing logs (only term and votedFor)."""

    def _candidate_log_ok(self, last_log_term: int, last_log_index: int) -> bool:
        return True


class KeepsTermAndVoteInMemory(Raft):
    """Mistake: never writes currentTerm/votedFor to storage; a restart forgets them."""

    def _save_hard_state(self) -> None:
        return None


class RepliesBeforeSteppingDown(Raft):
    """Mistake: answers a higher-term RequestVote from its old term and vote, and only then adopts the term."""

    def on_message(self, message: Any, now: int) -> None:
        if type(message) is RequestVote and message.term > self.term:
            self._on_request_vote(message, now)
            self._become_follower(message.term)
            return
        super().on_message(message, now)


class CommitsByCountingReplicas(Raft):
    """Mistake: commits any entry a majority holds, whatever its term (what section 5.4.2 forbids)."""

    def _advance_commit(self) -> None:
        self._commit_to(self.quorum.committed_index(self._acked()))


MISTAKES: dict[str, type[Raft]] = {
    "forgets-to-reset-timer-on-heartbeat": ForgetsToResetTimerOnHeartbeat,
    "votes-for-any-log": VotesForAnyLog,
    "keeps-term-and-vote-in-memory": KeepsTermAndVoteInMemory,
    "replies-before-stepping-down": RepliesBeforeSteppingDown,
    "commits-by-counting-replicas": CommitsByCountingReplicas,
}
