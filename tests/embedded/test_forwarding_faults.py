"""Forwarding under a real fault: an embedded follower keeps submitting while the leader's process is SIGKILLed.

Every submit must be answered (none left waiting), each answer must be one the protocol allows (the result, or a
refusal that says whether the command may have been applied), and every command answered with a result must be in
the state the new leader and the follower hold.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

import pytest

from quorumlab.bench.throughput.embedded import embedded_member, make_follower
from quorumlab.core.cluster import LocalCluster
from quorumlab.core.embedded import EmbeddedNode
from quorumlab.core.kv import PUT, Command
from tests.embedded.support import WAIT, our_threads, wait_until

pytestmark = pytest.mark.integration

ALLOWED = {"leadership_lost", "not_leader", "busy"}
"""What a forwarded submit may be told besides its result when its leader dies (applied False or None)."""


def forwarded_load(fault: Callable[[LocalCluster, EmbeddedNode, int], None]) -> None:
    """An embedded follower keeps 100 forwards in flight; ``fault(cluster, node, leader)`` runs after 0.5 s and
    the load goes on 0.5 s after it. Then: every submit answered; refusals only ones that say "maybe" or "ask the
    leader"; at least one refusal (the fault hit forwards in flight); every acknowledged put on the follower and
    on the leader of the end."""
    with embedded_member("raft", 3, None, True) as (cluster, node):
        make_follower(cluster, node, "election")
        slots = threading.Semaphore(100)
        answers: dict[bytes, object] = {}
        lock = threading.Lock()
        stop = threading.Event()

        def answered(key: bytes):
            def done(result, error) -> None:
                with lock:
                    answers[key] = error if error is not None else result
                slots.release()
            return done

        def drive() -> None:
            seq = 0
            while not stop.is_set():
                if not slots.acquire(timeout=0.1):
                    continue
                seq += 1
                key = b"f%d" % seq
                node.submit_with_callback(Command(9, seq, PUT, key, b"v").encode(), answered(key))

        driver = threading.Thread(target=drive)
        driver.start()
        try:
            time.sleep(0.5)
            make_follower(cluster, node, "election")  # a process leads (an election under a slow machine may move it)
            fault(cluster, node, node.leader)
            time.sleep(0.5)
        finally:
            stop.set()
            driver.join(WAIT)
        for _ in range(100):  # every submit answered: the 100 slots come back
            assert slots.acquire(timeout=WAIT), "a forwarded submit was never answered"
        with lock:
            results = {k for k, a in answers.items() if isinstance(a, bytes)}
            refusals = {k: a for k, a in answers.items() if not isinstance(a, bytes)}
        assert len(results) > 100, f"only {len(results)} forwarded submits were applied"
        assert {getattr(e, "code", repr(e)) for e in refusals.values()} <= ALLOWED, refusals
        assert all(e.applied is not True for e in refusals.values())
        assert refusals, "the fault hit no forward in flight: the test saw no fault"
        wait_until(lambda: results <= node.call(lambda: set(node.state_machine.data)).result(WAIT), WAIT,
                   "the follower holds every acknowledged forward")
        wait_until(lambda: node.leader is not None, WAIT, "a leader at the end")
        leader = node.leader
        if leader != node.id:
            wait_until(lambda: results <= {bytes.fromhex(k) for k in cluster.request(leader, "state_machine")["data"]},
                       WAIT, "the leader holds every acknowledged forward")
    assert not our_threads()


def test_a_leader_killed_under_forwarded_load_leaves_no_submit_unanswered_and_loses_none_acknowledged():
    def kill(cluster: LocalCluster, node: EmbeddedNode, leader: int) -> None:
        cluster.crash(leader)
        wait_until(lambda: node.leader not in (None, leader), WAIT, "a new leader after the SIGKILL")

    forwarded_load(kill)


def test_a_follower_cut_off_from_its_leader_under_forwarded_load_answers_every_submit():
    """The follower and its leader stop hearing each other (both ways) for 0.6 s, then the link heals: forwards on
    the way are reported lost when the leader changes or stays silent, held ones go to whoever leads next."""
    def cut(cluster: LocalCluster, node: EmbeddedNode, leader: int) -> None:
        cluster.request(leader, "partition", peers=[node.id])
        node.call(lambda: node._runtime.partitioned.add(leader)).result(WAIT)
        time.sleep(0.6)
        node.call(lambda: node._runtime.partitioned.clear()).result(WAIT)
        cluster.request(leader, "heal")

    forwarded_load(cut)
