"""The replicated key-value store on real processes over ZeroMQ: redirects, and no acknowledged write lost."""
from __future__ import annotations

import pytest

from core.client import KVClient, Timeout
from core.cluster import LocalCluster

FAST = {"election_timeout_min": 150, "election_timeout_max": 300, "heartbeat_interval": 30}


@pytest.fixture
def cluster():
    with LocalCluster("raft", 3, config=FAST) as c:
        c.wait_for_leader(15)
        yield c


def client(c: LocalCluster, **kw) -> KVClient:
    kv = c.kv_client(**kw)
    assert isinstance(kv, KVClient) and kv.control == c.control_addresses
    return kv


def test_kv_client_put_get_delete_cas_and_follows_a_redirect(cluster):
    leader = cluster.wait_for_leader(10)
    with client(cluster) as kv:
        kv.leader = next(i for i in cluster.ids if i != leader)  # start at a follower
        assert kv.put("k", "v1") is None
        assert kv.redirects >= 1 and kv.leader == leader
        assert kv.get("k") == b"v1"
        assert kv.cas("k", "v1", "v2") and not kv.cas("k", "v1", "v3")
        assert kv.get(b"k") == b"v2" and kv.delete("k") and kv.get("k") is None and not kv.delete("k")


def test_every_acknowledged_write_survives_kills_and_restarts_on_every_node(cluster):
    acknowledged: dict[bytes, bytes] = {}
    with client(cluster, timeout_s=8.0, attempt_s=0.5) as kv:
        for step in range(6):
            for k in range(40):
                key, value = b"s%d-k%d" % (step, k), b"v%d" % k
                try:
                    kv.put(key, value)
                except Timeout:
                    continue
                acknowledged[key] = value
            for i in cluster.ids:  # a node left down during the writes above comes back now
                if not cluster.is_running(i):
                    cluster.restart(i)
            leader = cluster.wait_for_leader(10)
            victim = leader if step % 2 == 0 else next(i for i in cluster.ids if i != leader)
            cluster.kill(victim)  # SIGKILL: no clean shutdown
            cluster.wait_for_leader(10, among=[i for i in cluster.ids if i != victim])
            if step % 3 != 2:
                cluster.restart(victim)
        for i in cluster.ids:
            if not cluster.is_running(i):
                cluster.restart(i)
        kv.put(b"final", b"marker")  # commits in the latest term, so every earlier entry is committed
        acknowledged[b"final"] = b"marker"
    assert len(acknowledged) > 100

    def all_present() -> bool:
        for i in cluster.ids:
            data = cluster.request(i, "state_machine")["data"]
            if any(data.get(k.hex()) != v.hex() for k, v in acknowledged.items()):
                return False
        return True

    cluster.wait_until(all_present, 20, "every acknowledged write on every node")
