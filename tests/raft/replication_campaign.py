"""Seeded fault campaigns for Raft log replication: clients submit while nodes crash and the network misbehaves.

One seed and one cluster size fix the network (delay range, so reordering,
0-20% loss, duplication), the fault schedule (crashes, restarts with durable
storage, partitions that form and heal), the client load and the simulation.
During the run the raft observers check Election Safety, VoteOnce,
TermNeverDecreases, Log Matching, Leader Completeness, State Machine Safety and
committed-entries-never-lost after every event. Some crashes are aimed at the moment
a node holds log entries it has not flushed yet. Then the faults stop and every
node must apply the same commands, including every command a client saw
acknowledged. Half the commands are given to a node picked at random, which forwards
them to its leader when it does not lead (``Simulation.submit(..., forward=True)``; the
path an embedded node's commands take), so forwarded commands are acknowledged, lost and
checked under the same faults.

With ``hints``: connection hints on crashes and restarts, and false ones (tests.raft.campaign.flap).

Replay one seed:  .venv/bin/python -m tests.raft.replication_campaign --seed 17 --size 5
Run a range:      .venv/bin/python -m tests.raft.replication_campaign --seeds 700   (sizes 3, 5, 7)
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass, field

from quorumlab.algorithms.raft import Raft, RaftConfig
from quorumlab.core.sim import Network, Simulation
from tests.raft.faults import Faults, fault_phase, run_seeds, settle

SIZES = (3, 5, 7)
FAULT_MS = 4_000
SETTLE_MS = 10_000


@dataclass
class SeedResult:
    """What one seed did: faults injected, commands submitted and acknowledged, entries committed."""

    seed: int
    size: int
    crashes: int = 0
    partitions: int = 0
    submitted: int = 0
    acknowledged: int = 0
    committed: int = 0
    forwarded: int = 0
    """Commands a follower forwarded that the leader appended (the follower learned their index)."""
    problems: list[str] = field(default_factory=list)


def replay_command(seed: int, size: int, config: RaftConfig | None = None, hints: bool = False) -> str:
    flags = " --hints" if hints else ""
    flags += " --pre-vote" if config is not None and config.pre_vote else ""
    flags += " --check-quorum" if config is not None and config.check_quorum else ""
    return f".venv/bin/python -m tests.raft.replication_campaign --seed {seed} --size {size}{flags}"


def run_seed(seed: int, size: int, algo: type[Raft] = Raft, config: RaftConfig | None = None,
             hints: bool = False) -> SeedResult:
    """Run one seed; raises InvariantViolation on a safety violation, lists liveness problems in ``problems``."""
    plan = random.Random(f"raft-replication/{seed}/{size}")
    lo = plan.randint(0, 3)
    network = Network(
        delay_ms=(lo, lo + plan.randint(0, 20)), loss=plan.uniform(0, 0.2), duplicate=plan.uniform(0, 0.1)
    )
    sim = Simulation(algo, size, seed=seed, network=network, config=config, connection_hints=hints)
    flaps = random.Random(f"raft-replication-flaps/{seed}/{size}") if hints else None
    result = SeedResult(seed, size)
    subs = []
    anywhere = random.Random(f"raft-replication-forward/{seed}/{size}")

    def submit() -> None:
        command = b"s%d-c%d" % (seed, len(subs))
        if anywhere.random() < 0.5:
            subs.append(sim.submit(command))
        else:
            subs.append(sim.submit(command, anywhere.choice(sim.ids), forward=True))

    faults = Faults({"crash": 2, "crash_unflushed": 1, "restart": 3, "partition": 1, "heal": 2, "submit": 8},
                    flaps=flaps)
    counts = fault_phase(sim, plan, FAULT_MS, faults, submit)
    result.crashes, result.partitions = counts.crashes, counts.partitions
    final = settle(sim, SETTLE_MS, lambda: sim.submit(b"s%d-final-t%d" % (seed, sim.now)))
    if final is None:
        result.problems.append(f"no command committed within {SETTLE_MS} ms after the faults stopped")
        return result
    target = len(sim.applied(sim.leader()))
    # Every node that far, and all alike: forwarded commands still on their way to the leader may commit after the
    # final one, so the nodes are compared once they agree, not merely once they reached it.
    sim.run_until(lambda s: all(len(s.applied(i)) >= target for i in s.ids)
                  and len({len(s.applied(i)) for i in s.ids}) == 1, SETTLE_MS)
    logs = {i: sim.applied(i) for i in sim.ids}
    first = logs[sim.ids[0]]
    for i, applied in logs.items():
        if applied != first:
            result.problems.append(f"node {i} applied {len(applied)} commands, node {sim.ids[0]} {len(first)}; they differ")
    acked = [s.command for s in subs if s.ok]
    twice = len(first) - len(set(first))
    if twice:
        result.problems.append(f"{twice} commands were applied more than once (each was submitted once)")
    wrong = [s.command for s in subs if s.ok and s.entry != s.command]
    if wrong:
        result.problems.append(f"{len(wrong)} commands were acknowledged for another entry: {wrong[:3]}")
    missing = set(acked) - set(first)
    if missing:
        result.problems.append(f"{len(missing)} acknowledged commands are not applied: {sorted(missing)[:3]}")
    result.submitted = len(subs)
    result.acknowledged = len(acked)
    result.committed = len(first)
    result.forwarded = sum(1 for e in sim.events if e["kind"] == "proposed" and e.get("ctx"))
    return result


def run_campaign(
    seeds: range, sizes: tuple[int, ...] = SIZES, algo: type[Raft] = Raft, config: RaftConfig | None = None,
    hints: bool = False,
) -> tuple[list[SeedResult], list[str]]:
    """Every seed on every size; returns the results and one report (seed, replay command, message) per failure."""
    return run_seeds(seeds, sizes, lambda seed, size: run_seed(seed, size, algo, config, hints),
                     lambda seed, size: replay_command(seed, size, config, hints))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int)
    p.add_argument("--size", type=int, default=5)
    p.add_argument("--seeds", type=int, default=100)
    p.add_argument("--pre-vote", action="store_true", help="run raft with pre_vote on")
    p.add_argument("--check-quorum", action="store_true", help="run raft with check_quorum on")
    p.add_argument("--hints", action="store_true", help="connection hints on, false ones included")
    args = p.parse_args(argv)
    config = RaftConfig(pre_vote=args.pre_vote, check_quorum=args.check_quorum)
    started = time.perf_counter()
    if args.seed is not None:
        results, failures = run_campaign(range(args.seed, args.seed + 1), (args.size,), config=config, hints=args.hints)
    else:
        results, failures = run_campaign(range(args.seeds), config=config, hints=args.hints)
    for f in failures:
        print(f, file=sys.stderr)
    acked = sum(r.acknowledged for r in results)
    print(
        f"{len(results)} runs, {len(failures)} failures, {sum(r.crashes for r in results)} crashes, "
        f"{sum(r.partitions for r in results)} partitions, {sum(r.submitted for r in results)} submitted, "
        f"{acked} acknowledged, {sum(r.forwarded for r in results)} forwarded and appended, "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
