"""Paxos on real processes over ZeroMQ: elect, kill the leader, a new leader once its lease is over.

Lease times in the event log are CLOCK_MONOTONIC ms, comparable across the
processes of one host, so the same safety observers as in simulation are
replayed on the real run's events.
"""
from __future__ import annotations

import pytest

from quorumlab.core.cluster import LocalCluster

from quorumlab.algorithms.paxos import PaxosConfig, check_event_log, drift_widened

pytestmark = pytest.mark.integration

WAIT = 20.0
LEASE_EVENTS = ("lease_acquired", "lease_renewed")


def test_killed_leader_is_replaced_after_its_lease_and_rejoins_after_abstaining():
    config = PaxosConfig()
    with LocalCluster("paxos", 3) as c:
        old = c.wait_for_leader(WAIT)
        token = c.status([old])[old]["fencing_token"]
        assert token is not None
        c.wait_for(lambda e: e["kind"] == "lease_renewed" and e["node"] == old, WAIT)
        t_kill = c.crash(old)
        won = c.wait_for(lambda e: e["kind"] == "election_won" and e["node"] != old, WAIT, since=t_kill)
        new = c.wait_for_leader(WAIT)
        assert new == won["node"] != old
        events = c.events()
        last_old = max(e["start"] for e in events if e["node"] == old and e["kind"] in LEASE_EVENTS)
        acquired = next(e for e in events if e["kind"] == "lease_acquired" and e["node"] == new and e["t"] >= t_kill)
        assert acquired["start"] >= last_old + drift_widened(config.lease_ms, config.max_clock_drift)
        assert c.status([new])[new]["fencing_token"] > token
        t_restart = c.restart(old)
        abstain = c.wait_for(lambda e: e["kind"] == "lease_abstain" and e["node"] == old, WAIT, since=t_restart)
        assert abstain["ms"] == drift_widened(config.lease_ms, config.max_clock_drift)
        c.wait_until(lambda: (lambda s: s and s["role"] == "follower" and s["leader"] == new)(c.status([old])[old]), WAIT, "the old leader following")
        check_event_log(c.events(), config)


def test_minority_leader_steps_down_and_one_leader_remains_after_heal():
    with LocalCluster("paxos", 5) as c:
        old = c.wait_for_leader(WAIT)
        buddy = next(i for i in c.ids if i != old)
        majority = [i for i in c.ids if i not in (old, buddy)]
        c.partition({old, buddy}, majority)
        t_split = c.events()[-1]["t"]
        c.wait_for(lambda e: e["kind"] == "stepped_down" and e["node"] == old, WAIT, since=t_split)
        new = c.wait_for_leader(WAIT, among=majority)
        assert new in majority
        c.heal()
        c.wait_until(
            lambda: (lambda st: all(s and s["leader"] == new for s in st.values()))(c.status()), WAIT, "everyone following after heal"
        )
        check_event_log(c.events())
