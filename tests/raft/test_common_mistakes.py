"""The seed's five common mistakes: each test shows the correct behaviour and what the mistake breaks.

The mistaken nodes are small Raft subclasses (tests/raft/mistakes.py), each overriding
one method to make exactly the mistake the seed describes; the simulator then shows
the consequence (livelock, spurious elections, a leader with a stale log, a
double vote caught by the VoteOnce observer, elections that never succeed).
"""
from __future__ import annotations

from typing import Any

import pytest

from algorithms.raft import ELECTION, Raft, RaftConfig, RaftLog, RequestVote, RequestVoteResponse
from core.algorithm import Role
from core.errors import InvariantViolation
from core.sim import Simulation
from core.testing import arrive, outgoing
from tests.raft.helpers import CLUSTER, make_node
from tests.raft.mistakes import (
    ForgetsToResetTimerOnHeartbeat,
    KeepsTermAndVoteInMemory,
    RepliesBeforeSteppingDown,
    VotesForAnyLog,
)

QUIET = RaftConfig(election_timeout_min=1000, election_timeout_max=2000, heartbeat_interval=100)
"""Long timeouts: nothing happens by itself within a few ms, so a scenario can be driven by hand."""


def elections(sim: Simulation, after: int = -1) -> tuple[int, int]:
    """(elections started, elections won) after time ``after``."""
    started = sum(1 for e in sim.events if e["kind"] == "election_started" and e["t"] > after)
    won = sum(1 for e in sim.events if e["kind"] == "election_won" and e["t"] > after)
    return started, won


# -- 1. the same election timeout on every node ------------------------------------------------


def test_mistake_same_timeout_everywhere_livelocks_while_randomized_timeouts_elect():
    for seed in range(5):
        fixed = Simulation(Raft, 5, seed=seed, config=RaftConfig(election_timeout_min=150, election_timeout_max=150))
        fixed.run_for(5_000)
        started, won = elections(fixed)
        assert won == 0 and fixed.leaders() == [], f"seed={seed}"
        assert started >= 5 * 30, f"seed={seed}: every node, every 150 ms, a split vote"

        randomized = Simulation(Raft, 5, seed=seed)
        assert randomized.run_until(lambda s: s.agreed_leader() is not None, 2_000), f"seed={seed}"
        assert elections(randomized)[1] == 1


# -- 2. the election timer is not reset on heartbeat ----------------------------------------------


def test_mistake_timer_not_reset_on_heartbeat_causes_spurious_elections():
    for cls, spurious in ((Raft, False), (ForgetsToResetTimerOnHeartbeat, True)):
        sim = Simulation(cls, 5, seed=3)
        assert sim.run_until(lambda s: s.leader() is not None, 2_000)
        first_leader_at = sim.now
        sim.run_for(10_000)
        started, _ = elections(sim, after=first_leader_at)
        if spurious:
            assert started >= 20, f"{cls.__name__}: a healthy leader keeps being deposed"
            assert max(sim.node(i).term for i in sim.ids) >= 20
        else:
            assert started == 0 and sim.node(sim.leader()).term == 1


# -- 3. a vote granted to a candidate whose log is behind -----------------------------------------


def _stale_log_cluster(cls: type[Raft]) -> Simulation:
    """Node 1's log is [1]; nodes 2 and 3 hold [1, 2]: entry 2 is on a majority. All in term 2."""
    logs = {1: [1], 2: [1, 2], 3: [1, 2]}

    def factory(node_id: int, voters: Any, config: Any, storage: Any, rng: Any, cluster: int) -> Raft:
        storage.write({"term": 2, "voted_for": None})
        storage.flush()
        node = cls(node_id, voters, config, storage, rng, cluster)
        node.log = RaftLog.from_terms(logs[node_id])
        return node

    return Simulation(cls, 3, seed=1, config=QUIET, algo_factory=factory)


