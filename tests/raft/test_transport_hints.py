"""transport_hints: a follower that loses its connection to the leader campaigns at once, through a pre-vote round;
voters let it through only when their own connection to the leader is gone too."""
from __future__ import annotations

import statistics

import pytest

from quorumlab.algorithms.raft import (
    ELECTION,
    AppendEntries,
    PreVote,
    PreVoteResponse,
    Raft,
    RaftConfig,
    RequestVote,
    RequestVoteResponse,
)
from quorumlab.core.algorithm import Role
from quorumlab.core.effects import Persist
from quorumlab.core.sim import Simulation
from quorumlab.core.testing import ManualCluster, arrive, notes, outgoing, timers
from tests.raft.campaign import run_campaign
from tests.raft.helpers import CLUSTER, make_node
from tests.raft.test_campaign import check

CHECK_QUORUM = RaftConfig(check_quorum=True)


def following(node_id: int, leader: int = 1, config: RaftConfig | None = None, voters=(1, 2, 3)) -> Raft:
    """A node that follows ``leader`` in term 1 and last heard from it at t=10."""
    node, _ = make_node(node_id, voters, term=1, log_terms=[1], config=config)
    node.receive(arrive(AppendEntries, leader, node_id, 1, prev_log_index=1, prev_log_term=1, leader_commit=1), 10)
    assert node.leader == leader
    return node


def pre_vote(src: int, dst: int, term: int = 2, last_index: int = 1, last_term: int = 1) -> PreVote:
    return arrive(PreVote, src, dst, term, cluster=CLUSTER, last_log_index=last_index, last_log_term=last_term)


# -- the follower that lost its leader's connection ----------------------------------------------------


def test_follower_that_loses_the_leaders_connection_asks_for_pre_votes_at_once_changing_no_term():
    node = following(2)
    effects = node.peer_down(1, 12)
    assert outgoing(effects) == [PreVote(cluster=CLUSTER, src=2, dst=0, term=2, last_log_index=1, last_log_term=1)]
    assert (node.role, node.term, node.voted_for, node.leader) == (Role.FOLLOWER, 1, None, None)
    assert not [e for e in effects if type(e) is Persist]
    assert notes(effects, "leader_connection_lost") == [{"leader": 1, "term": 1, "campaign_in": 0}]


def test_the_hinted_campaign_runs_a_pre_vote_round_even_with_pre_vote_off():
    node = following(2)
    assert not node.config.pre_vote
    node.peer_down(1, 12)
    effects = node.receive(arrive(PreVoteResponse, 3, 2, 2, granted=True), 13)
    assert (node.role, node.term, node.voted_for) == (Role.CANDIDATE, 2, 2)
    assert outgoing(effects, RequestVote)


def test_follower_behind_a_connected_lower_id_waits_hint_stagger_ms_then_asks_for_pre_votes():
    node = following(3, config=RaftConfig(hint_stagger_ms=7))
    effects = node.peer_down(1, 12)
    assert outgoing(effects) == [] and timers(effects, ELECTION) == [7]
    effects = node.fire(ELECTION, 19)
    assert outgoing(effects, PreVote) and node.term == 1


def test_a_lower_id_already_disconnected_does_not_hold_a_follower_back():
    node = following(3, voters=(1, 2, 3, 4, 5))
    node.peer_down(2, 11)
    assert outgoing(node.peer_down(1, 12), PreVote)


def test_losing_the_connection_to_a_peer_that_is_not_the_leader_starts_nothing():
    node = following(2)
    assert node.peer_down(3, 12) == []


def test_with_transport_hints_off_a_dropped_connection_changes_nothing():
    node = following(2, config=RaftConfig(transport_hints=False))
    assert node.peer_down(1, 12) == []
    assert outgoing(node.receive(pre_vote(3, 2), 13)) == [PreVoteResponse(term=1, granted=False, cluster=CLUSTER,
                                                                           src=2, dst=3)]


def test_a_follower_that_refused_a_pre_vote_while_it_heard_the_leader_campaigns_at_once_when_its_connection_drops():
    node = following(3)
    node.receive(pre_vote(2, 3), 11)  # refused: the leader was heard at t=10
    assert outgoing(node.peer_down(1, 12), PreVote)  # node 2's round waits on it: no stagger


