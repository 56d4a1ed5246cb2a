"""The seed's interview-prep answers about elections, each shown in the simulator."""
from __future__ import annotations

from quorumlab.algorithms.raft import ELECTION, Raft
from quorumlab.core.algorithm import Role
from quorumlab.core.sim import Simulation


def won_terms(sim: Simulation, nodes=None, after: int = -1) -> list[tuple[int, int]]:
    return [
        (e["node"], e["term"])
        for e in sim.events
        if e["kind"] == "election_won" and e["t"] > after and (nodes is None or e["node"] in nodes)
    ]


def test_two_candidates_in_one_term_never_both_win_because_majorities_overlap():
    """Q1: any two majorities share a node, and a node votes once per term."""
    outcomes = set()
    for seed in range(40):
        sim = Simulation(Raft, 5, seed=seed)
        sim.trigger([1, 2], ELECTION)  # two candidates for term 1 at the same instant
        sim.run_for(50)
        term1 = [node for node, term in won_terms(sim) if term == 1]
        assert len(term1) <= 1, f"seed={seed}: two leaders in term 1"
        outcomes.add(tuple(term1))
        votes = [(e["node"], e["candidate"]) for e in sim.events if e["kind"] == "vote_granted" and e["term"] == 1]
        assert len({voter for voter, _ in votes}) == len(set(votes)), f"seed={seed}: someone voted twice"
    assert {(1,), (2,)} <= outcomes  # either may win, never both


def test_partition_majority_elects_minority_cannot_and_old_leader_steps_down_on_heal():
    """Q2: the minority side makes no progress; healing makes the old leader see the higher term and step down."""
    sim = Simulation(Raft, 5, seed=21)
    assert sim.run_until(lambda s: s.unanimous_leader() is not None, 2_000)
    old = sim.unanimous_leader()
    old_term = sim.node(old).term
    minority = [old, next(i for i in sim.ids if i != old)]
    majority = [i for i in sim.ids if i not in minority]
    split_at = sim.now
    sim.partition(minority, majority)
    assert sim.run_until(lambda s: s.unanimous_leader(among=majority) not in (None, old), 2_000)
    new = sim.unanimous_leader(among=majority)
    assert new in majority and sim.node(new).term > old_term
    sim.run_for(3_000)
    assert won_terms(sim, nodes=minority, after=split_at) == [], "no quorum, no new leader on the minority side"
    assert sim.node(old).role == Role.LEADER and sim.node(old).term == old_term  # stale, unaware (no check-quorum)
    sim.heal()
    assert sim.run_until(lambda s: s.unanimous_leader() is not None, 2_000)
    assert sim.node(old).role == Role.FOLLOWER and len(sim.leaders()) == 1


def test_three_nodes_losing_two_cannot_elect_five_nodes_losing_two_can():
    """Q3: a cluster needs a live majority: 3 nodes tolerate 1 failure, 5 tolerate 2."""
    three = Simulation(Raft, 3, seed=8)
    three.crash(2)
    three.crash(3)
    three.run_for(5_000)
    assert three.leaders() == [] and won_terms(three) == []
    assert sum(e["kind"] == "election_started" for e in three.events) >= 10  # it keeps trying, alone

    five = Simulation(Raft, 5, seed=8)
    five.crash(4)
    five.crash(5)
    assert five.run_until(lambda s: s.unanimous_leader() is not None, 2_000)
    assert five.unanimous_leader() in (1, 2, 3)


def test_first_node_to_time_out_usually_wins_in_one_round():
    """Q4: with randomized timeouts, the first candidate usually wins before anyone else times out."""
    one_round = 0
    for seed in range(100):
        sim = Simulation(Raft, 5, seed=seed)
        sim.run_until(lambda s: s.unanimous_leader() is not None, 2_000)
        first = next(e for e in sim.events if e["kind"] == "election_started")
        won = won_terms(sim)
        one_round += won == [(first["node"], 1)]
    assert one_round >= 90
