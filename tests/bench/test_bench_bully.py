"""Bully election, measured in the simulator: messages per election against cluster size, time to elect, cold start.

Wall times come from pytest-benchmark (``make bench-micro``); message counts and
simulated milliseconds are recorded in each benchmark's extra_info and checked
against the analysis:

  best case   the second-highest id notices the crash: 1 ELECTION (to the dead
              coordinator) and n - 2 COORDINATOR, nothing else.
  worst case  the lowest id notices it: node i sends ELECTION to the n - i ids
              above it, n(n-1)/2 in all; the n - 2 live ids above node 1 answer
              every lower id, (n-1)(n-2)/2 ANSWER; n - 2 COORDINATOR.

Counted: every ELECTION, ANSWER and COORDINATOR sent from the crash until the
cluster is quiet, including those addressed to the crashed node; heartbeats are
failure detection and are not counted. Each measurement starts from a cluster
booted one node at a time (``staggered_cluster``); booting all nodes at once is
measured separately as the cold-start storm.
"""
from __future__ import annotations

import random
import statistics

import pytest

from quorumlab.algorithms.bully import BullyConfig
from tests.bully.support import bounded_sim, election_messages, one_election, settled, staggered_cluster

SIZES = (3, 5, 9, 17, 33, 65)
CFG = BullyConfig()


def expected(case: str, n: int) -> dict[str, int]:
    if case == "best":
        return {"Election": 1, "Answer": 0, "Coordinator": n - 2}
    return {"Election": n * (n - 1) // 2, "Answer": (n - 1) * (n - 2) // 2, "Coordinator": n - 2}


@pytest.mark.benchmark(group="bully: one election after the coordinator crashes")
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("case", ["best", "worst"])
def test_bench_bully_messages_per_election(benchmark, case, n):
    results = []

    def setup():
        return (staggered_cluster(n, seed=n),), {}

    def elect(sim):
        results.append(one_election(sim, detector=n - 1 if case == "best" else 1))

    benchmark.pedantic(elect, setup=setup, rounds=3 if n <= 17 else 1)
    counts, took = results[-1]
    benchmark.extra_info.update(counts=counts, total=sum(counts.values()), elect_ms=took)
    assert all(r[0] == expected(case, n) for r in results), f"{case} n={n}: {[r[0] for r in results]}"


@pytest.mark.benchmark(group="bully: time to elect after the coordinator crashes (simulated ms)")
@pytest.mark.parametrize("n", [5, 17])
def test_bench_bully_time_to_elect_after_crash(benchmark, n):
    """Natural detection (no trigger): every follower's failure timer, then T for the dead id above."""
    def failovers() -> list[int]:
        out = []
        for seed in range(20):
            sim = staggered_cluster(n, seed=seed)
            sim.run_for(random.Random(seed).randint(0, CFG.heartbeat_ms))
            crashed = sim.now
            sim.crash(n)
            if not sim.run_until(settled, 2000):
                sim.fail(f"no new coordinator within 2000 ms (n={n})")
            out.append(sim.now - crashed)
        return out

    times = benchmark.pedantic(failovers, rounds=1)
    lo = CFG.failure_timeout_ms - CFG.heartbeat_ms + CFG.answer_timeout_ms
    hi = CFG.failure_timeout_ms + CFG.answer_timeout_ms + 2 * CFG.max_delay_ms
    benchmark.extra_info.update(median_ms=statistics.median(times), min_ms=min(times), max_ms=max(times), bound_ms=[lo, hi])
    assert all(lo < t <= hi for t in times), f"n={n}: {sorted(times)} outside ({lo}, {hi}]"


@pytest.mark.benchmark(group="bully: cold start, every node boots at once")
@pytest.mark.parametrize("n", [3, 5, 9, 17])
def test_bench_bully_cold_start_storm(benchmark, n):
    """Every node holds an election at t=0; each ELECTION that reaches an idle node starts another one."""
    def cold_start():
        sim = bounded_sim(n, seed=n)
        if not sim.run_until(settled, 5000):
            sim.fail(f"cold start of {n} nodes did not settle")
        agreed = sim.now
        while True:  # until a whole T' passes without an election message: the storm is over
            before = sum(election_messages(sim).values())
            sim.run_for(CFG.coordinator_timeout_ms)
            if sum(election_messages(sim).values()) == before:
                return sim, agreed

    sim, agreed = benchmark.pedantic(cold_start, rounds=1)
    counts = election_messages(sim)
    benchmark.extra_info.update(counts=counts, total=sum(counts.values()), agree_ms=agreed, epochs=sim.node(n).term)
    assert sim.leaders()[0][0] == n
    assert sum(counts.values()) >= n * (n - 1) // 2

