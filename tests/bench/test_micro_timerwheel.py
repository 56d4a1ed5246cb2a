"""Micro-benchmarks of the timer wheel twins: schedule+cancel with 10,000 timers pending, and advance over 100,000 timers.

Target (issue 2): schedule+cancel under 300 ns with the compiled wheel.
"""
from __future__ import annotations

import importlib
import random

import pytest

from quorumlab.core import timerwheel_py

try:
    _compiled = importlib.import_module("quorumlab.core._timerwheel")
except ImportError:
    _compiled = None

TWINS = [
    pytest.param(_compiled, id="compiled", marks=pytest.mark.skipif(_compiled is None, reason="quorumlab.core._timerwheel is not built")),
    pytest.param(timerwheel_py, id="python"),
]
BACKGROUND = 10_000
SPREAD = 100_000


def loaded_wheel(impl, count: int, seed: int = 7):
    """A wheel at t=0 with ``count`` timers at seeded random deadlines in 1..SPREAD ms."""
    rng = random.Random(seed)
    wheel = impl.TimerWheel(0)
    for i in range(count):
        wheel.schedule(rng.randint(1, SPREAD), i)
    return wheel


@pytest.mark.benchmark(group="timer wheel schedule+cancel")
@pytest.mark.parametrize("impl", TWINS)
def test_timerwheel_schedule_then_cancel(benchmark, impl):
    wheel = loaded_wheel(impl, BACKGROUND)
    schedule, cancel = wheel.schedule, wheel.cancel

    def schedule_cancel():
        return cancel(schedule(4_321, "k"))

    assert benchmark(schedule_cancel) is True
    assert len(wheel) == BACKGROUND


@pytest.mark.benchmark(group="timer wheel advance over 100,000 timers")
@pytest.mark.parametrize("impl", TWINS)
def test_timerwheel_advance_over_100k_timers(benchmark, impl):
    def setup():
        return (loaded_wheel(impl, 100_000),), {}

    def advance_all(wheel):
        return len(wheel.advance(SPREAD))

    assert benchmark.pedantic(advance_all, setup=setup, rounds=5) == 100_000
