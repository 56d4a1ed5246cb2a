"""pre_vote (thesis 9.6): ask before campaigning; a pre-vote changes no term, no vote and nothing durable."""
from __future__ import annotations

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
from quorumlab.core.effects import LeaderChanged, Persist, RoleChanged
from quorumlab.core.sim import Simulation
from quorumlab.core.testing import arrive, notes, outgoing, timers
from tests.raft.helpers import CLUSTER, make_node

PRE_VOTE = RaftConfig(pre_vote=True)


def pre_vote_reply(src: int, term: int, granted: bool) -> PreVoteResponse:
    return arrive(PreVoteResponse, src, 1, term, granted=granted)


# -- the asking node -------------------------------------------------------------------------------


def test_timeout_asks_for_pre_votes_at_next_term_without_changing_or_persisting_anything():
    node, _ = make_node(term=4, log_terms=[1, 3], config=PRE_VOTE)
    effects = node.fire(ELECTION, 200)
    assert (node.role, node.term, node.voted_for) == (Role.FOLLOWER, 4, None)
    assert outgoing(effects) == [PreVote(cluster=CLUSTER, src=1, dst=0, term=5, last_log_index=2, last_log_term=3)]
    assert not [e for e in effects if type(e) is Persist]
    assert notes(effects, "pre_vote_started") == [{"term": 5}]
    assert notes(effects, "election_started") == []
    (delay,) = timers(effects, ELECTION)
    assert 150 <= delay <= 300


def test_majority_of_pre_votes_starts_the_real_election():
    node, _ = make_node(term=4, log_terms=[1, 3], config=PRE_VOTE)
    node.fire(ELECTION, 200)
    effects = node.receive(pre_vote_reply(2, 5, True), 210)
    assert (node.role, node.term, node.voted_for) == (Role.CANDIDATE, 5, 1)
    assert outgoing(effects) == [
        RequestVote(cluster=CLUSTER, src=1, dst=0, term=5, last_log_index=2, last_log_term=3)
    ]
    assert notes(effects, "election_started") == [{"term": 5}]


def test_one_pre_vote_of_five_changes_nothing():
    node, _ = make_node(voters=range(1, 6), term=4, config=PRE_VOTE)
    node.fire(ELECTION, 200)
    effects = node.receive(pre_vote_reply(2, 5, True), 210)
    assert (node.role, node.term, node.voted_for) == (Role.FOLLOWER, 4, None)
    assert outgoing(effects) == [] and not [e for e in effects if type(e) is Persist]


def test_pre_vote_refused_by_a_majority_returns_to_follower_and_rearms_the_timer():
    node, _ = make_node(term=4, config=PRE_VOTE)
    node.fire(ELECTION, 200)
    node.receive(pre_vote_reply(2, 5, True), 205)
    node.fire(ELECTION, 400)  # the real election in term 5 timed out: ask again before term 6
    assert (node.role, node.term) == (Role.FOLLOWER, 5)
    node.receive(pre_vote_reply(2, 5, False), 410)
    effects = node.receive(pre_vote_reply(3, 5, False), 411)
    assert (node.role, node.term, node.voted_for) == (Role.FOLLOWER, 5, 1)
    assert notes(effects, "pre_vote_lost") == [{"term": 6}]
    (delay,) = timers(effects, ELECTION)
    assert 150 <= delay <= 300
    assert node.receive(pre_vote_reply(2, 6, True), 412) == []  # the round is over: a late grant counts for nothing
    assert node.role == Role.FOLLOWER


def test_refusal_carrying_a_higher_real_term_is_adopted_like_any_higher_term():
    node, _ = make_node(term=4, config=PRE_VOTE)
    node.fire(ELECTION, 200)
    node.receive(pre_vote_reply(2, 7, False), 210)
    assert (node.role, node.term, node.voted_for) == (Role.FOLLOWER, 7, None)
    assert node.receive(pre_vote_reply(3, 5, True), 211) == []
    assert node.role == Role.FOLLOWER


def test_hearing_the_leader_during_pre_vote_ends_the_round():
    node, _ = make_node(term=4, config=PRE_VOTE)
    node.fire(ELECTION, 200)
    node.receive(arrive(AppendEntries, 3, 1, 4, prev_log_index=0, prev_log_term=0), 205)
    node.receive(pre_vote_reply(2, 5, True), 210)
    assert (node.role, node.term, node.leader) == (Role.FOLLOWER, 4, 3)


def test_asking_for_pre_votes_is_reported_as_a_follower_that_forgot_its_leader():
    node, _ = make_node(term=4, config=PRE_VOTE)
    node.receive(arrive(AppendEntries, 3, 1, 4, prev_log_index=0, prev_log_term=0, entries=[], leader_commit=0), 10)
    effects = node.fire(ELECTION, 500)
    assert (node.role, node.leader) == (Role.FOLLOWER, None)
    assert LeaderChanged(None, 4) in effects and not [e for e in effects if type(e) is RoleChanged]


