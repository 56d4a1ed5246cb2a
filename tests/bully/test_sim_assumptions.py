"""Bully inside its own assumptions (bounded delays, crashes and restarts, no partition, no loss), simulated.

What is counted as "messages per election": every ELECTION, ANSWER and COORDINATOR
sent from the moment the coordinator crashes until the cluster is quiet again,
including ELECTIONs addressed to the crashed node (they are sent; the network drops
them). Heartbeats are failure detection, not election traffic, and are not counted.
"""
from __future__ import annotations

import random

import pytest

from quorumlab.algorithms.bully import BullyConfig
from quorumlab.bench.compare.metrics import LEADER, max_leaders

from tests.bully.support import (
    EpochNeverFalls,
    LeadersAtOnce,
    bounded_sim,
    crash_restart_storm,
    election_messages,
    one_election,
    settled,
    staggered_cluster,
)

CFG = BullyConfig()


def check_highest_live_id_leads_after_faults(seed: int, config: BullyConfig = CFG) -> None:
    """One seeded run: a storm of crashes and restarts, then quiet; exactly one leader, the highest live id.

    Elections a restart set off just before the quiet may still be running when it begins (a
    non-highest coordinator that gets an ELECTION holds a new election), so the run checks where
    leadership last moved: within 1000 ms of the quiet, and never again for the rest of the run.
    """
    rng = random.Random(seed)
    n = rng.randint(3, 8)
    sim = bounded_sim(n, seed, config, observers=[EpochNeverFalls()])
    crash_restart_storm(sim, rng, 2000)
    quiet_from = sim.now
    up = sim.up_ids()
    sim.run_for(2500)
    where = f"seed={seed} n={n} up={up} leaders={sim.leaders()} beliefs={[sim.node(i).leader for i in up]}"
    if config.quorum_gated and 2 * len(up) <= n:
        # the gate's price: with no live majority nobody leads, though all follow the highest
        assert sim.leaders() == [] and [sim.node(i).leader for i in up] == [max(up)] * len(up), where
        return
    assert settled(sim), where
    moves = [
        e["t"]
        for e in sim.events
        if e["t"] >= quiet_from and (e["kind"] == "leader" or (e["kind"] == "role" and LEADER in (e["from"], e["to"])))
    ]
    converged = max(moves, default=quiet_from)
    assert converged - quiet_from <= 1000, f"{where}: leadership still moving {converged - quiet_from} ms after the quiet"
    assert max_leaders(sim.events, sim.ids, converged, sim.now) == (1, 1), where


def test_highest_live_id_leads_after_crashes_and_restarts_stop():
    for seed in range(150):
        check_highest_live_id_leads_after_faults(seed)


@pytest.mark.campaign
def test_campaign_highest_live_id_leads_after_crashes_and_restarts_stop():
    for seed in range(150, 1150):
        check_highest_live_id_leads_after_faults(seed)


def test_quorum_gated_variant_also_elects_the_highest_live_id_inside_the_assumptions():
    for seed in range(40):
        check_highest_live_id_leads_after_faults(seed, BullyConfig(quorum_gated=True))


@pytest.mark.campaign
def test_campaign_quorum_gated_variant_elects_the_highest_live_id():
    for seed in range(40, 1040):
        check_highest_live_id_leads_after_faults(seed, BullyConfig(quorum_gated=True))


@pytest.mark.parametrize("n", [3, 4, 5, 8, 13, 21])
def test_best_case_second_highest_detects_one_election_and_n_minus_2_coordinator_messages(n):
    counts, _ = one_election(staggered_cluster(n, seed=n), detector=n - 1)
    assert counts == {"Election": 1, "Answer": 0, "Coordinator": n - 2}, f"n={n}"


@pytest.mark.parametrize("n", [3, 4, 5, 8, 13, 21])
def test_worst_case_lowest_detects_n_times_n_minus_1_over_2_election_messages(n):
    counts, _ = one_election(staggered_cluster(n, seed=n), detector=1)
    # node i sends ELECTION to the n - i ids above it; the n - 2 live ones above node 1
    # answer every lower id; the new coordinator n - 1 announces to the n - 2 ids below it.
    assert counts == {"Election": n * (n - 1) // 2, "Answer": (n - 1) * (n - 2) // 2, "Coordinator": n - 2}, f"n={n}"


def test_natural_failover_every_follower_detects_and_costs_the_worst_case():
    """All followers hear the same last heartbeat, so they suspect within one delay of each other."""
    for n in (4, 7, 10):
        sim = staggered_cluster(n, seed=n)
        before = election_messages(sim)
        sim.crash(n)
        assert sim.run_until(settled, 1000)
        sim.run_for(2 * CFG.coordinator_timeout_ms)
        counts = {k: v - before[k] for k, v in election_messages(sim).items()}
        assert counts == {"Election": n * (n - 1) // 2, "Answer": (n - 1) * (n - 2) // 2, "Coordinator": n - 2}, f"n={n}"


def test_time_to_elect_after_the_coordinator_crashes_is_detection_plus_T_plus_delivery():
    d, t, f, h = CFG.max_delay_ms, CFG.answer_timeout_ms, CFG.failure_timeout_ms, CFG.heartbeat_ms
    for seed in range(30):
        rng = random.Random(seed)
        sim = bounded_sim(5, seed)
        assert sim.run_until(settled, 1000)
        sim.run_for(rng.randint(300, 600))
        crashed = sim.now
        sim.crash(5)
        assert sim.run_until(settled, 1000), f"seed={seed}"
        took = sim.now - crashed
        # the last heartbeat left at most h before the crash and arrived within d; 4 suspects
        # f after that, waits T for 5, and its COORDINATOR needs up to d to reach everyone
        assert f - h + t < took <= f + d + t + d, f"seed={seed}: {took} ms"


def test_cold_start_elects_the_highest_id_at_once_despite_the_message_storm():
    """Every node boots at t=0 and holds an election; node n never stops leading, but messages pile up."""
    for n in (3, 5, 9):
        at_once = LeadersAtOnce()
        sim = bounded_sim(n, seed=n, observers=[at_once])
        assert sim.leaders() and sim.leaders()[0][0] == n
        assert sim.run_until(settled, 1000)
        sim.run_for(1000)
        assert settled(sim) and at_once.max == 1
        assert [e["to"] for e in sim.events if e["kind"] == "role" and e["node"] == n] == ["leader"]
        # at least: every node's first ELECTION round, and node n re-announcing on each one it gets
        assert sum(election_messages(sim).values()) >= n * (n - 1) // 2 + (n - 1) * (n - 1)
