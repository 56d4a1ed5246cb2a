"""The Paxos safety observers have teeth: each catches the bug it exists for, and stays quiet on correct runs."""
from __future__ import annotations

import pytest

from quorumlab.core.algorithm import Role
from quorumlab.core.effects import Note, Send
from quorumlab.core.errors import InvariantViolation
from quorumlab.core.sim import Network, Simulation

from quorumlab.algorithms.paxos import DETECT, LEASE_TIMER, Paxos, PaxosConfig, Promise, check_event_log, drift_widened
from quorumlab.algorithms.paxos.observers import BallotSafety, LeaseExclusion, PromiseKept
from tests.paxos.scenarios import chaos_run


class FakeSim:
    """Just enough of a Simulation for an observer: its config and ``fail``."""

    def __init__(self, drift: float = 0.0) -> None:
        self.config = PaxosConfig(max_clock_drift=drift)

    def fail(self, message: str) -> None:
        raise InvariantViolation(message)


def lease(start: int, until: int, ballot: list[int], kind: str = "lease_acquired") -> Note:
    return Note(kind, {"start": start, "until": until, "ballot": ballot})


# -- each observer on hand-made effects ------------------------------------------------------------


def test_lease_exclusion_allows_back_to_back_leases_of_different_nodes():
    obs, sim = LeaseExclusion(), FakeSim()
    obs.on_effect(sim, 1, lease(0, 100, [1, 1]))
    obs.on_effect(sim, 1, lease(50, 150, [1, 1], "lease_renewed"))
    obs.on_effect(sim, 2, lease(150, 250, [2, 2]))


def test_lease_exclusion_flags_overlapping_leases():
    obs, sim = LeaseExclusion(), FakeSim()
    obs.on_effect(sim, 1, lease(0, 100, [1, 1]))
    with pytest.raises(InvariantViolation, match="lease exclusion"):
        obs.on_effect(sim, 2, lease(99, 200, [2, 2]))


def test_lease_exclusion_widens_leases_by_the_drift_bound():
    obs, sim = LeaseExclusion(), FakeSim(drift=0.05)
    obs.on_effect(sim, 1, lease(0, 100, [1, 1]))
    with pytest.raises(InvariantViolation, match="drift bound 0.05"):
        obs.on_effect(sim, 2, lease(drift_widened(100, 0.05) - 1, 300, [2, 2]))


def test_ballot_safety_flags_a_second_leader_of_a_ballot_and_shrinking_ballots():
    obs, sim = BallotSafety(), FakeSim()
    obs.on_effect(sim, 2, Note("election_won", {"term": 3, "ballot": [3, 2]}))
    with pytest.raises(InvariantViolation, match="not its own"):
        obs.on_effect(sim, 1, Note("election_won", {"term": 3, "ballot": [3, 2]}))
    later = BallotSafety()
    later.on_effect(sim, 2, Note("election_won", {"term": 3, "ballot": [3, 2]}))
    with pytest.raises(InvariantViolation, match="after ballot"):
        later.on_effect(sim, 1, Note("election_won", {"term": 3, "ballot": [3, 1]}))


def test_promise_kept_flags_a_lower_promise_even_in_a_message():
    obs, sim = PromiseKept(), FakeSim()
    obs.on_effect(sim, 1, Note("promised", {"ballot": [5, 3]}))
    obs.on_effect(sim, 1, Send(3, Promise(round=5, bid=3)))
    with pytest.raises(InvariantViolation, match="promise broken"):
        obs.on_effect(sim, 1, Send(2, Promise(round=4, bid=2)))


def test_event_log_replay_accepts_a_real_run_and_rejects_a_doctored_one():
    sim = Simulation(Paxos, 5, seed=9, network=Network(delay_ms=(1, 10), loss=0.05))
    sim.run_for(600)
    sim.crash(sim.leader())
    sim.run_for(1200)
    check_event_log(sim.events, sim.config)
    acquired = [e for e in sim.events if e["kind"] == "lease_acquired"]
    assert len(acquired) >= 2
    forged = dict(acquired[-1], node=acquired[0]["node"] % 5 + 1, t=acquired[0]["t"], start=acquired[0]["start"])
    with pytest.raises(InvariantViolation, match="lease exclusion"):
        check_event_log([*sim.events, forged], sim.config)


# -- broken variants of the algorithm are caught in simulation ---------------------------------------


class NoDriftMargin(Paxos):
    """Bug: every node ignores the clock drift bound (acceptors hold a lease for exactly lease_ms)."""

    def on_start(self, now):
        self.config = self.config.replace(max_clock_drift=0.0)
        super().on_start(now)


class NoAbstention(Paxos):
    """Bug: a restarted node takes part at once, though it forgot the leases it granted."""

    def on_start(self, now):
        super().on_start(now)
        self.acceptor.abstain_until = now


