"""The attacks of issue 12 on real processes over ZeroMQ, rerun against a cluster with keys.

Each attack once broke safety from outside the cluster: forged votes made two leaders in
one term, forged entries overwrote committed keys, forged acknowledgements made a leader
acknowledge a write no follower held, and the control socket answered anyone. With a
keyring, a process without a member's key cannot complete the handshake, a member cannot
speak as another member, and each control command needs a client key whose role allows it.
"""
from __future__ import annotations

import time

import pytest
import zmq

from quorumlab.algorithms.raft.messages import AppendEntries, AppendEntriesResponse, RequestVote, RequestVoteResponse
from quorumlab.core import codec
from quorumlab.core.cluster import LocalCluster
from quorumlab.core.kv import PUT, Command
from quorumlab.core.runtime.auth import ClientAuth
from quorumlab.core.runtime.control import ControlClient, ControlError
from tests.runtime.helpers import assert_one_leader_per_term
from tests.security.helpers import WAIT, agreed, attacker_socket, try_send

pytestmark = pytest.mark.integration


def _forgeries(c: LocalCluster, leader: int, target: int, term: int, last_index: int) -> list[bytes]:
    """What an outsider sends a node: a granted vote, entries that overwrite and plant keys, an acknowledgement."""
    other = next(i for i in c.ids if i not in (leader, target))
    planted = Command(1, 1, PUT, b"planted", b"by an attacker").encode()
    cid = c.cluster_id
    return [
        codec.encode(RequestVoteResponse(cluster=cid, src=other, dst=target, term=term + 1, granted=True)),
        codec.encode(AppendEntries(cluster=cid, src=leader, dst=target, term=term + 5, prev_log_index=last_index,
                                   prev_log_term=term, entries=[(term + 5, last_index + 1, planted)],
                                   leader_commit=last_index + 1)),
        codec.encode(AppendEntriesResponse(cluster=cid, src=other, dst=target, term=term, success=True,
                                           match_index=last_index + 50)),
        codec.encode(RequestVote(cluster=cid, src=other, dst=target, term=term + 9, last_log_index=10**6,
                                 last_log_term=term + 9)),
    ]


def test_frames_from_a_process_without_a_members_key_change_no_term_vote_log_or_commit():
    with LocalCluster("raft", 3, config={"pre_vote": True, "check_quorum": True}) as c:
        kv = c.kv_client()
        kv.put(b"committed", b"original")
        leader, term = c.wait_until(lambda: agreed(c), WAIT, "agreement")
        c.wait_until(lambda: len({(s["commit_index"], s["last_applied"]) for s in c.status().values()}) == 1, WAIT,
                     "every node to have applied the put")
        before = c.status()
        ctx = zmq.Context()
        try:
            for target in c.ids:
                status = before[target]
                frames = _forgeries(c, leader, target, term, status["last_log_index"])
                plain = attacker_socket(ctx, c.addresses[target])
                stranger = attacker_socket(ctx, c.addresses[target], c.keyring.nodes[target])
                for _ in range(20):
                    for frame in frames:
                        try_send(plain, frame)
                        try_send(stranger, frame)
                    time.sleep(0.01)
            c.wait_until(lambda: all(s and s["counters"]["dropped_bad_by_reason"].get("auth", 0) >= 1
                                     for s in c.status().values()), WAIT, "every node to refuse the stranger's key")
        finally:
            ctx.destroy(linger=0)
        time.sleep(0.5)
        after = c.status()
        for i in c.ids:
            assert after[i]["term"] == before[i]["term"], f"node {i}'s term moved"
            assert after[i]["voted_for"] == before[i]["voted_for"]
            assert after[i]["last_log_index"] == before[i]["last_log_index"]
            assert after[i]["commit_index"] == before[i]["commit_index"]
            for kind in ("RequestVote", "RequestVoteResponse"):
                assert after[i]["counters"]["recv"].get(kind) == before[i]["counters"]["recv"].get(kind), kind
        assert kv.get(b"committed") == b"original" and kv.get(b"planted") is None
        kv.close()
        assert_one_leader_per_term(c.events())


