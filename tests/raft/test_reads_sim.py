"""Reads without the log in the simulator: linearizable under faults, and the lease's clock assumption made visible.

Histories of puts and reads (ReadIndex, lease and log reads at random nodes) under partitions,
crashes, restarts and loss are checked by quorumlab.core.check. A deliberately broken raft whose nodes
serve reads from their own state is caught the same way. The lease read is safe while the
leader's clock keeps within the drift bound; one scenario shows it returning a stale value
when the leader's clock runs at half speed, which is exactly what the bound assumes away.
"""
from __future__ import annotations

import pytest

from quorumlab.algorithms.raft import Raft, RaftConfig
from quorumlab.core.check import OK, Verdict, check
from quorumlab.core.kv import GET, PUT, Command, Result
from quorumlab.core.sim import Simulation
from tests.raft.reads_campaign import run_seed

SEEDS = range(20)


@pytest.mark.parametrize("seed", SEEDS)
def test_reads_stay_linearizable_under_partitions_crashes_restarts_and_loss(seed):
    history, sim = run_seed(seed)
    ok_reads = [o for o in history.operations() if o.op == "get" and o.outcome == OK]
    assert len(ok_reads) > 50, "too few reads were answered for the check to mean much"
    result = check(history, timeout_s=60)
    assert result.verdict == Verdict.OK, f"seed {seed}: {result.summary()}; replay: python -m tests.raft.reads_campaign --seed {seed}"


@pytest.mark.campaign
def test_reads_stay_linearizable_over_many_seeds():
    bad = []
    for seed in range(200):
        history, _ = run_seed(seed)
        if check(history, timeout_s=60).verdict != Verdict.OK:
            bad.append(seed)
    assert not bad, f"not linearizable: seeds {bad} (python -m tests.raft.reads_campaign --seed N)"


class ReadsFromOwnState(Raft):
    """Deliberately broken: every node answers a read at once from what it has applied (no read index)."""

    def on_read(self, ctx: int, consistency: str, now: int) -> None:
        self.read_ready(ctx, 0)


def test_nodes_that_serve_reads_from_their_own_state_are_caught(monkeypatch):
    import tests.raft.reads_campaign as campaign

    monkeypatch.setattr(campaign, "Raft", ReadsFromOwnState)
    caught = next((seed for seed in range(10) if check(run_seed(seed)[0], timeout_s=60).verdict == Verdict.VIOLATION),
                  None)
    assert caught is not None, "reads served from a node's own state went unnoticed in 10 seeds"


def _stale_lease_read(leader_clock_rate: float) -> tuple[bytes | None, bool]:
    """Leader 1 (its clock at ``leader_clock_rate``) is cut off right after a fresh lease; 2 and 3 elect a new
    leader that writes x=2; then x is read at 1 with a lease read. Returns (what 1 answered, whether it did)."""
    config = RaftConfig(check_quorum=True)
    sim = Simulation(Raft, 3, seed=3, config=config, clock_rates={1: leader_clock_rate})
    sim.run_until(lambda s: s.leader() is not None, timeout_ms=2_000)
    while sim.leader() != 1:  # make node 1 the leader: crash whoever else leads until it does
        other = sim.leader()
        sim.crash(other)
        sim.run_until(lambda s: s.leader() not in (None, other), timeout_ms=2_000)
        sim.restart(other)
    first = sim.submit(Command(1, 1, PUT, b"x", b"1").encode())
    sim.run_until(lambda s: first.done, timeout_ms=1_000)
    sim.run_until(lambda s: s.node(1)._lease_holds(s.node(1)._clock), timeout_ms=1_000)
    sim.partition([1], [2, 3])
    sim.run_until(lambda s: s.node(2).role.name == "LEADER" or s.node(3).role.name == "LEADER", timeout_ms=2_000)
    new_leader = 2 if sim.node(2).role.name == "LEADER" else 3
    second = sim.submit(Command(1, 2, PUT, b"x", b"2").encode(), node=new_leader)
    sim.run_until(lambda s: second.done, timeout_ms=1_000)
    assert second.ok
    read = sim.read(Command(1, 3, GET, b"x").encode(), node=1, consistency="lease")
    sim.run_for(1)
    return (Result.decode(read.result).value if read.done and read.ok else None), read.done and read.ok


def test_a_lease_read_within_the_drift_bound_never_returns_a_value_a_newer_leader_overwrote():
    value, answered = _stale_lease_read(1.0)
    assert not (answered and value == b"1"), "the lease outlived the followers' promise"


def test_a_lease_read_goes_stale_when_the_leaders_clock_runs_slower_than_the_bound_allows():
    # Quarter speed: the old leader believes its lease holds four times as long as it does. This is the assumption
    # the lease rests on (docs/raft.md): clocks drift apart by less than lease_drift_ms over one lease. (At half
    # speed the lease outlives the promise by 135 ms, which the new leader's election may or may not fit in,
    # depending on the seed's timeouts; a quarter leaves it 400 ms.)
    value, answered = _stale_lease_read(0.25)
    assert answered and value == b"1"
