"""Paxos in the simulator: election, failover after the lease, partitions, rejoin, steady-state cost."""
from __future__ import annotations

import pytest

from quorumlab.core import registry
from quorumlab.core.algorithm import Role
from quorumlab.core.sim import Network, Simulation

from quorumlab.algorithms.paxos import Paxos, drift_widened


def elected(sim: Simulation, timeout_ms: int = 2000) -> int:
    assert sim.run_until(lambda s: s.unanimous_leader() is not None, timeout_ms), f"no agreed leader (seed {sim.seed})"
    return sim.unanimous_leader()


def test_registered_as_the_paxos_plugin():
    assert registry.load("paxos") is Paxos
    assert Paxos.algo_id == 2 and Paxos.detection_timer == "detect"


@pytest.mark.parametrize("nodes", [1, 3, 5, 7])
def test_cluster_elects_one_leader_that_everyone_follows(nodes):
    sim = Simulation(Paxos, nodes, seed=nodes)
    leader = elected(sim)
    sim.run_for(1000)
    assert sim.leaders() == [(leader, sim.node(leader).term)]
    assert all(sim.node(i).leader == leader for i in sim.ids)


def test_leader_is_stable_without_faults_even_with_some_loss():
    sim = Simulation(Paxos, 5, seed=3, network=Network(delay_ms=(1, 5), loss=0.02))
    leader = elected(sim)
    won = sum(1 for e in sim.events if e["kind"] == "election_won")
    sim.run_for(10_000)
    assert sim.leader() == leader
    assert sum(1 for e in sim.events if e["kind"] == "election_won") == won


def test_renewals_cost_two_messages_per_follower_and_no_disk_write():
    sim = Simulation(Paxos, 5, seed=4)
    elected(sim)
    sim.run_for(100)
    sent, flushes = sim.stats.sent, [sim.storage(i).flushes for i in sim.ids]
    renewals = sum(1 for e in sim.events if e["kind"] == "lease_renewed")
    sim.run_for(900)
    renewals = sum(1 for e in sim.events if e["kind"] == "lease_renewed") - renewals
    assert renewals == 900 // Paxos.Config().renew_ms
    assert sim.stats.sent - sent == pytest.approx(renewals * 2 * 4, abs=8)
    assert [sim.storage(i).flushes for i in sim.ids] == flushes


def test_new_leader_only_after_the_crashed_leaders_lease_is_over():
    for seed in range(20):
        sim = Simulation(Paxos, 3, seed=seed)
        old = elected(sim)
        sim.run_for(500)
        last = [e for e in sim.events if e["kind"] in ("lease_renewed", "lease_acquired") and e["node"] == old][-1]
        sim.crash(old)
        new = elected(sim)
        assert new != old
        acquired = [e for e in sim.events if e["kind"] == "lease_acquired" and e["node"] == new][-1]
        cfg = sim.config
        assert acquired["start"] >= last["start"] + drift_widened(cfg.lease_ms, cfg.max_clock_drift), f"seed {seed}"
        assert sim.node(new).ballot > sim.node(old).ballot, f"seed {seed}"


def test_leader_cut_off_in_a_minority_steps_down_and_the_majority_moves_on():
    sim = Simulation(Paxos, 5, seed=7)
    old = elected(sim)
    token = sim.node(old).fencing_token
    others = [i for i in sim.ids if i != old]
    sim.partition([old, others[0]], others[1:])
    sim.run_for(sim.config.lease_ms + 1)
    assert sim.node(old).role != Role.LEADER
    assert sim.run_until(lambda s: s.unanimous_leader(others[1:]) is not None, 3000)
    new = sim.unanimous_leader(others[1:])
    assert new in others[1:]
    sim.heal()
    final = elected(sim, 3000)
    sim.run_for(1000)
    assert sim.leaders() == [(final, sim.node(final).term)]
    assert sim.node(final).fencing_token > token


def test_same_seed_same_run():
    def run() -> list:
        sim = Simulation(Paxos, 5, seed=42, network=Network(delay_ms=(1, 10), loss=0.1, duplicate=0.05))
        sim.run_for(800)
        sim.crash(sim.leader() or 1)
        sim.run_for(800)
        return sim.events

    assert run() == run()
