"""Seeded fault scenarios for the Paxos simulation campaigns and the benchmark.

``chaos_run(seed)`` draws a cluster size, a lossy, duplicating, reordering
network and a schedule of crashes, restarts, partitions and heals from the
seed, runs it with the default safety observers attached, then stops the
faults and measures how long the cluster takes to agree on a leader.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from quorumlab.core.sim import Network, Simulation

from quorumlab.algorithms.paxos import Paxos, PaxosConfig

SIZES = (3, 5, 7)


@dataclass
class ChaosResult:
    """What one seeded chaos run produced (times in virtual ms)."""

    seed: int
    nodes: int
    faults: int
    elections_won: int
    recovered: bool
    time_to_leader_ms: int


def chaos_run(
    seed: int,
    fault_ms: int = 2500,
    recover_timeout_ms: int = 5000,
    config: PaxosConfig | None = None,
    max_delays: tuple[int, ...] = (2, 5, 10, 30),
) -> ChaosResult:
    """Run one chaos scenario; safety observers raise InvariantViolation (with the seed) on any violation.

    The network delay is uniform in [1, hi] ms, hi drawn from ``max_delays``; keep the round trip
    well below ``config.round_timeout_ms`` or no round can ever complete.
    """
    rng = random.Random(seed)
    nodes = SIZES[seed % len(SIZES)]
    hi = rng.choice(max_delays)
    network = Network(delay_ms=(1, hi), loss=rng.uniform(0.0, 0.2), duplicate=rng.uniform(0.0, 0.1))
    sim = Simulation(Paxos, nodes, seed=seed, network=network, config=config)
    ids = list(sim.ids)
    faults = 0
    while sim.now < fault_ms:
        action = rng.random()
        up = sim.up_ids()
        if action < 0.25 and up:
            leader = sim.leader()
            victim = leader if leader is not None and rng.random() < 0.6 else rng.choice(up)
            sim.crash(victim)
            faults += 1
        elif action < 0.5:
            down = [i for i in ids if not sim.is_up(i)]
            if down:
                sim.restart(rng.choice(down))
                faults += 1
        elif action < 0.65:
            shuffled = ids[:]
            rng.shuffle(shuffled)
            cut = rng.randint(1, len(ids) - 1)
            sim.partition(shuffled[:cut], shuffled[cut:])
            faults += 1
        elif action < 0.8:
            sim.heal()
        sim.run_for(rng.randint(5, 250))
    sim.heal()
    for i in ids:
        sim.restart(i)
    sim.network.loss = 0.0
    sim.network.duplicate = 0.0
    start = sim.now
    recovered = sim.run_until(lambda s: s.unanimous_leader() is not None, recover_timeout_ms)
    took = sim.now - start
    sim.run_for(300)
    won = sum(1 for e in sim.events if e["kind"] == "election_won")
    return ChaosResult(seed, nodes, faults, won, recovered, took)
