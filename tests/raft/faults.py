"""What the raft log campaigns share: the seeded fault phase, the settling after it, and running seeds.

The replication campaign (tests.raft.replication_campaign) and the snapshot campaign
(tests.raft.snapshot_campaign) inject the same kinds of faults while clients submit, then heal
everything and wait for one command to commit; they differ in the weights, how many commands
a burst holds, whether a crash may leave no node up, and what they check afterwards. The order
in which ``plan`` is drawn from is fixed here, so a seed replays exactly.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

from quorumlab.core.errors import InvariantViolation
from quorumlab.core.sim import Simulation
from tests.raft.campaign import flap


@dataclass
class Faults:
    """How the fault phase runs: action weights (``crash_unflushed``: crash right after some node was left holding
    staged, unflushed entries; leave it out to never draw it), the pause between actions, commands per burst,
    how many nodes a crash must leave up, and the flapping links' generator (connection hints), if any."""

    weights: dict[str, int]
    step_ms: tuple[int, int] = (5, 150)
    burst: int = 8
    keep_up: int = 0
    flaps: random.Random | None = None


@dataclass
class FaultCounts:
    crashes: int = 0
    partitions: int = 0


def _unflushed(sim: Simulation, i: int) -> bool:
    log = sim.node(i).log
    return log.durable_index < log.last_index


def fault_phase(sim: Simulation, plan: random.Random, until_ms: int, faults: Faults,
                submit: Callable[[], object]) -> FaultCounts:
    """Crash, restart, partition, heal and submit (``submit`` is called 1..``burst`` times a burst) at random
    moments drawn from ``plan`` until the simulated clock reaches ``until_ms``."""
    actions, weights = list(faults.weights), list(faults.weights.values())
    counts = FaultCounts()
    size = len(sim.ids)
    while sim.now < until_ms:
        sim.run_for(plan.randint(*faults.step_ms))
        if faults.flaps is not None:
            flap(sim, faults.flaps)
        action = plan.choices(actions, weights=weights)[0]
        down = [i for i in sim.ids if not sim.is_up(i)]
        if action == "crash" and len(sim.ids) - len(down) > faults.keep_up:
            sim.crash(plan.choice(sim.up_ids()))
            counts.crashes += 1
        elif action == "crash_unflushed":
            if sim.run_until(lambda s: any(_unflushed(s, i) for i in s.up_ids()), 200):
                sim.crash(next(i for i in sim.up_ids() if _unflushed(sim, i)))
                counts.crashes += 1
        elif action == "restart" and down:
            sim.restart(plan.choice(down))
        elif action == "partition":
            ids = list(sim.ids)
            plan.shuffle(ids)
            cut = plan.randint(1, size - 1)
            sim.partition(ids[:cut], ids[cut:])
            counts.partitions += 1
        elif action == "heal":
            sim.heal()
        elif action == "submit":
            for _ in range(plan.randint(1, faults.burst)):
                submit()
    return counts


def settle(sim: Simulation, settle_ms: int, submit_final: Callable[[], object]) -> object | None:
    """The faults stop: heal, no loss, every node restarted; then, until one is acknowledged within ``settle_ms``,
    ``submit_final()`` a command (a submission with ``done`` and ``ok``) whenever there is a leader. Returns the
    acknowledged submission, or None."""
    sim.heal()
    sim.network.loss = 0.0
    for i in sim.ids:
        sim.restart(i)
    deadline = sim.now + settle_ms
    final = None
    while sim.now < deadline and not (final is not None and final.ok):
        if not sim.run_until(lambda s: s.leader() is not None, 1_000):
            continue
        asked = sim.now
        final = submit_final()
        sim.run_until(lambda s: final.done, 1_000)
        if not final.ok and sim.now == asked:
            sim.run_for(10)  # refused at once (a leader handing over says busy): asking again at once would spin
    return final if final is not None and final.ok else None


def run_seeds(seeds: range, sizes: tuple[int, ...], run_seed: Callable[[int, int], object],
              replay: Callable[[int, int], str]) -> tuple[list, list[str]]:
    """Every seed on every size; returns the results (each with ``problems``) and one report (seed, size, the
    replay command, what went wrong) per safety violation or liveness problem."""
    results, failures = [], []
    for size in sizes:
        for seed in seeds:
            try:
                r = run_seed(seed, size)
            except InvariantViolation as exc:
                failures.append(f"seed {seed} size {size}: replay with {replay(seed, size)}\n{exc}")
                continue
            results.append(r)
            if r.problems:
                failures.append(f"seed {seed} size {size}: replay with {replay(seed, size)}\n" + "\n".join(r.problems))
    return results, failures
