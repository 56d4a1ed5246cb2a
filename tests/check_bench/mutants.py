"""Deliberately broken variants of raft, for testing ``bench check`` only (never registered as entry points).

Each is one bug someone could write, as a subclass overriding one step; run one with
``bench check --algo tests.check_bench.mutants:AckBeforeCommit``. This module is the one place the tests reach
into raft's internals (``_holds_past_commit``, ``_commit_to``, ``_become_follower``, ``voted_for``,
``read_ready``).
"""
from __future__ import annotations

from quorumlab.algorithms.raft import Raft
from quorumlab.core.algorithm import Role


class AckBeforeCommit(Raft):
    """A leader that counts an entry as committed once it is durable on the leader alone, and so applies and
    answers it before a majority holds it: a leader cut off or killed right after loses acknowledged writes."""

    name = "raft-ack-before-commit"

    def _holds_past_commit(self, voter: int) -> None:
        if voter == self.id:
            self._commit_to(self.log.durable_index)
        else:
            super()._holds_past_commit(voter)


class ForgetsVote(Raft):
    """A node that keeps its term across a restart but not whom it voted for: restarted during an election, it
    can vote twice in one term, and two leaders of one term overwrite each other's entries."""

    name = "raft-forgets-vote"

    def on_start(self, now: int) -> None:
        super().on_start(now)
        self.voted_for = None


class KeepsLeading(Raft):
    """A leader that adopts a higher term it sees but does not step down: it leads in that term beside the
    leader the term elected (and votes in it, as a leader without a vote), so one index gets two entries."""

    name = "raft-keeps-leading"

    def _become_follower(self, term: int, leader: int | None = None, reason: str = "") -> None:
        if self.role == Role.LEADER and term > self.term:
            self.term, self.voted_for = term, None
            self._save_hard_state()
            return
        super()._become_follower(term, leader, reason)


class ServesReadsFromOwnState(Raft):
    """A follower that answers a linearizable read at once from what it has applied, without asking its leader
    for a read index (the leader still confirms its reads with a round): a follower that lags, or is cut off
    from a leader that moved on, returns values older than writes that completed before the read began.
    Caught with ``--read-from any``, where followers serve reads."""

    name = "raft-serves-reads-from-own-state"

    def on_read(self, ctx: int, consistency: str, now: int) -> None:
        if self.role == Role.LEADER:
            super().on_read(ctx, consistency, now)
        else:
            self.read_ready(ctx, 0)


MUTANTS = (AckBeforeCommit, ForgetsVote, KeepsLeading, ServesReadsFromOwnState)