def test_mistake_vote_for_stale_log_elects_a_leader_missing_a_majority_entry():
    correct = _stale_log_cluster(Raft)
    correct.trigger([1], ELECTION)
    correct.run_for(20)
    assert correct.leaders() == [], "both voters refuse node 1: their logs end in term 2"
    assert correct.run_until(lambda s: s.agreed_leader() is not None, 5_000)
    assert correct.node(correct.agreed_leader()).log.matches(2, 2)

    mistaken = _stale_log_cluster(VotesForAnyLog)
    mistaken.trigger([1], ELECTION)
    mistaken.run_for(20)
    assert mistaken.leaders() == [(1, 3)]
    leader_log = mistaken.node(1).log
    assert not leader_log.matches(2, 2), "the new leader lacks an entry a majority holds (Leader Completeness broken)"


def test_follower_rejects_vote_for_stale_log_message_level():
    node, _ = make_node(1, term=2, log_terms=[1, 2])
    stale = arrive(RequestVote, 2, 1, 3, last_log_index=5, last_log_term=1)
    assert outgoing(node.receive(stale, 10)) == [RequestVoteResponse(cluster=CLUSTER, src=1, dst=2, term=3, granted=False)]
    mistaken, _ = make_node(1, term=2, log_terms=[1, 2], cls=VotesForAnyLog)
    assert outgoing(mistaken.receive(stale, 10))[0].granted is True


# -- 4. currentTerm and votedFor not persisted --------------------------------------------------------


def _vote_restart_vote(cls: type[Raft]) -> Simulation:
    """Node 3 votes for 1 in term 1, crashes and restarts, then node 2 asks it for a vote in term 1."""
    sim = Simulation(cls, 3, seed=2, config=QUIET)
    sim.partition([1, 3], [2])
    sim.trigger([1], ELECTION)
    # crash node 3 the moment 1 wins, before 1's no-op entry reaches it: with that entry node 3's
    # log would be newer than node 2's and refuse it on log grounds, hiding the forgotten vote
    assert sim.run_until(lambda s: s.leaders() == [(1, 1)], 20)
    sim.crash(3)
    sim.restart(3)
    sim.partition([2, 3], [1])
    sim.trigger([2], ELECTION)
    sim.run_for(20)
    return sim


def test_mistake_term_and_vote_not_persisted_lets_a_restarted_node_vote_twice():
    correct = _vote_restart_vote(Raft)
    assert (correct.node(3).term, correct.node(3).voted_for) == (1, 1)
    assert correct.node(2).role == Role.CANDIDATE, "node 3 remembered its vote, so node 2 has no majority in term 1"

    with pytest.raises(InvariantViolation, match="vote once: node 3 voted for 1 and then for 2 in term 1"):
        _vote_restart_vote(KeepsTermAndVoteInMemory)


# -- 5. replying before stepping down on a higher term --------------------------------------------------


def test_mistake_replying_before_stepping_down_answers_with_a_stale_term():
    node, _ = make_node(1, term=1, voted_for=3)
    request = arrive(RequestVote, 2, 1, 2)
    assert outgoing(node.receive(request, 10)) == [RequestVoteResponse(cluster=CLUSTER, src=1, dst=2, term=2, granted=True)]

    mistaken, _ = make_node(1, term=1, voted_for=3, cls=RepliesBeforeSteppingDown)
    assert outgoing(mistaken.receive(request, 10)) == [
        RequestVoteResponse(cluster=CLUSTER, src=1, dst=2, term=1, granted=False)
    ]


def test_mistake_replying_before_stepping_down_means_no_new_leader_after_a_crash():
    for cls, recovers in ((Raft, True), (RepliesBeforeSteppingDown, False)):
        sim = Simulation(cls, 3, seed=4)
        assert sim.run_until(lambda s: s.leader() is not None, 2_000)
        sim.crash(sim.leader())
        crashed_at = sim.now
        elected = sim.run_until(lambda s: s.leader() is not None, 5_000)
        started, won = elections(sim, after=crashed_at)
        if recovers:
            assert elected and won == 1 and started <= 2
        else:
            assert not elected and won == 0 and started >= 20, "every vote request is refused in a stale term"
