"""Forwarding under a real fault: an embedded follower keeps submitting while the leader's process is SIGKILLed.

Every submit must be answered (none left waiting), each answer must be one the protocol allows (the result, or a
refusal that says whether the command may have been applied), and every command answered with a result must be in
the state the new leader and the follower hold.
"""
from __future__ import annotations

import threading
import time

import pytest

from quorumlab.bench.throughput.embedded import embedded_member, make_follower
from quorumlab.core.kv import PUT, Command
from tests.embedded.support import WAIT, our_threads, wait_until

pytestmark = pytest.mark.integration

ALLOWED = {"leadership_lost", "not_leader", "busy"}
"""What a forwarded submit may be told besides its result when its leader dies (applied False or None)."""


def test_a_leader_killed_under_forwarded_load_leaves_no_submit_unanswered_and_loses_none_acknowledged():
    with embedded_member("raft", 3, None, True) as (cluster, node):
        make_follower(cluster, node, "election")
        victim = node.leader
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
            cluster.crash(victim)
            wait_until(lambda: node.leader not in (None, victim), WAIT, "a new leader after the SIGKILL")
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
        mine = node.call(lambda: set(node.state_machine.data)).result(WAIT)
        assert results <= mine, f"{len(results - mine)} acknowledged forwards are missing on the follower"
        leader = node.leader
        if leader != node.id:
            wait_until(lambda: results <= {bytes.fromhex(k) for k in cluster.request(leader, "state_machine")["data"]},
                       WAIT, "the new leader holds every acknowledged forward")
        assert refusals, "the SIGKILL hit no forward in flight: the test saw no fault"
    assert not our_threads()
