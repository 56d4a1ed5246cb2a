"""Failover at the speed of the transport, on 3 real processes over ZeroMQ on 127.0.0.1: the leader is SIGKILLed and a
client write succeeds again long before any election timeout could have fired.

The election timeout is set far above anything the hinted path needs (2-4 s), so a write within one second can only
come from the transport's hint, on the nodes (peer_down) and in the client (its connection dropped). The targets
themselves are measured, not asserted (bench failover; docs/results/failover/).
"""
from __future__ import annotations

import os
import threading
import time

import pytest

from quorumlab.core.cluster import LocalCluster, now_ms
from quorumlab.core.kv import PUT

SLOW_TIMEOUTS = {"election_timeout_min": 2000, "election_timeout_max": 4000, "heartbeat_interval": 50}


def writes_until(c: LocalCluster, stop: threading.Event, done: list, errors: list) -> None:
    with c.kv_client(timeout_s=20.0) as kv:
        k = 0
        while not stop.is_set():
            k += 1
            try:
                kv.put("failover", str(k))
            except Exception as exc:
                errors.append(repr(exc))
                return
            done.append((now_ms(), kv.leader))


@pytest.mark.parametrize("hints", [True, False], ids=["hints", "timeout-only"])
def test_a_client_write_succeeds_within_a_second_of_the_leaders_sigkill_only_with_hints(hints):
    with LocalCluster("raft", 3, config={**SLOW_TIMEOUTS, "transport_hints": hints}) as c:
        old = c.wait_for_leader(30)
        c.wait_until(lambda: all(s and s["leader"] == old for s in c.status().values()), 10, "every node following")
        stop, done, errors = threading.Event(), [], []
        writer = threading.Thread(target=writes_until, args=(c, stop, done, errors), daemon=True)
        writer.start()
        try:
            c.wait_until(lambda: len(done) >= 5, 10, "writes before the fault")
            t0 = c.crash(old)
            end = time.monotonic() + 1.0
            while time.monotonic() < end and not [t for t, n in done if t > t0 and n != old]:
                time.sleep(0.005)
            after = [t - t0 for t, n in list(done) if t > t0 and n != old]
        finally:
            stop.set()
            writer.join(25)
        pids = list(c.spawned_pids)
        if hints:
            assert after and after[0] < 1000, f"no write at a new leader within 1 s of the kill; errors: {errors}"
            elections = [e for e in c.events() if e["kind"] == "election_started" and e["t"] > t0]
            assert len({e["term"] for e in elections}) == 1, elections
        else:
            assert not after, f"a write succeeded {after[0]:.0f} ms after the kill with hints off, before any timeout"
    for pid in pids:  # every process it started is gone
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_write_that_reaches_a_node_during_an_election_is_held_until_the_new_leader_is_known():
    """Without holding, node 2 (no leader known yet) would answer "not leader" naming nobody, at once; it holds the
    request instead, and once node 1 wins it answers with node 1's address, so the client goes straight there."""
    with LocalCluster("raft", 3, config={**SLOW_TIMEOUTS, "election_timeout_min": 20_000,
                                          "election_timeout_max": 30_000}) as c:
        c.wait_until(lambda: all(s is not None and s.get("peers_up") for s in c.status().values()), 10,
                     "every node connected")
        with c.kv_client(attempt_s=5.0) as kv:
            rid = kv.send(2, kv.command(PUT, "held", "v").encode())
            time.sleep(0.05)
            c.trigger([1], "election")
            reply = kv.wait(2, rid, 5.0)
            assert reply is not None and not reply["ok"] and reply.get("leader") == 1, reply
            assert kv.put("after", "v") is None and kv.leader == 1


def test_a_write_to_a_follower_whose_connection_to_the_leader_dropped_is_held_not_sent_to_the_dead_leader():
    """Hints off and slow timeouts, so nothing campaigns by itself: node 2 still names the killed leader as its
    leader, but its connection to it is down. It holds the request (instead of answering "not leader" with the
    dead node's address), and once node 2 wins an election it applies it."""
    with LocalCluster("raft", 3, config={**SLOW_TIMEOUTS, "election_timeout_min": 20_000,
                                          "election_timeout_max": 30_000, "transport_hints": False}) as c:
        c.wait_until(lambda: all(s is not None and len(s.get("peers_up", [])) == 2 for s in c.status().values()), 10,
                     "every node connected")
        c.trigger([1], "election")
        c.wait_until(lambda: all(s and s["leader"] == 1 for s in c.status().values()), 10, "every node following 1")
        t0 = c.crash(1)
        c.wait_for(lambda e: e["kind"] == "peer_down" and e["node"] == 2 and e.get("peer") == 1, 10, since=t0)
        assert c.request(2, "status")["leader"] == 1
        with c.kv_client(attempt_s=5.0) as kv:
            rid = kv.send(2, kv.command(PUT, "held", "v").encode())
            time.sleep(0.05)
            c.trigger([2], "election")
            reply = kv.wait(2, rid, 5.0)
            assert reply is not None and reply["ok"], reply


def test_after_its_connection_to_the_leader_drops_a_client_asks_every_node_at_once_and_the_winner_answers():
    """Leader 2 is killed while a write waits on it. The client's next node in turn would be node 3, which waits
    out a long hint_stagger_ms behind node 1 (the lower id), so node 1 usually wins; the client sent the write to
    both, and node 1 applies it: no redirect from node 3. (If node 1 asks before node 3 has seen the connection
    drop, node 3 refuses, then campaigns at once when it sees it, and node 1 yields: node 3 wins, also in one
    round and also without a redirect.)"""
    with LocalCluster("raft", 3, config={**SLOW_TIMEOUTS, "election_timeout_min": 20_000,
                                          "election_timeout_max": 30_000, "hint_stagger_ms": 2000}) as c:
        c.wait_until(lambda: all(s is not None and len(s.get("peers_up", [])) == 2 for s in c.status().values()), 10,
                     "every node connected")
        c.trigger([2], "election")
        c.wait_until(lambda: all(s and s["leader"] == 2 for s in c.status().values()), 10, "every node following 2")
        with c.kv_client(attempt_s=5.0) as kv:
            assert kv.put("before", "v") is None and kv.leader == 2
            assert kv.wait_connected(5.0) == {1, 2, 3}
            redirects = kv.redirects
            c.request(2, "partition", peers=[1, 3])  # the next write waits at node 2, which no longer replicates it
            done: list = []
            writer = threading.Thread(target=lambda: done.append(kv.put("during", "v")), daemon=True)
            writer.start()
            time.sleep(0.2)
            c.crash(2)
            writer.join(10)
            assert done == [None], "the write did not complete after the leader's crash"
            assert kv.leader in (1, 3) and (kv.link_drops_fanned, kv.redirects) == (1, redirects)
