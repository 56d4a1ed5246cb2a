"""Seeded fault campaigns for Raft election: safety under chaos, then liveness once the chaos stops.

One seed and one cluster size fix everything: the network (delay range, so
reordering, 0-20% loss, duplication), the fault schedule (crashes, restarts,
partitions that form and heal) and the simulation itself. During the run the
raft observers check Election Safety, VoteOnce and TermNeverDecreases after every
event. Then the faults stop (partitions healed, crashed nodes restarted, loss
off) and the campaign measures how long until every node agrees on one live
leader, and how many election rounds that took.

With ``hints`` the simulator gives connection hints on every crash and restart (quorumlab.core.sim), and false ones too:
links that "drop" and come back at random while every message still flows (a flapping link), so safety is checked
with raft reacting to hints that lie.

Replay one seed:  .venv/bin/python -m tests.raft.campaign --seed 17 --size 5 [--hints]
Run a range:      .venv/bin/python -m tests.raft.campaign --seeds 700   (sizes 3, 5, 7)
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from dataclasses import dataclass

from quorumlab.algorithms.raft import Raft, RaftConfig
from quorumlab.core.errors import InvariantViolation
from quorumlab.core.sim import Network, Simulation

SIZES = (3, 5, 7)
FAULT_MS = 3_000
"""How long the fault phase lasts (simulated)."""
LIVENESS_TARGET_MS = 2_000
"""After faults stop, a leader is expected within this much simulated time."""
GIVE_UP_MS = 20_000
STABLE_MS = 300
"""A leader counts once every node has agreed on it and kept agreeing for this long (a node that
still believes in a leader it heard before the heal may time out and call one more election)."""


@dataclass(frozen=True)
class CampaignResult:
    """What one seed showed: the faults injected and the time and rounds to a leader afterwards."""

    seed: int
    size: int
    loss: float
    duplicate: float
    delay_ms: tuple[int, int]
    crashes: int
    partitions: int
    elections_won: int
    time_to_leader_ms: int | None
    rounds: int
    leader: int | None

    @property
    def live(self) -> bool:
        """A leader was agreed within the liveness target."""
        return self.time_to_leader_ms is not None and self.time_to_leader_ms <= LIVENESS_TARGET_MS


def replay_command(seed: int, size: int) -> str:
    return f".venv/bin/python -m tests.raft.campaign --seed {seed} --size {size}"


def run_campaign_seed(seed: int, size: int, config: RaftConfig | None = None, hints: bool = False) -> CampaignResult:
    """Run one seed on a cluster of ``size`` (default config unless given); raises InvariantViolation (with seed
    and trace) on a safety violation. ``hints``: connection hints on, false ones included (see the module)."""
    plan = random.Random(f"raft-campaign/{seed}/{size}")
    lo = plan.randint(0, 3)
    loss, duplicate = plan.uniform(0, 0.2), plan.uniform(0, 0.1)
    network = Network(delay_ms=(lo, lo + plan.randint(0, 30)), loss=loss, duplicate=duplicate)
    sim = Simulation(Raft, size, seed=seed, network=network, config=config, connection_hints=hints)
    flaps = random.Random(f"raft-campaign-flaps/{seed}/{size}")  # its own RNG: the plan stays what it was
    crashes = partitions = 0
    while sim.now < FAULT_MS:
        sim.run_for(plan.randint(10, 400))
        if hints:
            flap(sim, flaps)
        action = plan.choices(["crash", "restart", "partition", "heal", "none"], weights=[3, 3, 2, 2, 1])[0]
        down = [i for i in sim.ids if not sim.is_up(i)]
        if action == "crash" and sim.up_ids():
            sim.crash(plan.choice(sim.up_ids()))
            crashes += 1
        elif action == "restart" and down:
            sim.restart(plan.choice(down))
        elif action == "partition":
            ids = list(sim.ids)
            plan.shuffle(ids)
            cuts = sorted(plan.sample(range(1, size), plan.randint(1, min(2, size - 1))))
            sim.partition(*[ids[a:b] for a, b in zip([0, *cuts], [*cuts, size])])
            partitions += 1
        elif action == "heal":
            sim.heal()

    sim.heal()
    for i in sim.ids:
        sim.restart(i)
    sim.network.loss = 0.0
    calm = sim.now
    leader, agreed_at = _stable_leader(sim, calm + GIVE_UP_MS)
    elapsed = None if leader is None else agreed_at - calm
    rounds = len({e["term"] for e in sim.events if e["kind"] == "election_started" and e["t"] >= calm})
    return CampaignResult(
        seed, size, round(loss, 3), round(duplicate, 3), network.delay_ms,
        crashes, partitions, sum(e["kind"] == "election_won" for e in sim.events), elapsed, rounds, leader,
    )


def flap(sim: Simulation, rng: random.Random) -> None:
    """A few false hints: some node hears that its connection to another dropped, and maybe that it came back."""
    for _ in range(rng.randint(0, 3)):
        node, peer = rng.sample(sim.ids, 2)
        sim.hint(node, peer, False)
        if rng.random() < 0.7:
            sim.run_for(rng.randint(0, 5))
            sim.hint(node, peer, True)


def _stable_leader(sim: Simulation, deadline: int) -> tuple[int | None, int]:
    """(leader, time agreement began) for the first agreement that lasts STABLE_MS; (None, deadline) if none."""
    while sim.now < deadline:
        if not sim.run_until(lambda s: s.unanimous_leader() is not None, deadline - sim.now):
            break
        leader, since = sim.unanimous_leader(), sim.now
        if not sim.run_until(lambda s: s.unanimous_leader() != leader, STABLE_MS):
            return leader, since
    return None, deadline


@dataclass(frozen=True)
class CampaignSummary:
    """Many seeds: safety failures (with replay commands) and the liveness distribution."""

    results: list[CampaignResult]
    failures: list[str]

    @property
    def live_fraction(self) -> float:
        return sum(r.live for r in self.results) / max(1, len(self.results))

    def distribution(self) -> dict[str, float]:
        """median / p99 / max of time-to-leader (ms, seeds that found one) and of election rounds."""
        times = sorted(r.time_to_leader_ms for r in self.results if r.time_to_leader_ms is not None)
        rounds = sorted(r.rounds for r in self.results)
        return {
            "seeds": len(self.results),
            "ttl_median_ms": statistics.median(times),
            "ttl_p99_ms": _quantile(times, 0.99),
            "ttl_max_ms": times[-1],
            "rounds_median": statistics.median(rounds),
            "rounds_p99": _quantile(rounds, 0.99),
            "rounds_max": rounds[-1],
            "live_fraction": self.live_fraction,
        }


def _quantile(sorted_values: list, q: float) -> float:
    """Nearest-rank quantile of an ascending list."""
    k = max(0, min(len(sorted_values) - 1, -(-int(q * len(sorted_values) * 1000) // 1000) - 1))
    return sorted_values[k]


def run_campaign(
    seeds: range, sizes: tuple[int, ...] = SIZES, config: RaftConfig | None = None, hints: bool = False
) -> CampaignSummary:
    """Every seed on every size; a safety violation is collected with its replay command, not raised."""
    results, failures = [], []
    for size in sizes:
        for seed in seeds:
            try:
                results.append(run_campaign_seed(seed, size, config, hints))
            except InvariantViolation as exc:
                replay = replay_command(seed, size) + (" --hints" if hints else "")
                failures.append(f"seed={seed} size={size}: replay with `{replay}`\n{exc}")
    return CampaignSummary(results, failures)


def main(argv: list[str] | None = None) -> int:
    """Replay one seed (--seed, --size) or run a campaign (--seeds N) and print the distribution."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, help="replay this one seed")
    ap.add_argument("--size", type=int, default=5, help="cluster size for --seed")
    ap.add_argument("--seeds", type=int, default=100, help="seeds 0..N-1 on each of the sizes 3, 5, 7")
    ap.add_argument("--hints", action="store_true", help="connection hints on, false ones included")
    args = ap.parse_args(argv)
    if args.seed is not None:
        print(run_campaign_seed(args.seed, args.size, hints=args.hints))
        return 0
    t0 = time.perf_counter()
    summary = run_campaign(range(args.seeds), hints=args.hints)
    print("\n\n".join(summary.failures) or "safety: zero violations")
    print(summary.distribution(), f"wall={time.perf_counter() - t0:.1f}s")
    return 1 if summary.failures else 0


if __name__ == "__main__":
    sys.exit(main())
