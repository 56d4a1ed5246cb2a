"""Seeded fault campaigns for Raft with aggressive log compaction: a snapshot every few entries.

The replication campaign's faults (crashes, some aimed at unflushed entries, restarts from
durable storage, partitions, loss, duplication, reordering), with key-value commands from a
few clients and ``snapshot_entries`` of 3 to 8, and snapshots sent in chunks of 64 to 512
bytes, so that compaction, InstallSnapshot (lost, duplicated and reordered chunks, a leader
change mid-transfer) and restarts from a snapshot happen all the time. The raft observers
check every event (State Machine Safety also compares the state machines' contents at every
snapshot index). Then the faults stop, and every node must reach the same state, which must
remember every command a client saw acknowledged (the sessions survive compaction).

Replay one seed:  .venv/bin/python -m tests.raft.snapshot_campaign --seed 17 --size 5
Run a range:      .venv/bin/python -m tests.raft.snapshot_campaign --seeds 300   (sizes 3, 5)
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass, field

from quorumlab.algorithms.raft import Raft, RaftConfig
from quorumlab.core.kv import PUT, Command
from quorumlab.core.sim import Network, Simulation
from tests.raft.faults import Faults, fault_phase, run_seeds, settle

SIZES = (3, 5)
FAULT_MS = 3_000
SETTLE_MS = 10_000


@dataclass
class SeedResult:
    """What one seed did: faults, commands, and how often the snapshot machinery ran."""

    seed: int
    size: int
    crashes: int = 0
    submitted: int = 0
    acknowledged: int = 0
    snapshots: int = 0
    installs: int = 0
    restores: int = 0
    problems: list[str] = field(default_factory=list)


def replay_command(seed: int, size: int) -> str:
    return f".venv/bin/python -m tests.raft.snapshot_campaign --seed {seed} --size {size}"


def run_seed(seed: int, size: int, algo: type[Raft] = Raft) -> SeedResult:
    """Run one seed; raises InvariantViolation on a safety violation, lists liveness problems in ``problems``."""
    plan = random.Random(f"raft-snapshots/{seed}/{size}")
    lo = plan.randint(0, 3)
    network = Network(delay_ms=(lo, lo + plan.randint(0, 15)), loss=plan.uniform(0, 0.15),
                      duplicate=plan.uniform(0, 0.1))
    config = RaftConfig(snapshot_entries=plan.randint(3, 8), snapshot_chunk_bytes=plan.choice([64, 128, 512]))
    sim = Simulation(algo, size, seed=seed, network=network, config=config)
    result = SeedResult(seed, size)
    subs = []
    seqs = {c: 0 for c in range(1, 4)}

    def submit() -> None:
        client = plan.randint(1, 3)
        seqs[client] += 1
        cmd = Command(client, seqs[client], PUT, b"k%d" % plan.randint(0, 9), b"s%d-%d" % (seed, len(subs)))
        subs.append((cmd, sim.submit(cmd.encode())))

    faults = Faults({"crash": 2, "restart": 3, "partition": 1, "heal": 2, "submit": 8}, step_ms=(5, 120), burst=6,
                    keep_up=1)
    result.crashes = fault_phase(sim, plan, FAULT_MS, faults, submit).crashes

    def submit_final() -> object:  # the submission, for settle to watch
        submit()
        return subs[-1][1]

    if settle(sim, SETTLE_MS, submit_final) is None:
        result.problems.append(f"no command committed within {SETTLE_MS} ms after the faults stopped")
        return result
    target = max(sim.machine(i).applied_index for i in sim.ids)
    sim.run_until(lambda s: len({s.machine(i).applied_index for i in s.ids}) == 1
                  and s.machine(s.ids[0]).applied_index >= target, SETTLE_MS)
    contents = {i: sim.machine(i).contents() for i in sim.ids}
    first = contents[sim.ids[0]]
    for i, c in contents.items():
        if c != first:
            result.problems.append(f"node {i}'s state (applied {c['applied_index']}) differs from node "
                                   f"{sim.ids[0]}'s (applied {first['applied_index']})")
    sessions = sim.machine(sim.ids[0]).sessions
    acked = [cmd for cmd, sub in subs if sub.ok]
    forgotten = [cmd for cmd in acked if cmd.seq not in sessions.get(cmd.client, {})]
    if forgotten:
        result.problems.append(f"{len(forgotten)} acknowledged commands are not in the client sessions: "
                               f"{forgotten[:2]}")
    kinds = [e["kind"] for e in sim.events]
    result.submitted, result.acknowledged = len(subs), len(acked)
    result.snapshots = kinds.count("snapshot_taken")
    result.installs = kinds.count("snapshot_installed")
    result.restores = kinds.count("snapshot_restored")
    return result


def run_campaign(seeds: range, sizes: tuple[int, ...] = SIZES, algo: type[Raft] = Raft
                 ) -> tuple[list[SeedResult], list[str]]:
    """Every seed on every size; returns the results and one report (seed, replay command, message) per failure."""
    return run_seeds(seeds, sizes, lambda seed, size: run_seed(seed, size, algo), replay_command)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int)
    p.add_argument("--size", type=int, default=5)
    p.add_argument("--seeds", type=int, default=100)
    args = p.parse_args(argv)
    started = time.perf_counter()
    if args.seed is not None:
        results, failures = run_campaign(range(args.seed, args.seed + 1), (args.size,))
    else:
        results, failures = run_campaign(range(args.seeds))
    for f in failures:
        print(f, file=sys.stderr)
    print(
        f"{len(results)} runs, {len(failures)} failures, {sum(r.crashes for r in results)} crashes, "
        f"{sum(r.snapshots for r in results)} snapshots taken, {sum(r.installs for r in results)} installed by "
        f"InstallSnapshot, {sum(r.restores for r in results)} restores, {sum(r.acknowledged for r in results)} "
        f"acknowledged, in {time.perf_counter() - started:.1f} s"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
