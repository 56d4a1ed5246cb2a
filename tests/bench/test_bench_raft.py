"""Raft election, measured in the simulator: 5-node cold start, a 1,001-node election, failover after a leader crash.

Wall times come from pytest-benchmark (``make bench-micro``); simulated times and
message counts are recorded in each benchmark's extra_info. The 1,001-node
election runs with the core that quorumlab.core._accel loaded and again with the
pure-Python twins swapped in, in the same process. Target (issue 3): the
1,001-node election simulates in under 2 s of wall time with the compiled core.

Failover is compared with a model computed from the timeout distribution (see
``failover_model``); the simulated median and p99 must agree within 10%.
"""
from __future__ import annotations

import random
import statistics

import pytest

import quorumlab.core
from quorumlab.algorithms.raft import ELECTION, Raft, RaftConfig
from quorumlab.core import codec_py, majority, quorum_py, sim, timerwheel_py
from quorumlab.core.algorithm import Role
from quorumlab.core.effects import RoleChanged
from quorumlab.core.observers import Observer
from quorumlab.core.sim import Network, Simulation
from tests.bench.failover_model import failover_distribution, model_quantile

ELECTION_MESSAGES = ("RequestVote", "RequestVoteResponse")


class LeaderWatch(Observer):
    """Notices the first node to become leader, so the driver need not scan every node after every event."""

    def __init__(self) -> None:
        self.elected = False

    def on_effect(self, sim_: Simulation, node: int, effect: object) -> None:
        if type(effect) is RoleChanged and effect.new == Role.LEADER:
            self.elected = True


def raft_sim(nodes: int, seed: int, **kwargs) -> tuple[Simulation, LeaderWatch]:
    watch = LeaderWatch()
    return Simulation(Raft, nodes, seed=seed, observers=[*Raft.safety_observers(), watch], **kwargs), watch


def until_everyone_follows(simulation: Simulation, watch: LeaderWatch, limit_ms: int) -> int | None:
    """Run until some node leads, then 1 ms at a time until every node agrees on it; the simulated time, or None."""
    end = simulation.now + limit_ms
    if not simulation.run_until(lambda s: watch.elected, limit_ms):
        return None
    while simulation.now < end:
        if simulation.unanimous_leader() is not None:
            return simulation.now
        simulation.run_for(1)
    return None


def election_report(simulation: Simulation, agreed_at: int | None) -> dict:
    starts = [e for e in simulation.events if e["kind"] == "election_started"]
    won = [e for e in simulation.events if e["kind"] == "election_won"]
    by_type = simulation.stats.sent_by_type
    return {
        "nodes": len(simulation.ids),
        "sim_ms_to_leader": won[0]["t"] if won else None,
        "sim_ms_until_all_follow": agreed_at,
        "candidacies": len(starts),
        "rounds": len({e["term"] for e in starts}),
        "election_messages": sum(by_type[t] for t in ELECTION_MESSAGES),
        "messages_total": simulation.stats.sent,
    }


# -- cold start ----------------------------------------------------------------------------------


def cold_start(nodes: int, seed: int) -> dict:
    simulation, watch = raft_sim(nodes, seed)
    return election_report(simulation, until_everyone_follows(simulation, watch, 10_000))


@pytest.mark.benchmark(group="raft: cold-start election")
def test_bench_cold_start_5_nodes(benchmark):
    report = benchmark.pedantic(cold_start, args=(5, 1), rounds=20)
    assert report["sim_ms_until_all_follow"] is not None
    assert report["rounds"] == 1 and report["election_messages"] == 2 * 4
    benchmark.extra_info.update(report)


# -- 1,001 nodes ------------------------------------------------------------------------------------


def big_cluster() -> tuple[tuple, dict]:
    return raft_sim(1001, seed=7), {}


def triggered_election(simulation: Simulation, watch: LeaderWatch) -> dict:
    """Node 1's election timer fires at t=0: one candidate, 1,000 voters, then everyone learns the leader."""
    simulation.trigger([1], ELECTION)
    return election_report(simulation, until_everyone_follows(simulation, watch, 2_000))


