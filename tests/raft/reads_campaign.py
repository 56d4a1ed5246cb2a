"""Reads without the log under faults, checked for linearizability: one seeded run, or many.

Each run: 5 raft nodes in the simulator (1-5 ms delays, some loss), a stream of puts (unique
values) at the leader and gets at random nodes in every read mode but ``stale``, while the
run partitions the cluster (the leader in a minority, too), heals it, crashes and restarts
nodes. Every operation goes into a ``quorumlab.core.check.History`` with the simulator's times:
invoked when submitted, completed when answered (``ok``), or ``fail`` when refused before it
could take effect (a read, or a put refused without being appended), or left open (``info``)
when it may still take effect. The history must be linearizable.

    .venv/bin/python -m tests.raft.reads_campaign --seed 7          # one run, replayable
    .venv/bin/python -m tests.raft.reads_campaign --seeds 200       # many
"""
from __future__ import annotations

import argparse
import random

from quorumlab.algorithms.raft import Raft, RaftConfig
from quorumlab.core.check import FAIL, INFO, OK, History, check
from quorumlab.core.kv import GET, PUT, Command, Result
from quorumlab.core.sim import Network, Read, Simulation, Submission

MODES = ("linearizable", "lease", "log")
KEYS = (b"a", b"b", b"c")


def _value(result: Result) -> str | None:
    return None if result.value is None else result.value.decode()


def run_seed(seed: int, duration_ms: int = 4_000, nodes: int = 5, config: RaftConfig | None = None,
             clock_rates: dict[int, float] | None = None) -> tuple[History, Simulation]:
    """One run; returns the history and the simulation (for a failure's trace)."""
    rng = random.Random(seed)
    config = config or RaftConfig(check_quorum=True, pre_vote=True)
    sim = Simulation(Raft, nodes, seed=seed, config=config, network=Network(delay_ms=(1, 5), loss=0.02),
                     clock_rates=clock_rates)
    history = History(clock=lambda: sim.now, time_unit="ms")
    pending: list[tuple[int, Submission | Read, str]] = []
    written = 0
    seq = 0
    sim.run_until(lambda s: s.leader() is not None, timeout_ms=3_000)
    while sim.now < duration_ms:
        roll = rng.random()
        if roll < 0.02:
            ids = list(sim.ids)
            rng.shuffle(ids)
            cut = rng.randint(1, nodes // 2)
            sim.partition(ids[:cut])
        elif roll < 0.035:
            sim.heal()
        elif roll < 0.045:
            victim = rng.choice([i for i in sim.ids if sim.is_up(i)])
            if len(sim.up_ids()) > nodes // 2 + 1:
                sim.crash(victim)
        elif roll < 0.06:
            down = [i for i in sim.ids if not sim.is_up(i)]
            if down:
                sim.restart(rng.choice(down))
        key = rng.choice(KEYS)
        seq += 1
        if rng.random() < 0.4:
            written += 1
            value = f"v{written}"
            index = history.invoke(f"w{seq}", "put", key.decode(), value)
            handle = sim.submit(Command(1, seq, PUT, key, value.encode()).encode())
            pending.append((index, handle, "put"))
        else:
            mode = rng.choice(MODES)
            index = history.invoke(f"r{seq}", "get", key.decode())
            query = Command(1, seq, GET, key).encode()
            handle = sim.submit(query) if mode == "log" else sim.read(query, rng.choice(sim.ids), mode)
            pending.append((index, handle, "get"))
        sim.run_for(rng.randint(1, 15))
        pending = _settle(history, pending)
    sim.heal()
    for i in sim.ids:
        if not sim.is_up(i):
            sim.restart(i)
    sim.run_for(2_000)
    _settle(history, pending)
    return history, sim


def _settle(history: History, pending: list) -> list:
    """Complete what is done; keep the rest waiting (they end as info)."""
    left = []
    for index, handle, op in pending:
        if not handle.done:
            left.append((index, handle, op))
        elif handle.ok:
            raw = handle.result if isinstance(handle, Read) else handle.result
            history.complete(index, OK, _value(Result.decode(raw)) if raw else None)
        elif op == "get" or _refused_before_append(handle):
            history.complete(index, FAIL)
        else:
            history.complete(index, INFO)
    return left


def _refused_before_append(handle: Submission) -> bool:
    """A put the leader refused outright (never appended) did not take effect."""
    return handle.index == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    seeds = [args.seed] if args.seed is not None else range(args.seeds)
    bad = []
    for seed in seeds:
        history, _ = run_seed(seed)
        result = check(history, timeout_s=60)
        if result.verdict.name != "OK":
            bad.append(seed)
            print(f"seed {seed}: {result.summary()}")
    print(f"{len(list(seeds))} runs, {len(bad)} not linearizable: {bad}")
    raise SystemExit(1 if bad else 0)


if __name__ == "__main__":
    main()
