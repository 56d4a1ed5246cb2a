"""Micro-benchmark: simulated message deliveries per wall second of a 5-node Beacon simulation.

The compiled run uses whatever quorumlab.core._accel loaded; the twin run swaps the
simulator's codec and timer wheel for the pure-Python twins in this process.
Both runs must deliver exactly the same messages (same seed, same run).
Target (issue 2): at least 100,000 deliveries per second with the compiled core.
"""
from __future__ import annotations

import pytest

import quorumlab.core
from quorumlab.core import codec_py, sim, timerwheel_py
from quorumlab.core.sim import Simulation
from tests.fixture_algos import Beacon

SIM_MS = 5_000


def make_sim():
    return (Simulation(Beacon, 5, seed=11, observers=[]),), {}


def run(simulation):
    simulation.run_for(SIM_MS)
    return simulation.stats.delivered


def record_rate(benchmark, delivered: int) -> None:
    benchmark.extra_info["deliveries_per_round"] = delivered
    if benchmark.stats is not None:
        benchmark.extra_info["deliveries_per_s"] = round(delivered / benchmark.stats.stats.median)


def expected_deliveries() -> int:
    """Deliveries of the same run with the core that quorumlab.core._accel loaded; the twins must match it exactly."""
    return run(make_sim()[0][0])


@pytest.mark.benchmark(group="sim: 5-node Beacon, deliveries per wall second")
@pytest.mark.skipif(not quorumlab.core.ACCELERATED, reason="the compiled core is not loaded")
def test_sim_deliveries_compiled(benchmark):
    delivered = benchmark.pedantic(run, setup=make_sim, rounds=10)
    assert delivered > 0.99 * 5 * 4 * SIM_MS // Beacon.Config().interval_ms
    record_rate(benchmark, delivered)


@pytest.mark.benchmark(group="sim: 5-node Beacon, deliveries per wall second")
def test_sim_deliveries_python_twins(benchmark, monkeypatch):
    expected = expected_deliveries()
    monkeypatch.setattr(sim, "codec", codec_py)
    monkeypatch.setattr(sim, "TimerWheel", timerwheel_py.TimerWheel)
    delivered = benchmark.pedantic(run, setup=make_sim, rounds=5)
    assert delivered == expected
    record_rate(benchmark, delivered)