class NoPersist(Paxos):
    """Bug: the promise is not made durable before the reply."""

    def persist(self, state):
        return None


class OutlivesItsLease(Paxos):
    """Bug: the leader ignores its lease timer and keeps the LEADER role after its lease runs out."""

    def on_timer(self, timer, now):
        if timer != LEASE_TIMER:
            super().on_timer(timer, now)


DRIFTY = PaxosConfig(lease_ms=100, renew_ms=30, round_timeout_ms=50, detect_min_ms=5000, detect_max_ms=6000, max_clock_drift=0.05)


def leader_then_renewal(algo: type[Paxos], config: PaxosConfig) -> Simulation:
    """Three nodes on a zero-delay network; node 1 is made leader and the clock stops right after a renewal."""
    sim = Simulation(algo, 3, seed=1, config=config, network=Network(delay_ms=(0, 0)))
    sim.trigger([1], DETECT)
    assert sim.run_until(lambda s: s.leader() == 1, 100)
    renewals = len([e for e in sim.events if e["kind"] == "lease_renewed"])
    assert sim.run_until(lambda s: len([e for e in s.events if e["kind"] == "lease_renewed"]) > renewals, 200)
    return sim


def take_over_at(sim: Simulation, at: int) -> None:
    sim.run_for(at - sim.now)
    sim.trigger([2], DETECT)
    sim.run_for(50)


def test_next_leader_starts_no_earlier_than_the_widened_lease_ends():
    sim = leader_then_renewal(Paxos, DRIFTY)
    renewed = sim.now
    widened_end = renewed + drift_widened(DRIFTY.lease_ms, DRIFTY.max_clock_drift)
    sim.crash(1)
    take_over_at(sim, widened_end - 1)
    assert not [e for e in sim.events if e["kind"] == "election_started" and e["t"] < widened_end and e["node"] == 2]
    acquired = [e for e in sim.events if e["kind"] == "lease_acquired" and e["node"] == 2]
    assert acquired and acquired[0]["start"] >= widened_end
    assert sim.leader() == 2


def test_lease_exclusion_catches_a_missing_drift_margin():
    sim = leader_then_renewal(NoDriftMargin, DRIFTY)
    renewed = sim.now
    sim.crash(1)
    with pytest.raises(InvariantViolation, match="lease exclusion"):
        take_over_at(sim, renewed + DRIFTY.lease_ms)


def cut_off_leader_for_one_lease(algo: type[Paxos]) -> Simulation:
    sim = leader_then_renewal(algo, DRIFTY)
    sim.partition([1], [2, 3])
    sim.run_for(DRIFTY.lease_ms + DRIFTY.renew_ms)
    return sim


def test_leader_cut_off_from_its_acceptors_is_no_longer_leader_after_its_lease():
    assert cut_off_leader_for_one_lease(Paxos).node(1).role == Role.FOLLOWER


def test_lease_exclusion_catches_a_leader_that_outlives_its_lease():
    with pytest.raises(InvariantViolation, match="still leader"):
        cut_off_leader_for_one_lease(OutlivesItsLease)


def crash_restart_acceptors_then_compete(algo: type[Paxos]) -> Simulation:
    sim = leader_then_renewal(algo, DRIFTY.replace(max_clock_drift=0.002))
    for node in (2, 3):
        sim.crash(node)
        sim.restart(node)
    sim.trigger([2], DETECT)
    sim.run_for(300)
    return sim


def test_restarted_acceptors_abstain_so_the_old_lease_runs_out_first():
    sim = crash_restart_acceptors_then_compete(Paxos)
    abstains = [e for e in sim.events if e["kind"] == "lease_abstain"]
    assert {e["node"] for e in abstains} == {2, 3}
    assert any(e["kind"] == "stepped_down" and e["node"] == 1 for e in sim.events)


def test_lease_exclusion_catches_a_restart_without_abstention():
    with pytest.raises(InvariantViolation, match="lease exclusion"):
        crash_restart_acceptors_then_compete(NoAbstention)


def test_promise_kept_catches_promises_that_are_not_durable():
    class NoPersistSim(Simulation):
        def __init__(self, algo, *args, **kwargs):
            super().__init__(NoPersist, *args, **kwargs)

    import tests.paxos.scenarios as scenarios

    original = scenarios.Simulation
    scenarios.Simulation = NoPersistSim
    try:
        caught = []
        for seed in range(40):
            try:
                chaos_run(seed, fault_ms=1500)
            except InvariantViolation as exc:
                caught.append(str(exc))
    finally:
        scenarios.Simulation = original
    assert any("promise broken" in c or "lease exclusion" in c for c in caught), "40 chaos seeds never exposed the bug"