def test_forged_votes_during_an_election_do_not_make_two_leaders_in_one_term():
    with LocalCluster("raft", 3) as c:
        leader, term = c.wait_until(lambda: agreed(c), WAIT, "agreement")
        followers = [i for i in c.ids if i != leader]
        ctx = zmq.Context()
        try:
            socks = {i: attacker_socket(ctx, c.addresses[i], c.keyring.nodes[i]) for i in c.ids}
            c.partition([leader], followers)  # the harness (admin key) provokes elections on both sides
            c.trigger(c.ids, "election")
            for k in range(50):
                for i in c.ids:
                    for src in c.ids:
                        if src != i:
                            try_send(socks[i], codec.encode(RequestVoteResponse(
                                cluster=c.cluster_id, src=src, dst=i, term=term + 1 + k // 10, granted=True)))
                time.sleep(0.005)
            c.heal()
            c.wait_until(lambda: agreed(c), WAIT, "agreement after the election")
        finally:
            ctx.destroy(linger=0)
        assert_one_leader_per_term(c.events())
        isolated = c.status([leader])[leader]
        assert isolated["counters"]["dropped_bad_by_reason"].get("auth", 0) >= 1


def test_a_member_cannot_speak_as_another_member():
    with LocalCluster("raft", 3) as c:
        leader, term = c.wait_until(lambda: agreed(c), WAIT, "agreement")
        target = next(i for i in c.ids if i != leader)
        impostor_key = next(i for i in c.ids if i not in (leader, target))
        ctx = zmq.Context()
        try:
            sock = attacker_socket(ctx, c.addresses[target], c.keyring.nodes[target], c.keyring.node_keys(impostor_key))
            forged = codec.encode(AppendEntries(cluster=c.cluster_id, src=leader, dst=target, term=term + 7,
                                                prev_log_index=0, prev_log_term=0, entries=[], leader_commit=0))
            for _ in range(5):
                sock.send(forged)
            counters = c.wait_until(
                lambda: (lambda s: s and s["counters"]["dropped_bad_by_reason"].get("impersonation", 0) >= 5
                         and s["counters"])(c.status([target])[target]), WAIT, "the impersonation to be dropped")
        finally:
            ctx.destroy(linger=0)
        assert counters["dropped_bad_by_reason"]["impersonation"] == 5
        assert c.status([target])[target]["term"] == term
        dropped = c.wait_for(lambda e: e["kind"] == "dropped" and e.get("reason") == "impersonation", WAIT)
        assert f"authenticated as node {impostor_key} claims to be node {leader}" in dropped["detail"]


def test_the_control_socket_answers_only_keys_whose_role_allows_the_command():
    with LocalCluster("raft", 3) as c:
        c.wait_for_leader(WAIT)
        node = c.ids[0]
        address = c.control_addresses[node]
        stranger = ControlClient(zmq.Context.instance())
        with pytest.raises(ControlError, match="no reply"):
            stranger.request(address, "status", 1.0)
        with pytest.raises(ControlError, match="no reply"):
            stranger.request(address, "stop", 1.0)
        stranger.close()
        endpoints = {node: [address]}
        reader = ControlClient(auth=ClientAuth.from_keyring(c.keyring, "reader", endpoints))
        client = ControlClient(auth=ClientAuth.from_keyring(c.keyring, "client", endpoints))
        try:
            assert reader.request(address, "status")["id"] == node
            for cmd, args in (("stop", {}), ("partition", {"peers": [2]}), ("fire", {"timer": "election"}),
                              ("heal", {}), ("propose", {"data": "eA=="})):
                with pytest.raises(ControlError, match=f"forbidden: the role 'read' may not '{cmd}'"):
                    reader.request(address, cmd, **args)
            with pytest.raises(ControlError, match="forbidden: the role 'client' may not 'stop'"):
                client.request(address, "stop")
        finally:
            reader.close()
            client.close()
        assert c.is_running(node)
        assert c.status([node])[node]["counters"]["dropped_bad_by_reason"].get("auth", 0) == 0, (
            "a plain client fails at the greeting (mechanism mismatch) before any key is checked")