def test_a_follower_that_refused_a_pre_vote_for_a_log_behind_its_own_campaigns_at_once_when_its_connection_drops():
    node, _ = make_node(3, term=1, log_terms=[1, 1], config=RaftConfig())
    node.receive(arrive(AppendEntries, 1, 3, 1, prev_log_index=2, prev_log_term=1, leader_commit=1), 10)
    effects = node.receive(pre_vote(2, 3, last_index=1), 200)  # the leader is not heard any more; the log is behind
    assert outgoing(effects) == [PreVoteResponse(term=1, granted=False, cluster=CLUSTER, src=3, dst=2)]
    effects = node.peer_down(1, 201)  # node 2 cannot win our vote: no stagger behind it
    assert notes(effects, "leader_connection_lost") == [{"leader": 1, "term": 1, "campaign_in": 0}]
    assert outgoing(effects) == [PreVote(term=2, last_log_index=2, last_log_term=1, cluster=CLUSTER, src=3, dst=0)]


def test_a_follower_that_granted_a_pre_vote_still_waits_its_turn_when_its_connection_drops():
    node = following(3)
    node.receive(pre_vote(2, 3), 200)  # granted: the leader was last heard at t=10
    effects = node.peer_down(1, 201)
    assert notes(effects, "leader_connection_lost") == [{"leader": 1, "term": 1, "campaign_in": 5}]
    assert not outgoing(effects)


def test_connection_back_before_the_staggered_campaign_calls_it_off():
    node = following(3)
    node.peer_down(1, 12)
    effects = node.peer_up(1, 13)
    (delay,) = timers(effects, ELECTION)
    assert 150 <= delay <= 300
    assert notes(effects, "leader_connection_back") == [{"leader": 1, "term": 1}]
    assert outgoing(node.fire(ELECTION, 13 + delay), RequestVote)  # the ordinary path again (pre_vote off)


def test_a_waiting_follower_that_grants_anothers_pre_vote_stands_back():
    node = following(3)
    node.peer_down(1, 12)
    effects = node.receive(pre_vote(2, 3), 13)
    assert outgoing(effects) == [PreVoteResponse(term=2, granted=True, cluster=CLUSTER, src=3, dst=2)]
    (delay,) = timers(effects, ELECTION)
    assert 150 <= delay <= 300


def test_a_waiting_follower_goes_at_once_when_a_pre_vote_comes_for_a_log_behind_its_own():
    node, _ = make_node(3, term=1, log_terms=[1, 1], config=RaftConfig())
    node.receive(arrive(AppendEntries, 1, 3, 1, prev_log_index=2, prev_log_term=1, leader_commit=1), 10)
    node.peer_down(1, 12)
    effects = node.receive(pre_vote(2, 3, last_index=1), 13)
    refused, asked = outgoing(effects)
    assert refused == PreVoteResponse(term=1, granted=False, cluster=CLUSTER, src=3, dst=2)
    assert asked == PreVote(term=2, last_log_index=2, last_log_term=1, cluster=CLUSTER, src=3, dst=0)


def test_two_hinted_rounds_at_once_the_lower_id_runs_and_the_higher_yields():
    low, high = following(2), following(3, config=RaftConfig(hint_stagger_ms=0))
    low.peer_down(1, 12)
    high.peer_down(1, 12)
    refusal = outgoing(low.receive(pre_vote(3, 2), 13))
    assert refusal == [PreVoteResponse(term=1, granted=False, cluster=CLUSTER, src=2, dst=3)]
    effects = high.receive(pre_vote(2, 3), 13)
    assert outgoing(effects) == [PreVoteResponse(term=2, granted=True, cluster=CLUSTER, src=3, dst=2)]
    assert notes(effects, "pre_vote_yielded") == [{"term": 2, "candidate": 2}]
    assert high.role == Role.FOLLOWER and 150 <= timers(effects, ELECTION)[0] <= 300


def test_a_rival_that_refused_our_round_before_its_own_connection_dropped_is_granted_and_runs():
    low = following(2)
    low.peer_down(1, 12)
    low.receive(arrive(PreVoteResponse, 3, 2, 1, granted=False), 13)  # it still heard the leader then
    effects = low.receive(pre_vote(3, 2), 20)  # now its connection dropped too, and it asks
    assert outgoing(effects) == [PreVoteResponse(term=2, granted=True, cluster=CLUSTER, src=2, dst=3)]
    assert low.role == Role.FOLLOWER and notes(effects, "pre_vote_yielded")


