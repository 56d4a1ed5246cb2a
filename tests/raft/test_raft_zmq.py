"""The replicated key-value store on real processes over ZeroMQ: redirects, and no acknowledged write lost."""
from __future__ import annotations

import pytest

from quorumlab.core.client import KVClient, Timeout
from quorumlab.core.kv import GET
from quorumlab.core.cluster import LocalCluster

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
            cluster.crash(victim)  # SIGKILL: no clean shutdown
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


def _send_raw(sock, rid: bytes, *frames: bytes) -> None:
    sock.send_multipart([rid, *frames])


def _replies(sock, count: int, timeout_ms: int = 5000) -> dict[bytes, list[bytes]]:
    """The next ``count`` replies on ``sock``, by request id."""
    out = {}
    while len(out) < count:
        assert sock.poll(timeout_ms), f"only {len(out)} of {count} replies arrived"
        frames = sock.recv_multipart()
        out[frames[0]] = frames[1:]
    return out


def test_binary_and_json_proposals_read_in_one_pass_are_answered_each_with_its_own_results(cluster):
    """The leader hands every propose request it reads in one pass to raft at once; each request must
    still get exactly its own commands' results, in order, whatever mix of forms arrived together."""
    import base64
    import json

    from quorumlab.core.kv import GET, PUT, Command, Result
    from quorumlab.core.runtime.control import parse_propose_reply, propose_frames

    leader = cluster.wait_for_leader(10)
    with client(cluster) as kv:
        kv.leader = leader
        sock = kv._socket(leader)
        puts = {b"a%d" % i: [Command(kv.client_id, 100 + 10 * i + j, PUT, b"key%d" % i, b"v%d-%d" % (i, j)).encode()
                             for j in range(3)] for i in range(8)}
        for rid, commands in puts.items():  # eight requests sent back to back: read together by the leader
            _send_raw(sock, rid, *propose_frames(commands))
        gets = [Command(kv.client_id, 500 + i, GET, b"key%d" % i).encode() for i in range(8)]
        _send_raw(sock, b"json", json.dumps({"cmd": "propose", "batch": [base64.b64encode(g).decode() for g in gets]}).encode())
        replies = _replies(sock, 9)
    for i in range(8):
        results = parse_propose_reply(replies[b"a%d" % i])["results"]
        previous = [Result.decode(r).value for r in results]
        assert previous == [None, b"v%d-0" % i, b"v%d-1" % i], "each put answers with the value it replaced"
    doc = json.loads(replies[b"json"][0])
    assert doc["ok"] and [Result.decode(base64.b64decode(r)).value for r in doc["result"]["results"]] == [
        b"v%d-2" % i for i in range(8)
    ]


def test_malformed_or_misdirected_binary_proposals_get_an_error_reply_and_change_nothing(cluster):
    from quorumlab.core.framing import pack_blobs
    from quorumlab.core.kv import PUT, Command
    from quorumlab.core.runtime.control import PROPOSE, parse_propose_reply, propose_frames

    leader = cluster.wait_for_leader(10)
    follower = next(i for i in cluster.ids if i != leader)
    with client(cluster) as kv:
        sock = kv._socket(leader)
        _send_raw(sock, b"cut", PROPOSE, pack_blobs([b"x" * 10])[:-3])
        _send_raw(sock, b"two", PROPOSE, pack_blobs([b"x"]), b"extra frame")
        _send_raw(sock, b"none", PROPOSE, pack_blobs([]))
        _send_raw(sock, b"empty", PROPOSE, pack_blobs([b"ok-looking", b""]))
        replies = _replies(sock, 4)
        errors = {rid: parse_propose_reply(frames) for rid, frames in replies.items()}
        assert all(not e["ok"] for e in errors.values())
        assert "malformed propose request" in errors[b"cut"]["error"]
        assert "2 frames after the propose marker" in errors[b"two"]["error"]
        assert "1..10000 commands, got 0" in errors[b"none"]["error"]
        assert "empty command" in errors[b"empty"]["error"]
        other = kv._socket(follower)
        _send_raw(other, b"f", *propose_frames([Command(kv.client_id, 1, PUT, b"k", b"v").encode()]))
        refused = parse_propose_reply(_replies(other, 1)[b"f"])
        assert refused["error"] == "not leader" and refused["leader"] == leader
        assert refused["leader_address"] == cluster.addresses[leader]
        assert kv.get("k") is None, "nothing of the refused requests was applied"


def test_a_command_over_the_request_size_limit_is_refused_by_the_client_before_it_is_sent(cluster):
    from quorumlab.core.client import CommandFailed

    with client(cluster) as kv:
        with pytest.raises(CommandFailed, match="over the nodes' 16 MiB limit"):
            kv.put("big", b"x" * (17 << 20))
        assert kv.put("small", b"x" * (1 << 20)) is None and len(kv.get("small")) == 1 << 20


def test_put_many_sends_one_request_each_put_its_own_entry_and_result(cluster):
    with client(cluster) as kv:
        assert kv.put("a", "0") is None
        assert kv.put_many([("a", "1"), ("b", "2"), ("a", "3")]) == [b"0", None, b"1"]
        results = kv.execute_many([(GET, "a"), (GET, "b"), (GET, "missing")])
        assert [r.value for r in results] == [b"3", b"2", None] and kv.execute_many([]) == []