def cold_election(simulation: Simulation, watch: LeaderWatch) -> dict:
    """All 1,001 nodes boot at t=0 with default timeouts; candidates contend until one wins."""
    return election_report(simulation, until_everyone_follows(simulation, watch, 30_000))


@pytest.mark.benchmark(group="raft: 1,001-node election")
@pytest.mark.parametrize("core_impl", ["loaded", "python-twins"])
@pytest.mark.parametrize("scenario", [triggered_election, cold_election], ids=["one-candidate", "cold-start"])
def test_bench_1001_node_election(benchmark, monkeypatch, core_impl, scenario):
    if core_impl == "python-twins":
        monkeypatch.setattr(sim, "codec", codec_py)
        monkeypatch.setattr(sim, "TimerWheel", timerwheel_py.TimerWheel)
        monkeypatch.setattr(majority, "VoteTally", quorum_py.VoteTally)
    elif not quorumlab.core.ACCELERATED:
        pytest.skip("the compiled core is not loaded (quorumlab.core.ACCELERATED is False)")
    report = benchmark.pedantic(scenario, setup=big_cluster, rounds=3)
    assert report["sim_ms_until_all_follow"] is not None
    if scenario is triggered_election:
        assert report["rounds"] == 1 and report["election_messages"] == 2 * 1000
    benchmark.extra_info.update(report, core=core_impl, accelerated=quorumlab.core.ACCELERATED)


# -- failover -------------------------------------------------------------------------------------------


def failover_model(followers: int, config: RaftConfig, delay_ms: int) -> list[tuple[int, float]]:
    """Raft's failover distribution: M + 3 * delay - U (tests/bench/failover_model.py). One delay for
    the last heartbeat to reach the followers, one round trip for RequestVote and the votes."""
    return failover_distribution(
        followers, config.election_timeout_min, config.election_timeout_max, config.heartbeat_interval, 3 * delay_ms
    )


def sample_quantile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def failover_trials(trials: int, nodes: int = 5) -> tuple[list[int], list[int]]:
    """(ms from leader crash to a new live leader, election rounds) for each trial; delay fixed at 1 ms."""
    times, rounds = [], []
    for seed in range(trials):
        simulation = Simulation(Raft, nodes, seed=seed, network=Network(delay_ms=(1, 1)))
        assert simulation.run_until(lambda s: s.unanimous_leader() is not None, 2_000), f"seed={seed}"
        simulation.run_for(random.Random(seed).randint(500, 549))  # every phase of the 50 ms heartbeat
        simulation.crash(simulation.leader())
        crashed_at = simulation.now
        assert simulation.run_until(lambda s: s.leader() is not None, 5_000), f"seed={seed}"
        times.append(simulation.now - crashed_at)
        rounds.append(len({e["term"] for e in simulation.events if e["kind"] == "election_started" and e["t"] >= crashed_at}))
    return times, rounds


@pytest.mark.benchmark(group="raft: failover after leader crash")
def test_bench_failover_agrees_with_timeout_model(benchmark):
    times, rounds = benchmark.pedantic(failover_trials, args=(1500,), rounds=1)
    model = failover_model(followers=4, config=RaftConfig(), delay_ms=1)
    report = {
        "trials": len(times),
        "sim_median_ms": statistics.median(times),
        "sim_p99_ms": sample_quantile(times, 0.99),
        "sim_max_ms": max(times),
        "model_median_ms": model_quantile(model, 0.5),
        "model_p99_ms": model_quantile(model, 0.99),
        "model_mean_ms": round(sum(t * p for t, p in model), 1),
        "sim_mean_ms": round(statistics.mean(times), 1),
        "rounds_max": max(rounds),
        "more_than_one_round": sum(r > 1 for r in rounds),
    }
    benchmark.extra_info.update(report)
    print("raft failover:", report)
    for stat in ("median", "p99"):
        sim_value, model_value = report[f"sim_{stat}_ms"], report[f"model_{stat}_ms"]
        assert abs(sim_value - model_value) <= 0.10 * model_value, f"{stat}: simulated {sim_value} vs model {model_value}"