def test_a_rival_that_refused_our_round_and_whose_log_is_behind_is_refused_and_we_ask_again():
    node, _ = make_node(1, term=1, log_terms=[1, 1])
    node.receive(arrive(AppendEntries, 2, 1, 1, prev_log_index=2, prev_log_term=1, leader_commit=1), 10)
    node.peer_down(2, 12)
    node.receive(arrive(PreVoteResponse, 3, 1, 1, granted=False), 13)
    effects = node.receive(pre_vote(3, 1, last_index=1), 14)
    refused, asked = outgoing(effects)
    assert refused == PreVoteResponse(term=1, granted=False, cluster=CLUSTER, src=1, dst=3)
    assert asked == PreVote(term=2, last_log_index=2, last_log_term=1, cluster=CLUSTER, src=1, dst=0)


def test_a_rival_whose_log_is_ahead_is_granted_even_by_a_lower_id():
    low = following(2)
    low.peer_down(1, 12)
    granted = outgoing(low.receive(pre_vote(3, 2, last_index=2), 13))
    assert granted == [PreVoteResponse(term=2, granted=True, cluster=CLUSTER, src=2, dst=3)]


# -- the voters: the lease holds while the leader is heard, and ends with the voter's own connection ---------


def test_a_voter_that_still_hears_the_leader_refuses_the_pre_vote():
    voter = following(3)
    assert outgoing(voter.receive(pre_vote(2, 3), 12)) == [
        PreVoteResponse(term=1, granted=False, cluster=CLUSTER, src=3, dst=2)
    ]


def test_a_voter_whose_own_connection_to_the_leader_dropped_grants_the_pre_vote():
    voter = following(3, config=RaftConfig(hint_stagger_ms=50))
    voter.peer_down(1, 11)
    assert outgoing(voter.receive(pre_vote(2, 3), 12)) == [
        PreVoteResponse(term=2, granted=True, cluster=CLUSTER, src=3, dst=2)
    ]


def test_with_check_quorum_a_voter_whose_connection_to_the_leader_dropped_votes():
    voter = following(3, config=RaftConfig(check_quorum=True, hint_stagger_ms=50))
    voter.receive(arrive(AppendEntries, 1, 3, 1, prev_log_index=1, prev_log_term=1, leader_commit=1), 200)
    voter.peer_down(1, 201)  # (after the lease a restarted node keeps for a leader it may have heard)
    effects = voter.receive(arrive(RequestVote, 2, 3, 2, last_log_index=1, last_log_term=1), 202)
    assert outgoing(effects) == [RequestVoteResponse(term=2, granted=True, cluster=CLUSTER, src=3, dst=2)]


def test_with_check_quorum_a_voter_that_still_hears_the_leader_ignores_the_vote():
    voter = following(3, config=CHECK_QUORUM)
    voter.receive(arrive(AppendEntries, 1, 3, 1, prev_log_index=1, prev_log_term=1, leader_commit=1), 200)
    effects = voter.receive(arrive(RequestVote, 2, 3, 2, last_log_index=1, last_log_term=1), 202)
    assert outgoing(effects) == [] and voter.term == 1
    assert notes(effects, "vote_ignored")


def test_a_message_from_the_leader_after_the_drop_restores_its_lease():
    voter = following(3, config=RaftConfig(hint_stagger_ms=50))
    voter.peer_down(1, 11)
    voter.receive(arrive(AppendEntries, 1, 3, 1, prev_log_index=1, prev_log_term=1, leader_commit=1), 12)
    assert outgoing(voter.receive(pre_vote(2, 3), 13)) == [
        PreVoteResponse(term=1, granted=False, cluster=CLUSTER, src=3, dst=2)
    ]


def test_the_leader_refuses_a_hinted_pre_vote_and_keeps_its_term():
    c = ManualCluster(Raft, 3, RaftConfig(), auto=("flush",))
    c.trigger(1, ELECTION)
    c.deliver()
    c.peer_down(2, 1)
    c.deliver(among=(1, 2))
    assert (c.nodes[1].role, c.nodes[1].term) == (Role.LEADER, 1)
    assert c.nodes[2].term == 1


# -- whole clusters ------------------------------------------------------------------------------------


def elected(config: RaftConfig = RaftConfig(), n: int = 3) -> ManualCluster:
    c = ManualCluster(Raft, n, config, auto=("flush",))
    c.trigger(1, ELECTION)
    c.deliver()
    assert c.nodes[1].role == Role.LEADER
    return c


