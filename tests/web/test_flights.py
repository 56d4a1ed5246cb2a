"""quorumlab.bench.web.flights: every message in the simulator becomes a flight with its exact times and fate."""
from __future__ import annotations

import collections

import pytest

from quorumlab.core import registry
from quorumlab.core.sim import Network, Simulation

from quorumlab.bench.web.flights import CUT, DROPPED, DUPLICATE, LOST, OK, FlightRecorder


def _faulty_run(algo: str, recorder_on: bool = True) -> tuple[Simulation, FlightRecorder | None]:
    cls = registry.load(algo)
    net = Network(delay_ms=(2, 9), loss=0.1, duplicate=0.05)
    rec = FlightRecorder(net.delay_ms, cls.detection_timer) if recorder_on else None
    sim = Simulation(cls, 5, seed=3, network=net, observers=[*cls.safety_observers(), *([rec] if rec else [])])
    sim.run_for(2000)
    sim.partition([1, 2])
    sim.run_for(1000)
    sim.crash(3)
    sim.run_for(500)
    sim.heal()
    sim.restart(3)
    sim.run_for(2000)
    return sim, rec


@pytest.mark.parametrize("algo", ["raft", "paxos", "bully"])
def test_every_delivery_is_a_flight_that_took_a_delay_the_network_allows(algo):
    sim, rec = _faulty_run(algo)
    fates = collections.Counter(f[5] for f in rec.flights)
    assert fates[OK] + fates[DUPLICATE] == sim.stats.delivered
    # A duplicate copy that reaches a crashed node is dropped there, and the recorder shows no flight for it (the
    # drop goes to an original copy or to none): every duplicate but those is a "dup" flight.
    unshown = sim.stats.dropped_down - fates[DROPPED]
    assert fates[DUPLICATE] <= sim.stats.duplicated <= fates[DUPLICATE] + unshown
    delivered = [f for f in rec.flights if f[5] in (OK, DUPLICATE)]
    assert all(2 <= f[4] - f[3] <= 9 for f in delivered)


@pytest.mark.parametrize("algo", ["raft", "paxos", "bully"])
def test_messages_cut_by_a_partition_are_known_when_sent_and_the_rest_settle_as_lost_or_dropped(algo):
    sim, rec = _faulty_run(algo)
    fates = collections.Counter(f[5] for f in rec.flights)
    assert fates[CUT] > 0
    assert fates[CUT] <= sim.stats.dropped_partition
    settled = sum(fates.values()) - fates[DUPLICATE]
    assert sim.stats.sent - settled <= 5 * 4, "only the copies sent within the last longest delay are unsettled"
    assert fates[LOST] >= sim.stats.dropped_loss - 5 * 4


def test_recording_changes_nothing_the_simulator_does():
    with_recorder, _ = _faulty_run("raft")
    without, _ = _faulty_run("raft", recorder_on=False)
    assert with_recorder.events == without.events
    assert with_recorder.stats == without.stats


def test_the_detection_timer_is_seen_armed_and_disarmed_with_its_deadline():
    cls = registry.load("raft")
    rec = FlightRecorder((1, 3), cls.detection_timer)
    sim = Simulation(cls, 3, seed=1, observers=[rec])
    sim.run_until(lambda s: s.leader() is not None, 2000)
    first = rec.timers[0]
    cfg = sim.config
    assert first["t"] == 0 and cfg.election_timeout_min <= first["deadline"] <= cfg.election_timeout_max
    leader = sim.leader()
    assert any(t["node"] == leader and t["deadline"] is None for t in rec.timers), "a leader's election timer stops"
