"""Raft on real processes and sockets: election, crash, pause, partition, restart, bad input (3 and 5 nodes).

Every wait is on events or statuses with generous timeouts, so a loaded machine
only makes the tests slower, not flaky. Timeouts are raft's defaults (150-300 ms,
heartbeat 50 ms): already short, and long enough that a busy 2-core machine does
not make leaders flap.
"""
from __future__ import annotations

import random
import time

import pytest
import zmq

from quorumlab.algorithms.raft.messages import AppendEntries, RequestVote
from quorumlab.core import codec
from quorumlab.core.cluster import LocalCluster
from quorumlab.core.runtime.counters import REPORTS_PER_WINDOW
from tests.runtime.helpers import (
    assert_one_leader_per_term,
    assert_votes_and_terms_survive_restarts,
    became_leader,
    process_alive,
)

pytestmark = pytest.mark.integration

WAIT = 20.0


def statuses_agree(c: LocalCluster, ids=None):
    """Every given live node answers, exactly one is leader, all follow it in its term; returns (leader, term)."""
    st = c.status(ids)
    if any(s is None for s in st.values()):
        return None
    leaders = [i for i, s in st.items() if s["role"] == "leader"]
    if len(leaders) != 1:
        return None
    leader = leaders[0]
    term = st[leader]["term"]
    if all(s["leader"] == leader and s["term"] == term for s in st.values()):
        return leader, term
    return None


@pytest.mark.parametrize("n", [3, 5])
def test_a_leader_is_elected_and_every_node_agrees(n):
    with LocalCluster("raft", n) as c:
        leader = c.wait_for_leader(WAIT)
        agreed_leader, term = c.wait_until(lambda: statuses_agree(c), WAIT, "full agreement")
        assert term >= 1
        assert_one_leader_per_term(c.events())
        assert set(c.status()) == set(range(1, n + 1))
        assert leader in range(1, n + 1) and agreed_leader in range(1, n + 1)


def test_killed_leader_is_replaced_in_a_higher_term_and_rejoins_as_follower_after_restart():
    with LocalCluster("raft", 3) as c:
        old = c.wait_for_leader(WAIT)
        old_term = c.status([old])[old]["term"]
        pid = c.pid(old)
        t_kill = c.crash(old)
        assert not process_alive(pid)
        won = c.wait_for(became_leader(old_term), WAIT, since=t_kill)
        assert won["node"] != old and won["term"] > old_term
        new = c.wait_for_leader(WAIT, min_term=won["term"])
        c.restart(old)
        rejoined = c.wait_until(lambda: statuses_agree(c), WAIT, "the restarted node following the leader")
        back = c.status([old])[old]
        assert back["role"] == "follower" and back["leader"] == rejoined[0]
        assert back["term"] >= won["term"]
        assert new != old
        assert_one_leader_per_term(c.events())


def test_paused_leader_is_replaced_and_steps_down_when_resumed():
    with LocalCluster("raft", 3) as c:
        old = c.wait_for_leader(WAIT)
        old_term = c.status([old])[old]["term"]
        t_pause = c.pause(old)
        others = [i for i in c.ids if i != old]
        won = c.wait_for(became_leader(old_term, among=others), WAIT, since=t_pause)
        t_resume = c.resume(old)
        stepped = c.wait_for(
            lambda e: e["node"] == old and e["kind"] == "role" and e["from"] == "leader", WAIT, since=t_resume
        )
        # It steps down on the first higher term it hears of: possibly a stale vote request of an
        # earlier round still buffered in its socket, so only "higher than its own" is guaranteed.
        assert stepped["to"] == "follower" and stepped["term"] > old_term
        leader, term = c.wait_until(lambda: statuses_agree(c), WAIT, "agreement after the resume")
        assert leader != old or term > won["term"]
        assert_one_leader_per_term(c.events())


def test_leader_partitioned_into_a_minority_is_replaced_and_one_leader_remains_after_heal():
    with LocalCluster("raft", 5) as c:
        old = c.wait_for_leader(WAIT)
        old_term = c.status([old])[old]["term"]
        buddy = next(i for i in c.ids if i != old)
        minority = {old, buddy}
        majority = [i for i in c.ids if i not in minority]
        c.partition(minority, majority)
        t_split = c.events()[-1]["t"]
        won = c.wait_for(became_leader(old_term, among=majority), WAIT, since=t_split)
        new = c.wait_for_leader(WAIT, among=majority, min_term=won["term"])
        assert new in majority
        minority_wins = [e for e in c.events() if became_leader(old_term, among=minority)(e)]
        assert not minority_wins, f"a minority of 2 out of 5 elected a leader: {minority_wins}"
        c.heal()
        leader, term = c.wait_until(lambda: statuses_agree(c), WAIT, "a single leader after heal")
        highest = max(s["term"] for s in c.status().values())
        assert term == highest and term >= won["term"]
        assert_one_leader_per_term(c.events())


