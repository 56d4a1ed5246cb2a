"""Bully outside its assumptions: partitions and message loss give two coordinators at once.

This is a documented property of the algorithm, not a bug: Bully trusts timeouts,
and a node that hears no higher id within T takes over, whether the higher ids
are dead or merely cut off. The "leaders at once" measurement must see it.
"""
from __future__ import annotations

import pytest

from quorumlab.bench.compare.metrics import max_leaders
from tests.bully.support import LeadersAtOnce, bounded_sim, settled


@pytest.mark.parametrize("groups", [([1, 2], [3, 4, 5]), ([4, 5], [1, 2, 3]), ([5], [1, 2, 3, 4]), ([1, 5], [2, 3, 4])])
def test_partition_into_two_components_elects_two_leaders_at_once(groups):
    for seed in range(10):
        at_once = LeadersAtOnce()
        sim = bounded_sim(5, seed, observers=[at_once])
        assert sim.run_until(settled, 1000), f"seed={seed}"
        sim.run_for(500)
        at_once.reset()
        cut = sim.now
        sim.partition(*groups)
        sim.run_for(1000)
        assert at_once.max == 2, f"seed={seed}: leaders at once = {at_once.max}"
        assert sorted(lid for lid, _ in sim.leaders()) == sorted(max(g) for g in groups), f"seed={seed}"
        assert max_leaders(sim.events, sim.ids, cut, sim.now)[0] == 2, f"seed={seed}: bench's metric must see both"
        sim.heal()
        assert sim.run_until(settled, 1000), f"seed={seed}: the highest id should reunite the cluster after healing"


def test_three_way_partition_elects_three_leaders_at_once():
    at_once = LeadersAtOnce()
    sim = bounded_sim(6, 7, observers=[at_once])
    assert sim.run_until(settled, 1000)
    sim.run_for(500)
    at_once.reset()
    sim.partition([1, 2], [3, 4], [5, 6])
    sim.run_for(1000)
    assert at_once.max == 3 and sorted(lid for lid, _ in sim.leaders()) == [2, 4, 6]


def test_message_loss_shows_two_leaders_at_once_and_the_cluster_recovers_when_it_stops():
    seen = []
    for seed in range(20):
        at_once = LeadersAtOnce()
        sim = bounded_sim(5, seed, observers=[at_once])
        sim.run_for(500)
        at_once.reset()
        sim.network.loss = 0.3
        sim.run_for(3000)
        seen.append(at_once.max)
        sim.network.loss = 0.0
        assert sim.run_until(settled, 1000), f"seed={seed}: no single leader after the loss stopped"
    assert max(seen) >= 2, f"30% loss never produced two leaders at once in 20 runs: {seen}"
