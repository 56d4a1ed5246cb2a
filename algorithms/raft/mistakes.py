"""The track's five common mistakes, and one of fast failover, as deliberately broken Raft variants (teaching only;
never run them).

Each subclass overrides one method to make exactly the mistake the seed (or issue 17) describes.
``tests/raft/test_common_mistakes.py`` shows what each of the track's five breaks, and ``bench web`` offers
those in the simulator (registered in the ``quorumlab.mistakes`` entry-point group); the story
tests/raft/testdata/mistake_campaign_at_every_disconnect.txt shows ``CampaignsAtEveryDisconnect``.
"""
from __future__ import annotations

from typing import Any

from quorumlab.algorithms.raft.messages import RequestVote
from quorumlab.algorithms.raft.node import Raft
from quorumlab.core.algorithm import Role
from quorumlab.core.mistakes import Mistake


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


class CampaignsAtEveryDisconnect(Raft):
    """Mistake: a follower that loses its connection to the leader starts a real election at once, with no pre-vote
    round: a link that merely flaps raises its term, and that term deposes a healthy leader."""

    def on_peer_down(self, peer: int, now: int) -> None:
        if self.config.transport_hints and self.role == Role.FOLLOWER and peer == self.leader:
            self._become_candidate(now)


class CommitsByCountingReplicas(Raft):
    """Mistake (Figure 8): commits any entry a majority holds, whatever its term (what section 5.4.2 forbids)."""

    def _advance_commit(self) -> None:
        self._commit_to(self.quorum.committed_index(self._acked()))


SAME_TIMEOUT = Mistake(
    "raft", "same_timeout", "Same election timeout on every node",
    "every node times out together and splits the vote, term after term: no leader (livelock)",
    "start it and watch the terms climb with no leader",
    config={"election_timeout_min": 150, "election_timeout_max": 150},
)
TIMER_NOT_RESET = Mistake(
    "raft", "timer_not_reset", "Election timer not reset on heartbeat",
    "followers time out under a healthy leader: spurious elections, the term keeps growing",
    "start it and watch the leader being deposed again and again",
    cls=ForgetsToResetTimerOnHeartbeat,
)
VOTE_FOR_STALE_LOG = Mistake(
    "raft", "vote_for_stale_log", "Vote granted to a candidate whose log is behind",
    "a node missing committed entries can win: Leader Completeness breaks and committed entries are lost",
    "partition a node away, propose commands, crash the others' leader and heal: the stale node may win",
    cls=VotesForAnyLog,
)
TERM_AND_VOTE_IN_MEMORY = Mistake(
    "raft", "term_and_vote_in_memory", "currentTerm and votedFor not persisted",
    "a restarted node forgets its term and vote: its term goes back, and it could vote twice in one term "
    "(the observers stop the run)",
    "fire every timer (a new term for everyone), then crash and restart a node",
    cls=KeepsTermAndVoteInMemory,
)
REPLIES_BEFORE_STEPPING_DOWN = Mistake(
    "raft", "replies_before_stepping_down", "Replying before stepping down on a higher term",
    "vote replies carry the old term and are ignored: after a leader crash, elections never succeed",
    "crash the leader and watch the elections fail",
    cls=RepliesBeforeSteppingDown,
)


class ChangesMembershipBeforeCommittingItsTerm(Raft):
    """Mistake: a new leader changes the configuration before an entry of its own term has committed (the bug in
    the dissertation's single-server changes, corrected on raft-dev in 2015): a change an earlier leader left
    uncommitted and this one can each gather a majority, and a committed entry is overwritten."""

    def _own_term_committed(self) -> bool:
        return True