def test_a_candidate_that_times_out_with_pre_vote_gives_up_its_election_and_asks_first():
    node, _ = make_node(term=4, config=PRE_VOTE)
    node.fire(ELECTION, 100)
    node.receive(pre_vote_reply(2, 5, True), 101)
    assert (node.role, node.term) == (Role.CANDIDATE, 5)
    effects = node.fire(ELECTION, 400)
    assert (node.role, node.term, node.voted_for) == (Role.FOLLOWER, 5, 1)
    assert notes(effects, "election_lost") == [{"term": 5, "reason": "election timeout without a majority"}]
    assert RoleChanged(Role.CANDIDATE, Role.FOLLOWER, 5) in effects
    assert [type(m) for m in outgoing(effects)] == [PreVote]


def test_single_node_with_pre_vote_leads_on_its_first_timeout():
    node, _ = make_node(voters=(1,), config=PRE_VOTE)
    node.fire(ELECTION, 200)
    assert (node.role, node.term) == (Role.LEADER, 1)


# -- the voter -------------------------------------------------------------------------------------


def test_voter_grants_pre_vote_to_up_to_date_log_and_changes_nothing():
    node, _ = make_node(2, term=4, log_terms=[1, 3], config=PRE_VOTE)
    effects = node.receive(arrive(PreVote, 1, 2, 5, last_log_index=2, last_log_term=3), 1_000)
    assert outgoing(effects) == [PreVoteResponse(cluster=CLUSTER, src=2, dst=1, term=5, granted=True)]
    assert (node.term, node.voted_for, node.role) == (4, None, Role.FOLLOWER)
    assert not [e for e in effects if type(e) is Persist]
    assert timers(effects, ELECTION) == []  # a pre-vote does not hold the voter's own election back
    assert notes(effects, "vote_granted") == []


def test_voter_denies_pre_vote_to_stale_log_answering_with_its_own_term():
    node, _ = make_node(2, term=4, log_terms=[1, 3], config=PRE_VOTE)
    effects = node.receive(arrive(PreVote, 1, 2, 5, last_log_index=5, last_log_term=2), 1_000)
    assert outgoing(effects) == [PreVoteResponse(cluster=CLUSTER, src=2, dst=1, term=4, granted=False)]
    assert node.term == 4


def test_voter_denies_pre_vote_for_a_term_not_above_its_own():
    node, _ = make_node(2, term=6, config=PRE_VOTE)
    effects = node.receive(arrive(PreVote, 1, 2, 6, last_log_index=0, last_log_term=0), 1_000)
    assert outgoing(effects) == [PreVoteResponse(cluster=CLUSTER, src=2, dst=1, term=6, granted=False)]


def test_voter_denies_pre_vote_within_the_minimum_election_timeout_of_hearing_its_leader():
    node, _ = make_node(2, term=4, config=PRE_VOTE)
    node.receive(arrive(AppendEntries, 3, 2, 4, prev_log_index=0, prev_log_term=0), 100)
    ask = arrive(PreVote, 1, 2, 5, last_log_index=0, last_log_term=0)
    assert outgoing(node.receive(ask, 249))[0].granted is False
    assert outgoing(node.receive(ask, 250))[0].granted is True
    assert (node.term, node.leader) == (4, 3)


def test_pre_vote_at_a_higher_term_makes_no_one_change_term_not_even_a_leader():
    node, _ = make_node(voters=(1, 2, 3), config=PRE_VOTE)
    node.fire(ELECTION, 0)
    node.receive(pre_vote_reply(2, 1, True), 1)
    node.receive(arrive(RequestVoteResponse, 2, 1, 1, granted=True), 2)
    assert (node.role, node.term) == (Role.LEADER, 1)
    effects = node.receive(arrive(PreVote, 3, 1, 9, last_log_index=5, last_log_term=5), 10_000)
    assert (node.role, node.term) == (Role.LEADER, 1)
    assert outgoing(effects) == [PreVoteResponse(cluster=CLUSTER, src=1, dst=3, term=1, granted=False)]


# -- what it buys ----------------------------------------------------------------------------------


def isolate_and_heal(config: RaftConfig, seed: int = 3) -> tuple[tuple[int, int], tuple[int, int], int]:
    """5 nodes: elect, cut one follower off for 2 s, heal, run 2 s.

    Returns (leader, its term) before the cut, the same after the heal, and elections started after the cut.
    """
    sim = Simulation(Raft, 5, seed=seed, config=config)
    assert sim.run_until(lambda s: s.unanimous_leader() is not None, 3_000), f"seed={seed}: no leader"
    sim.run_for(500)
    leader = sim.leader()
    before = (leader, sim.node(leader).term)
    cut = sim.now
    sim.partition([next(i for i in sim.ids if i != leader)])
    sim.run_for(2_000)
    sim.heal()
    sim.run_for(2_000)
    after = (sim.leader(), sim.node(sim.leader()).term)
    return before, after, sum(e["kind"] == "election_started" and e["t"] >= cut for e in sim.events)


def test_with_pre_vote_an_isolated_node_healed_does_not_disrupt_the_leader():
    for seed in range(3, 6):
        before, after, elections = isolate_and_heal(PRE_VOTE, seed)
        assert after == before and elections == 0, f"seed={seed}: {before} -> {after}, {elections} elections"
        # without pre-vote the same run deposes the leader: the loner comes back with a higher term
        before, after, elections = isolate_and_heal(RaftConfig(), seed)
        assert after[1] > before[1] and elections >= 5, f"seed={seed}: {before} -> {after}, {elections} elections"