@pytest.mark.parametrize("config", [RaftConfig(), RaftConfig(pre_vote=True, check_quorum=True)],
                         ids=["defaults", "pre_vote+check_quorum"])
def test_leader_crash_seen_by_every_follower_elects_one_new_leader_in_one_round_without_any_timeout(config):
    c = elected(config)
    c.crash(1)
    c.peer_down(3, 1)
    c.peer_down(2, 1)
    c.deliver()
    assert (c.nodes[2].role, c.nodes[2].term, c.nodes[3].leader) == (Role.LEADER, 2, 2)
    assert [e["node"] for e in c.events if e["kind"] == "election_started"] == [1, 2]


@pytest.mark.parametrize("config", [RaftConfig(), RaftConfig(check_quorum=True)], ids=["defaults", "check_quorum"])
def test_a_link_that_flaps_many_times_raises_no_term_and_deposes_nobody(config):
    c = elected(config)
    for _ in range(200):
        c.peer_down(2, 1)
        c.deliver()
        c.advance(2)
        c.peer_up(2, 1)
        c.trigger(1, "heartbeat")
        c.deliver()
        c.advance(3)
    assert [(c.nodes[i].role, c.nodes[i].term) for i in c.ids] == [
        (Role.LEADER, 1), (Role.FOLLOWER, 1), (Role.FOLLOWER, 1)]
    assert c.nodes[2].leader == 1


def failovers(hints: bool, nodes: int, seeds: range) -> tuple[list[int], list[int]]:
    """Simulated crashes of a settled leader: (ms until a new leader, elections begun) per seed."""
    times, rounds = [], []
    for seed in seeds:
        sim = Simulation(Raft, nodes, seed=seed, config=RaftConfig(transport_hints=hints), connection_hints=True)
        assert sim.run_until(lambda s: s.unanimous_leader() is not None, 5000)
        sim.run_for(seed % 50 + 60)
        old, t0 = sim.leader(), sim.now
        started = sum(e["kind"] == "election_started" for e in sim.events)
        sim.crash(old)
        assert sim.run_until(lambda s: s.leader() not in (None, old), 5000), f"seed {seed}: no new leader"
        times.append(sim.now - t0)
        rounds.append(sum(e["kind"] == "election_started" for e in sim.events) - started)
    return times, rounds


@pytest.mark.parametrize("nodes", [3, 5])
def test_simulated_leader_crash_is_over_within_a_few_network_delays_in_one_round(nodes):
    fast, rounds = failovers(True, nodes, range(150))
    slow, _ = failovers(False, nodes, range(50))
    assert statistics.median(fast) <= 15 and max(fast) <= 30, sorted(fast)[-5:]
    assert sum(r == 1 for r in rounds) / len(rounds) >= 0.99
    assert statistics.median(slow) >= 100  # the timeout-only path, for contrast


@pytest.mark.parametrize("config", [RaftConfig(), RaftConfig(check_quorum=True)], ids=["defaults", "check_quorum"])
@pytest.mark.parametrize("nodes", [3, 5])
def test_simulated_links_flapping_under_a_healthy_leader_raise_no_term(config, nodes):
    sim = Simulation(Raft, nodes, seed=3, config=config, connection_hints=True)
    assert sim.run_until(lambda s: s.unanimous_leader() is not None, 5000)
    leader, term = sim.leader(), sim.node(sim.leader()).term
    elections = sum(e["kind"] == "election_started" for e in sim.events)
    for k in range(400):  # every 5 ms a follower's connection to the leader drops and returns 2 ms later
        follower = [i for i in sim.ids if i != leader][k % (nodes - 1)]
        sim.hint(follower, leader, False)
        sim.run_for(2)
        sim.hint(follower, leader, True)
        sim.run_for(3)
    assert sim.leader() == leader and {sim.node(i).term for i in sim.ids} == {term}
    assert sum(e["kind"] == "election_started" for e in sim.events) == elections
    assert any(e["kind"] == "pre_vote_started" for e in sim.events), "the hints did reach the followers"


def test_safety_and_liveness_with_true_and_false_hints_over_150_seeds():
    check(run_campaign(range(50), hints=True))


def test_safety_and_liveness_with_hints_pre_vote_and_check_quorum_over_150_seeds():
    check(run_campaign(range(50), config=RaftConfig(pre_vote=True, check_quorum=True), hints=True))
