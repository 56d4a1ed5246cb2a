"""Paxos election measured in the simulator, next to Raft under the same detection range.

Failover: the leader crashes at a random phase of its renewal (heartbeat)
cycle; measured are the simulated ms until a new leader wins and until every
live node follows it, and the messages and bytes sent from the crash until
then. Both algorithms get ``detection_config(150, 300)`` (their defaults), a
fixed 2 ms one-way delay and the same seeds, in the same run. Wall times come
from pytest-benchmark (``make bench-micro``); the simulated numbers are in
each benchmark's extra_info and printed.

Model (like raft's bench): a renewal sent at 0 reaches the followers at d; the
crash comes U ms later, U uniform over the renewal interval; the first
follower's detection fires M = min of n-1 draws of U[min, max] after the
renewal arrived; phase 1 and phase 2 take two round trips. So
time_to_new_leader = M + 5d - U for Paxos, one round trip more than Raft's
M + 3d - U. The lease never delays it: the acceptors' hold (136 ms) ends
before the earliest detection (150 ms).
"""
from __future__ import annotations

import random
import statistics

import pytest

from quorumlab.core.algorithm import ElectionAlgorithm
from quorumlab.core.sim import Network, Simulation

from quorumlab.algorithms.paxos import Paxos, PaxosConfig
from tests.bench.failover_model import failover_distribution, model_quantile

DELAY_MS = 2
NODES = 5
TRIALS = 300
PAXOS_ELECTION = ("Prepare", "Promise", "Nack", "Accept", "Accepted")
RAFT_ELECTION = ("RequestVote", "RequestVoteResponse")


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def failover(algo: type[ElectionAlgorithm], seed: int, nodes: int = NODES) -> dict:
    """One crash of a settled leader; times in simulated ms, traffic from the crash until all live nodes follow."""
    config = algo.Config(**algo.detection_config(150, 300))
    sim = Simulation(algo, nodes, seed=seed, config=config, network=Network(delay_ms=(DELAY_MS, DELAY_MS)))
    assert sim.run_until(lambda s: s.unanimous_leader() is not None, 5000), f"{algo.name} seed={seed}: no first leader"
    sim.run_for(500 + random.Random(seed).randint(0, 99))
    old = sim.unanimous_leader()
    sent, sent_bytes, by_type = sim.stats.sent, sim.stats.bytes_sent, dict(sim.stats.sent_by_type)
    sim.crash(old)
    crashed = sim.now
    assert sim.run_until(lambda s: s.unanimous_leader() not in (None, old), 5000), f"{algo.name} seed={seed}: no new leader"
    won = next(e["t"] for e in sim.events if e["kind"] == "election_won" and e["t"] >= crashed)
    election_types = PAXOS_ELECTION if algo is Paxos else RAFT_ELECTION
    return {
        "elect_ms": won - crashed,
        "agree_ms": sim.now - crashed,
        "messages": sim.stats.sent - sent,
        "bytes": sim.stats.bytes_sent - sent_bytes,
        "election_messages": sum(sim.stats.sent_by_type[t] - by_type.get(t, 0) for t in election_types),
        "rounds": sum(1 for e in sim.events if e["kind"] == "election_started" and e["t"] >= crashed),
    }


def summary(runs: list[dict]) -> dict:
    out = {"trials": len(runs)}
    for key in ("elect_ms", "agree_ms", "messages", "bytes", "election_messages", "rounds"):
        values = [r[key] for r in runs]
        out[f"{key}_median"] = statistics.median(values)
        out[f"{key}_p99"] = quantile(values, 0.99)
    return out


def paxos_model(followers: int, config: PaxosConfig, delay: int) -> list[tuple[int, float]]:
    """Distribution of crash-to-new-leader ms: M + 5d - U (see the module docstring and tests/bench/failover_model.py)."""
    return failover_distribution(followers, config.detect_min_ms, config.detect_max_ms, config.renew_ms, 5 * delay)


@pytest.mark.benchmark(group="paxos: failover after leader crash (simulated)")
def test_bench_paxos_failover_agrees_with_its_detection_model(benchmark):
    runs = benchmark.pedantic(lambda: [failover(Paxos, seed) for seed in range(TRIALS)], rounds=1)
    report = summary(runs)
    model = paxos_model(NODES - 1, PaxosConfig(), DELAY_MS)
    report.update(model_median_ms=model_quantile(model, 0.5), model_p99_ms=model_quantile(model, 0.99))
    benchmark.extra_info.update(report)
    print("paxos failover:", report)
    for stat, q in (("median", 0.5), ("p99", 0.99)):
        measured, modelled = report[f"elect_ms_{stat}"], report[f"model_{stat}_ms"]
        assert abs(measured - modelled) <= 0.10 * modelled, f"{stat}: simulated {measured} vs model {modelled}"
    assert report["rounds_median"] == 1  # two followers detecting within a round trip of each other duel rarely


@pytest.mark.benchmark(group="paxos vs raft: failover, same detection range and seeds (simulated)")
def test_bench_paxos_next_to_raft(benchmark):
    from quorumlab.algorithms.raft import Raft as raft

    def both() -> dict:
        return {
            "paxos": summary([failover(Paxos, seed) for seed in range(TRIALS)]),
            "raft": summary([failover(raft, seed) for seed in range(TRIALS)]),
        }

    report = benchmark.pedantic(both, rounds=1)
    paxos, raft_report = report["paxos"], report["raft"]
    report["ratio_elect_median"] = round(paxos["elect_ms_median"] / raft_report["elect_ms_median"], 3)
    report["ratio_bytes_median"] = round(paxos["bytes_median"] / raft_report["bytes_median"], 3)
    benchmark.extra_info.update(report)
    for name in ("paxos", "raft"):
        r = report[name]
        print(
            f"{name} failover n={NODES} d={DELAY_MS}ms: elect median {r['elect_ms_median']} p99 {r['elect_ms_p99']} ms; "
            f"all follow median {r['agree_ms_median']} ms; messages median {r['messages_median']} "
            f"(election {r['election_messages_median']}), bytes median {r['bytes_median']}"
        )
    # Same detection range: Paxos pays one extra round trip (2 * DELAY_MS), no more, at the median.
    extra = paxos["elect_ms_median"] - raft_report["elect_ms_median"]
    assert abs(extra - 2 * DELAY_MS) <= 0.05 * raft_report["elect_ms_median"], f"paxos - raft median = {extra} ms"
