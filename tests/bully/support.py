"""Shared helpers of the Bully tests: driving one node by hand, fault scenarios, and run measurements."""
from __future__ import annotations

import random
from typing import Iterable

from quorumlab.algorithms.bully import Bully, BullyConfig
from quorumlab.algorithms.bully.messages import ELECTION_TRAFFIC
from quorumlab.core.algorithm import Role
from quorumlab.core.observers import Observer
from quorumlab.core.sim import Network, Simulation
from quorumlab.core.storage import MemoryStorage
from quorumlab.core.testing import outgoing


def node(node_id: int, n: int = 5, config: BullyConfig | None = None, storage: MemoryStorage | None = None) -> tuple[Bully, list]:
    """A started Bully node ``node_id`` of a cluster 1..n, and the effects of its start."""
    b = Bully(node_id, range(1, n + 1), config or BullyConfig(), storage or MemoryStorage())
    return b, b.start(0)


def sends(effects: list) -> list[tuple[str, int, int]]:
    """(message name, destination, epoch) of every message ``effects`` send; a Broadcast has destination 0."""
    return [(m.name, m.dst, m.term) for m in outgoing(effects)]


class LeadersAtOnce(Observer):
    """"Leaders at once": the largest number of live nodes in the LEADER role at the same moment.

    Measured after every simulator event; ``since(t)`` restarts the measurement window at time t.
    """

    def __init__(self) -> None:
        self.max = 0
        self.when: int | None = None

    def reset(self) -> None:
        self.max = 0
        self.when = None

    def after_event(self, sim) -> None:
        k = len(sim.leaders())
        if k > self.max:
            self.max, self.when = k, sim.now


class EpochNeverFalls(Observer):
    """Each node's epoch never goes below the highest it reported, restarts included (it is durable)."""

    def __init__(self) -> None:
        self.highest: dict[int, int] = {}

    def after_event(self, sim) -> None:
        for i in sim.up_ids():
            t = sim.node(i).term
            if t < self.highest.get(i, 0):
                sim.fail(f"node {i}'s epoch fell from {self.highest[i]} to {t}")
            self.highest[i] = max(t, self.highest.get(i, 0))


def election_messages(sim: Simulation) -> dict[str, int]:
    """Messages sent so far, per election message type (ELECTION, ANSWER, COORDINATOR)."""
    return {k: sim.stats.sent_by_type[k] for k in ELECTION_TRAFFIC}


def settled(sim: Simulation) -> bool:
    """Exactly one live leader, it is the highest live id, every live node follows it and none is electing."""
    up = sim.up_ids()
    if not up:
        return False
    top = max(up)
    if [lid for lid, _ in sim.leaders()] != [top] or sim.unanimous_leader() != top:
        return False
    return all(sim.node(i).role is Role.FOLLOWER for i in up if i != top)


def bounded_sim(n: int, seed: int, config: BullyConfig | None = None, observers: Iterable[Observer] = ()) -> Simulation:
    """A simulation inside Bully's assumptions: delays within [1, max_delay_ms], no loss, no partition."""
    config = config or BullyConfig()
    return Simulation(
        Bully, n, seed=seed, config=config, network=Network(delay_ms=(1, config.max_delay_ms)), observers=list(observers)
    )


def crash_restart_storm(sim: Simulation, rng: random.Random, duration_ms: int) -> int:
    """Crash and restart nodes at random for ``duration_ms`` (the coordinator half the time); keeps one node up.

    Returns the number of faults injected.
    """
    end = sim.now + duration_ms
    faults = 0
    while True:
        step = rng.randint(5, 400)
        if sim.now + step >= end:
            sim.run_for(end - sim.now)
            return faults
        sim.run_for(step)
        up = sim.up_ids()
        down = [i for i in sim.ids if i not in up]
        if down and (len(up) == 1 or rng.random() < 0.45):
            sim.restart(rng.choice(down))
        else:
            leader = sim.leader()
            victim = leader if leader is not None and rng.random() < 0.5 else rng.choice(up)
            sim.crash(victim)
        faults += 1



def staggered_cluster(n: int, seed: int, config: BullyConfig | None = None, observers: Iterable[Observer] = ()) -> Simulation:
    """A settled cluster 1..n whose nodes booted one at a time in id order, the highest first.

    Booting every node at the same instant sets off Bully's start-up storm (each ELECTION
    that reaches an idle node starts another election); measurements of one election start
    from a quiet cluster instead. Returns once node n leads and the cluster is quiet.
    """
    config = config or BullyConfig()
    sim = bounded_sim(n, seed, config, observers)
    for i in range(1, n):
        sim.crash(i)
    sim.run_for(config.coordinator_timeout_ms)
    for i in range(1, n):
        sim.restart(i)
        sim.run_for(config.coordinator_timeout_ms)  # its election, and every message it caused, is over
        if sim.node(i).leader != n or sim.node(i).phase.value != "idle":
            sim.fail(f"node {i} did not join coordinator {n} while booting")
    if not settled(sim):
        sim.fail("staggered boot did not settle")
    return sim


def one_election(sim: Simulation, detector: int, timeout_ms: int = 2000) -> tuple[dict[str, int], int]:
    """Crash the coordinator (the highest id), let ``detector`` alone notice, run until the next highest leads.

    Returns the election messages sent from the crash until the cluster is quiet, per type
    (every send counts, including those addressed to the crashed node), and the ms until
    every live node followed the new coordinator.
    """
    n = max(sim.ids)
    if sim.leader() != n:
        sim.fail(f"expected node {n} to lead before the election, got {sim.leader()}")
    before = election_messages(sim)
    sim.crash(n)
    start = sim.now
    sim.trigger([detector], sim.algo_cls.detection_timer)
    if not sim.run_until(settled, timeout_ms):
        sim.fail(f"no new coordinator within {timeout_ms} ms after node {detector} noticed the crash")
    took = sim.now - start
    sim.run_for(2 * sim.config.coordinator_timeout_ms)  # let in-flight election messages land
    after = election_messages(sim)
    return {k: after[k] - before[k] for k in after}, took

