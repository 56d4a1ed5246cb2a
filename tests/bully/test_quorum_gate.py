"""The optional quorum-gated variant: a coordinator leads only while a majority acknowledges it."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from quorumlab.algorithms.bully import BullyConfig
from quorumlab.algorithms.bully.algorithm import HEARTBEAT, QUORUM_LEASE
from quorumlab.algorithms.bully.lease import QuorumLease
from quorumlab.algorithms.bully.messages import Coordinator, Election, Heartbeat, HeartbeatAck
from quorumlab.core.algorithm import Role

from quorumlab.core.testing import armed, arrive, notes
from tests.bully.support import LeadersAtOnce, bounded_sim, node, sends, settled

GATED = BullyConfig(quorum_gated=True)


@given(
    n=st.integers(1, 9),
    acks=st.dictionaries(st.integers(2, 9), st.integers(0, 1000), max_size=8),
    now=st.integers(0, 1500),
)
def test_lease_holds_exactly_when_a_majority_acknowledged_within_the_lease(n, acks, now):
    lease = QuorumLease(range(1, n + 1), 1, 200)
    heard = {p: t for p, t in acks.items() if p <= n and t <= now}
    for p, t in sorted(heard.items(), key=lambda kv: kv[1]):
        lease.record(p, t)
    fresh = sum(1 for t in heard.values() if now < t + 200)
    assert lease.holds(now) == (fresh + 1 > n // 2)


def test_gated_coordinator_leads_only_once_a_majority_acknowledged_its_announcement():
    b, out = node(5, config=GATED)
    assert b.role is Role.CANDIDATE and b.leader == 5
    assert notes(out, "election_won") == []
    b.receive(arrive(HeartbeatAck, 1, 5, 1), 3)
    assert b.role is Role.CANDIDATE
    out = b.receive(arrive(HeartbeatAck, 2, 5, 1), 4)
    assert b.role is Role.LEADER
    assert notes(out, "election_won") == [{"term": 1}]
    assert armed(out) == {QUORUM_LEASE: 3 + GATED.lease_ms - 4}  # runs from the older of the two acks


def test_gated_follower_acknowledges_its_coordinator_and_its_heartbeats():
    b, _ = node(2, config=GATED)
    out = b.receive(arrive(Coordinator, 4, 2, 3), 5)
    assert sends(out) == [("HeartbeatAck", 4, 3)]
    out = b.receive(arrive(Heartbeat, 4, 2, 3), 55)
    assert sends(out) == [("HeartbeatAck", 4, 3)]


def test_plain_bully_sends_no_acknowledgements():
    b, _ = node(2)
    assert sends(b.receive(arrive(Coordinator, 4, 2, 3), 5)) == []
    assert sends(b.receive(arrive(Heartbeat, 4, 2, 3), 55)) == []


def test_plain_bully_coordinator_ignores_a_quorum_lease_timer_it_never_armed():
    b, _ = node(5)
    assert b.fire(QUORUM_LEASE, 10) == [] and b.role is Role.LEADER


def test_acknowledgement_of_an_earlier_reign_does_not_count():
    b, _ = node(5, config=GATED)
    b.receive(arrive(HeartbeatAck, 1, 5, 0), 3)
    b.receive(arrive(HeartbeatAck, 2, 5, 0), 3)
    assert b.role is Role.CANDIDATE


def test_gated_coordinator_steps_down_when_the_majority_goes_quiet_and_returns_when_it_is_back():
    b, _ = node(5, config=GATED)
    b.receive(arrive(HeartbeatAck, 1, 5, 1), 3)
    b.receive(arrive(HeartbeatAck, 2, 5, 1), 4)
    out = b.fire(QUORUM_LEASE, 3 + GATED.lease_ms)
    assert b.role is Role.CANDIDATE and b.leader == 5
    assert notes(out, "election_lost") == [{"term": 1, "reason": "no quorum"}]
    assert sends(b.fire(HEARTBEAT, 200)) == [("Heartbeat", 0, 1)], "it keeps heartbeating, so a healed partition reunites"
    b.receive(arrive(HeartbeatAck, 3, 5, 1), 210)
    b.receive(arrive(HeartbeatAck, 4, 5, 1), 211)
    assert b.role is Role.LEADER


def test_single_node_cluster_is_its_own_majority():
    b, _ = node(1, n=1, config=GATED)
    assert b.role is Role.LEADER


@pytest.mark.parametrize("groups", [([1, 2], [3, 4, 5]), ([4, 5], [1, 2, 3]), ([5], [1, 2, 3, 4]), ([1, 5], [2, 3, 4])])
def test_gated_partition_never_shows_two_leaders_at_once(groups):
    for seed in range(10):
        at_once = LeadersAtOnce()
        sim = bounded_sim(5, seed, GATED, observers=[at_once])
        assert sim.run_until(settled, 1000), f"seed={seed}"
        sim.run_for(500)  # let the start-up elections finish: the lease guards a quiet cluster
        at_once.reset()
        sim.partition(*groups)
        sim.run_for(1000)
        majority = groups[0] if len(groups[0]) >= 3 else groups[1]
        assert at_once.max == 1, f"seed={seed}: {at_once.max} leaders at once at t={at_once.when}"
        assert [lid for lid, _ in sim.leaders()] == [max(majority)], f"seed={seed}"
        sim.heal()
        assert sim.run_until(settled, 1000), f"seed={seed}: no single leader after healing"


def test_gated_even_split_leaves_no_leader_at_all():
    """What the quorum costs: with no majority on either side, nobody leads."""
    sim = bounded_sim(4, 1, GATED)
    assert sim.run_until(settled, 1000)
    sim.run_for(500)
    sim.partition([1, 2], [3, 4])
    sim.run_for(1000)
    assert sim.leaders() == []
    sim.heal()
    assert sim.run_until(settled, 1000)


def test_gated_coordinator_announcing_again_keeps_its_reign_and_counts_acks_of_earlier_epochs():
    b, _ = node(5, config=GATED)
    b.receive(arrive(HeartbeatAck, 1, 5, 1), 3)
    b.receive(arrive(HeartbeatAck, 2, 5, 1), 4)
    b.receive(arrive(Election, 3, 5, 1), 10)  # answered, and announced again with epoch 2
    assert b.term == 2 and b.role is Role.LEADER
    b.receive(arrive(HeartbeatAck, 3, 5, 1), 11)
    assert b.lease.expires_at() == 4 + GATED.lease_ms
