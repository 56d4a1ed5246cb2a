"""Seeded membership campaigns: servers added, promoted, removed and replaced (single-server and joint changes),
leadership transferred, interleaved with crashes, restarts, partitions, loss, duplication and client commands.

One seed fixes the network, the settings (pre-vote, check-quorum or both, so that removed servers cannot disrupt;
sometimes a snapshot every few entries, so new servers catch up by InstallSnapshot), the schedule and the load. The
raft observers check Election Safety, VoteOnce, TermNeverDecreases, Log Matching, Leader Completeness, State Machine
Safety and committed-entries-never-lost (against the newest committed configuration and every newer one in use)
after every event. Then the faults stop, every node restarts, and every member of the final configuration must
apply the same commands, every acknowledged one among them.

Replay one seed:  .venv/bin/python -m tests.raft.membership_campaign --seed 17
Run a range:      .venv/bin/python -m tests.raft.membership_campaign --seeds 2000
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass, field

from quorumlab.algorithms.raft import Raft, RaftConfig
from quorumlab.core.errors import InvariantViolation
from quorumlab.core.kv import PUT, Command
from quorumlab.core.sim import Network, Simulation
from tests.raft.faults import settle

FAULT_MS = 5_000
SETTLE_MS = 15_000
MAX_NODES = 9


@dataclass
class SeedResult:
    """What one seed did: changes asked and made, faults, commands submitted and acknowledged."""

    seed: int
    changes: int = 0
    changed: int = 0
    joint: int = 0
    transfers: int = 0
    crashes: int = 0
    acknowledged: int = 0
    final_voters: tuple[int, ...] = ()
    problems: list[str] = field(default_factory=list)


def replay_command(seed: int) -> str:
    return f".venv/bin/python -m tests.raft.membership_campaign --seed {seed}"


def _config(plan: random.Random) -> RaftConfig:
    guard = plan.choice(["pre_vote", "check_quorum", "both"])
    return RaftConfig(
        pre_vote=guard in ("pre_vote", "both"),
        check_quorum=guard in ("check_quorum", "both"),
        snapshot_entries=plan.choice([0, 0, 4, 9]),
        max_learner_lag=plan.choice([0, 5, 1000]),
        auto_leave_joint=plan.random() < 0.8,
    )


def _change_ops(sim: Simulation, plan: random.Random) -> list[dict] | None:
    """A random change the current leader's configuration allows (or None): add a learner or a voter (a new node),
    promote a learner, remove a member, replace one or two voters at once (joint), or leave a joint configuration."""
    leader = sim.leader()
    if leader is None:
        return None
    m = sim.node(leader).membership
    if m.joint:
        return [{"op": "leave_joint"}]
    kind = plan.choice(["learner", "voter", "promote", "remove", "replace", "replace2"])
    if kind in ("learner", "voter", "replace", "replace2") and len(sim.ids) >= MAX_NODES:
        kind = "remove"
    if kind == "learner":
        return [{"op": "add_learner", "node": sim.add_node()}]
    if kind == "voter":
        return [{"op": "add_voter", "node": sim.add_node()}]
    if kind == "promote" and m.learners:
        return [{"op": "promote", "node": plan.choice(sorted(m.learners))}]
    if kind == "remove" and len(m.members) > 1:
        return [{"op": "remove", "node": plan.choice(sorted(m.members))}]
    if kind.startswith("replace"):
        count = 1 if kind == "replace" else 2
        old = plan.sample(sorted(m.voters), min(count, len(m.voters) - 1)) if len(m.voters) > 1 else []
        ops = [{"op": "remove", "node": v} for v in old]
        return ops + [{"op": "add_voter", "node": sim.add_node()} for _ in range(count)]
    return None


def run_seed(seed: int, algo: type[Raft] = Raft) -> SeedResult:
    """Run one seed; raises InvariantViolation on a safety violation, lists liveness problems in ``problems``."""
    plan = random.Random(f"raft-membership/{seed}")
    size = plan.choice([3, 3, 4, 5])
    lo = plan.randint(0, 3)
    network = Network(delay_ms=(lo, lo + plan.randint(0, 15)), loss=plan.uniform(0, 0.1),
                      duplicate=plan.uniform(0, 0.05))
    sim = Simulation(algo, size, seed=seed, network=network, config=_config(plan))
    result = SeedResult(seed)
    subs, changes = [], []
    while sim.now < FAULT_MS:
        sim.run_for(plan.randint(5, 120))
        action = plan.choices(["crash", "restart", "partition", "heal", "submit", "change", "transfer"],
                              weights=[2, 3, 1, 2, 8, 4, 1])[0]
        down = [i for i in sim.ids if not sim.is_up(i)]
        if action == "crash" and sim.up_ids():
            sim.crash(plan.choice(sim.up_ids()))
            result.crashes += 1
        elif action == "restart" and down:
            sim.restart(plan.choice(down))
        elif action == "partition":
            ids = list(sim.ids)
            plan.shuffle(ids)
            cut = plan.randint(1, len(ids) - 1)
            sim.partition(ids[:cut], ids[cut:])
        elif action == "heal":
            sim.heal()
        elif action == "submit":
            for _ in range(plan.randint(1, 6)):
                n = len(subs) + 1  # one client per command: each is applied at most once, in any order
                subs.append(sim.submit(Command(n, 1, PUT, b"k%d" % n, b"s%d" % seed).encode()))
        elif action == "change":
            ops = _change_ops(sim, plan)
            if ops is not None:
                result.changes += 1
                result.joint += sum(1 for o in ops if o["op"] != "leave_joint") > 1
                changes.append(sim.change(ops))
        elif action == "transfer" and sim.leader() is not None:
            result.transfers += 1
            sim.transfer(plan.choice([None, *sim.ids]))
    final = settle(sim, SETTLE_MS,
                   lambda: sim.submit(Command(0, sim.now + 1, PUT, b"final", b"t%d" % sim.now).encode()))
    result.changed = sum(1 for c in changes if c.ok)
    if final is None:
        result.problems.append(f"no command committed within {SETTLE_MS} ms after the faults stopped")
        return result

    def caught_up(s: Simulation) -> bool:
        """A leader that has committed an entry of its term, and every member of its configuration applied that far."""
        lead = s.leader()
        if lead is None:
            return False
        node = s.node(lead)
        if node.log.term_at(node.commit_index) != node.term or node.commit_index != node.log.last_index:
            return False  # its own entry first; and nothing left to commit (a joint configuration's leave, say)
        return all(s.machine(i).applied_index == node.commit_index for i in node.membership.members | {lead})

    if not sim.run_until(caught_up, SETTLE_MS):
        result.problems.append(f"the members did not catch up with a leader within {SETTLE_MS} ms")
        return result
    leader = sim.leader()
    members = sorted(sim.node(leader).membership.members | {leader})
    result.final_voters = tuple(sorted(sim.node(leader).membership.voters))
    state = {i: sim.machine(i).contents() for i in members}
    for i in members:
        if state[i]["data"] != state[leader]["data"]:
            result.problems.append(f"member {i}'s state (applied {state[i]['applied_index']}) differs from the "
                                   f"leader's (applied {state[leader]['applied_index']})")
    acked = [s for s in subs if s.ok]
    missing = [s for s in acked if Command.decode(s.command).key.hex() not in state[leader]["data"]]
    if missing:
        result.problems.append(f"{len(missing)} acknowledged commands are not applied: "
                               f"{[Command.decode(s.command).key for s in missing[:3]]}")
    result.acknowledged = len(acked)
    return result


def run_campaign(seeds: range, algo: type[Raft] = Raft) -> tuple[list[SeedResult], list[str]]:
    """Every seed; returns the results and one report (seed, replay command, message) per failure."""
    results, failures = [], []
    for seed in seeds:
        try:
            r = run_seed(seed, algo)
        except InvariantViolation as exc:
            failures.append(f"seed {seed}: replay with {replay_command(seed)}\n{exc}")
            continue
        results.append(r)
        if r.problems:
            failures.append(f"seed {seed}: replay with {replay_command(seed)}\n" + "\n".join(r.problems))
    return results, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, help="run one seed and print what it did")
    parser.add_argument("--seeds", type=int, default=200, help="run seeds 0..N-1")
    args = parser.parse_args(argv)
    started = time.monotonic()
    if args.seed is not None:
        try:
            print(run_seed(args.seed))
        except InvariantViolation as exc:
            print(exc)
            return 1
        return 0
    results, failures = run_campaign(range(args.seeds))
    for f in failures:
        print(f, end="\n\n")
    print(f"{args.seeds} seeds run, {len(failures)} failing; "
          f"{sum(r.changed for r in results)} of {sum(r.changes for r in results)} changes made "
          f"({sum(r.joint for r in results)} joint), {sum(r.transfers for r in results)} transfers, "
          f"{sum(r.crashes for r in results)} crashes, {sum(r.acknowledged for r in results)} commands acknowledged; "
          f"{time.monotonic() - started:.1f}s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
