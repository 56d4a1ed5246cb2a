"""The seed's five common mistakes: each test shows the correct behaviour and what the mistake breaks.

The mistaken nodes are small Raft subclasses (algorithms/raft/mistakes.py, which `bench web` also offers), each overriding
one method to make exactly the mistake the seed describes. The stories
tests/raft/testdata/mistake_*.txt tell each mistake message by message (a leader with a
stale log, a double vote caught by the VoteOnce observer, ...); the tests here pin the
single rule on one node, or measure the consequence in the simulator over time and seeds
(livelock, spurious elections, elections that never succeed).
"""
from __future__ import annotations

from quorumlab.algorithms.raft import Raft, RaftConfig, RequestVote, RequestVoteResponse
from quorumlab.core.sim import Simulation
from quorumlab.core.testing import arrive, outgoing
from tests.raft.helpers import CLUSTER, make_node
from quorumlab.algorithms.raft.mistakes import ForgetsToResetTimerOnHeartbeat, RepliesBeforeSteppingDown, VotesForAnyLog


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
        assert randomized.run_until(lambda s: s.unanimous_leader() is not None, 2_000), f"seed={seed}"
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


def test_follower_rejects_vote_for_stale_log_message_level():
    node, _ = make_node(1, term=2, log_terms=[1, 2])
    stale = arrive(RequestVote, 2, 1, 3, last_log_index=5, last_log_term=1)
    assert outgoing(node.receive(stale, 10)) == [RequestVoteResponse(cluster=CLUSTER, src=1, dst=2, term=3, granted=False)]
    mistaken, _ = make_node(1, term=2, log_terms=[1, 2], cls=VotesForAnyLog)
    assert outgoing(mistaken.receive(stale, 10))[0].granted is True


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