def test_follower_restart_keeps_its_term_and_vote_from_disk():
    with LocalCluster("raft", 3) as c:
        c.wait_for_leader(WAIT)
        leader, term = c.wait_until(lambda: statuses_agree(c), WAIT, "agreement")
        follower = next(i for i in c.ids if i != leader)
        before = c.status([follower])[follower]
        assert before["durable"] == {"term": before["term"], "voted_for": before["voted_for"]}
        t_kill = c.crash(follower)
        c.restart(follower)
        detected = c.wait_for(lambda e: e["kind"] == "restart_detected" and e["node"] == follower, WAIT, since=t_kill)
        assert detected["durable"] == {"term": before["term"], "voted_for": before["voted_for"]}
        after = c.status([follower])[follower]
        if after["term"] == before["term"]:
            assert after["voted_for"] == before["voted_for"]
        else:  # an election happened meanwhile: the term can only have grown
            assert after["term"] > before["term"]


def test_in_plain_mode_garbage_and_forged_frames_are_dropped_and_counted_and_the_node_keeps_running():
    # Plain mode lets anyone reach the peer port: the runtime's own checks are all that stands. (With keys,
    # such a sender cannot even complete the handshake: tests/security.)
    with LocalCluster("raft", 3, secure=False) as c:
        leader = c.wait_for_leader(WAIT)
        leader, term = c.wait_until(lambda: statuses_agree(c), WAIT, "agreement")
        target = next(i for i in c.ids if i != leader)
        cid = c.cluster_id
        forged = {
            "codec": [b"", b"\x00" * 3, b"garbage that is not a frame at all", codec.encode(RequestVote(cluster=cid, src=leader, dst=target, term=term))[:-3]],
            "cluster": [codec.encode(RequestVote(cluster=cid ^ 1, src=leader, dst=target, term=term + 100))],
            "unknown_src": [codec.encode(RequestVote(cluster=cid, src=99, dst=target, term=term + 100)),
                            codec.encode(AppendEntries(cluster=cid, src=target, dst=target, term=term + 100))]
            + [codec.encode(RequestVote(cluster=cid, src=1000 + k, dst=target, term=term + 100)) for k in range(40)],
            "dst": [codec.encode(RequestVote(cluster=cid, src=leader, dst=leader, term=term + 100))],
        }
        ctx = zmq.Context()
        try:
            sock = ctx.socket(zmq.DEALER)
            sock.connect(c.addresses[target])
            for frames in forged.values():
                for frame in frames:
                    sock.send(frame)
            sock.send_multipart([b"two", b"frames"])
            sock.close(linger=5000)  # deliver everything queued before closing
        finally:
            ctx.term()
        expected = {reason: len(frames) for reason, frames in forged.items()}
        expected["frames"] = 1
        total = sum(expected.values())
        counters = c.wait_until(
            lambda: (lambda s: s and s["counters"]["dropped_bad"] >= total and s["counters"])(c.status([target])[target]),
            WAIT,
            "the drops to be counted",
        )
        assert counters["dropped_bad_by_reason"] == expected
        assert counters["dropped_bad"] == total
        status = c.status([target])[target]
        assert status["term"] < term + 100, "a forged higher term got through"
        reports = [e for e in c.events() if e["kind"] == "dropped" and e["node"] == target]
        # One limit for all reports, whatever source each frame claims: 40 claimed ids buy no 40 reports.
        assert 1 <= len(reports) <= REPORTS_PER_WINDOW
        assert c.wait_until(lambda: statuses_agree(c), WAIT, "agreement after the garbage")
        assert c.is_running(target)


def test_votes_and_terms_survive_sigkill_at_random_moments():
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    print(f"seed={seed}")  # shown by pytest when the test fails
    with LocalCluster("raft", 5) as c:
        for _ in range(5):
            leader = c.wait_for_leader(WAIT)
            victims = [leader]
            c.crash(leader)
            if rng.random() < 0.6:  # a second kill lands during the election that follows
                time.sleep(rng.uniform(0.0, 0.3))
                victims.append(rng.choice([i for i in c.ids if i != leader]))
                c.crash(victims[-1])
            c.wait_for_leader(WAIT, among=[i for i in c.ids if i not in victims])
            for v in victims:
                c.restart(v)
        c.wait_until(lambda: statuses_agree(c), WAIT, f"agreement at the end (seed {seed})")
        events = c.events()
    assert sum(1 for e in events if e["kind"] == "restart_detected") >= 5, f"seed {seed}"
    assert_one_leader_per_term(events)
    assert_votes_and_terms_survive_restarts(events)
