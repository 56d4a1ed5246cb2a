"""``--trace-messages``: a node records an event per message it sends and receives, and bench web pairs them."""
from __future__ import annotations

import collections

import pytest

from quorumlab.core.cluster import LocalCluster
from quorumlab.bench.web.traffic import MessageTrace

pytestmark = pytest.mark.integration


def test_traced_nodes_record_every_send_and_receive_and_each_receive_pairs_with_a_send():
    with LocalCluster("raft", 3, trace_messages=True) as cluster:
        leader = cluster.wait_for_leader(10)
        with cluster.kv_client() as kv:
            kv.put("k", "v")
    # read after the nodes have stopped: while they run, one node's event file can be ahead of another's
    # (a receive written before the matching send reached its file)
    events = cluster.events()
    sends = [e for e in events if e["kind"] == "send"]
    recvs = [e for e in events if e["kind"] == "recv"]
    assert sends and recvs
    assert {e["type"] for e in sends if e["node"] == leader} >= {"AppendEntries"}
    assert all(e["peer"] in cluster.ids and e["peer"] != e["node"] for e in sends + recvs)
    sent_per_link = collections.Counter((e["node"], e["peer"], e["type"]) for e in sends)
    recv_per_link = collections.Counter((e["peer"], e["node"], e["type"]) for e in recvs)
    assert all(recv_per_link[k] <= sent_per_link[k] for k in recv_per_link), "nothing is received that was not sent"
    flights = MessageTrace().feed(sorted(events, key=lambda e: e["t"]), now=events[-1]["t"])
    ok = [f for f in flights if f[5] == "ok"]
    assert len(ok) == len(recvs), "every receive pairs with its send"
    assert all(f[3] <= f[4] for f in ok)


def test_untraced_nodes_record_no_event_per_message():
    with LocalCluster("raft", 3) as cluster:
        cluster.wait_for_leader(10)
        events = cluster.events()
    assert not [e for e in events if e["kind"] in ("send", "recv")]
