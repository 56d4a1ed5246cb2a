"""Task 6, durability: currentTerm and votedFor are on disk before any message that depends on them leaves."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from quorumlab.algorithms.raft import ELECTION, Raft, RequestVote, RequestVoteResponse
from quorumlab.core.algorithm import Role
from quorumlab.core.errors import InvariantViolation
from quorumlab.core.sim import Network, Simulation
from quorumlab.core.storage import FileStorage, MemoryStorage
from quorumlab.core.testing import arrive, outgoing
from tests.raft.helpers import CLUSTER, make_node, persisted_before_sends

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_start_reads_term_and_vote_back_from_storage():
    node, _ = make_node(term=12, voted_for=2)
    assert (node.term, node.voted_for) == (12, 2)


def test_a_log_entry_newer_than_the_durable_term_raises_the_term_at_start():
    """A crash between the log's fsync and the state file's (before storage wrote the state first) left
    an entry of term 5 with term 3 on disk: the node must not lead term 4 and append under term 5."""
    node, effects = make_node(term=3, voted_for=2, log_terms=[1, 5])
    assert (node.term, node.voted_for) == (5, None)
    assert node.storage.read() == {"term": 5, "voted_for": None}
    assert any(getattr(e, "kind", None) == "term_from_log" for e in effects)
    node.fire(ELECTION, 10)
    assert node.term == 6


def test_file_storage_writes_the_state_before_the_log(tmp_path):
    from quorumlab.algorithms.raft.durable import LOG_FILE

    storage = FileStorage(str(tmp_path))
    log = storage.open_log(LOG_FILE)
    order = []
    write_state, flush_log = storage._flush_state, log.flush
    storage._flush_state = lambda: (order.append("state"), write_state())[1]
    log.flush = lambda: (order.append("log"), flush_log())[1]
    storage.write({"term": 4, "voted_for": None})
    log.append([b"\x04" + b"\x00" * 7 + b"cmd"])
    storage.flush()
    assert order == ["state", "log"]


def test_every_send_that_depends_on_term_or_vote_follows_a_persist():
    node, _ = make_node(1, term=1)
    assert persisted_before_sends(node.fire(ELECTION, 200))  # new term, own vote
    node, _ = make_node(1, term=1)
    assert persisted_before_sends(node.receive(arrive(RequestVote, 2, 1, 1), 10))  # granted vote
    node, _ = make_node(1, term=1)
    assert persisted_before_sends(node.receive(arrive(RequestVote, 2, 1, 4, last_log_term=0), 10))  # adopted term


def test_a_crash_after_the_persist_is_flushed_keeps_the_vote():
    storage = MemoryStorage()
    node, _ = make_node(1, term=1, storage=storage)
    node.receive(arrive(RequestVote, 2, 1, 1), 10)
    storage.flush()  # the runtime flushes Persist before the reply leaves
    storage.crash()
    again, _ = make_node(1, storage=storage)
    assert (again.term, again.voted_for) == (1, 2)


def test_restarted_voter_does_not_vote_twice_in_a_term():
    storage = MemoryStorage()
    node, _ = make_node(1, (1, 2, 3), storage=storage)
    node.receive(arrive(RequestVote, 2, 1, 1), 10)
    storage.flush()
    storage.crash()
    node, _ = make_node(1, (1, 2, 3), storage=storage)
    assert outgoing(node.receive(arrive(RequestVote, 3, 1, 1), 20)) == [
        RequestVoteResponse(cluster=CLUSTER, src=1, dst=3, term=1, granted=False)
    ]
    assert outgoing(node.receive(arrive(RequestVote, 2, 1, 1), 21))[0].granted is True  # same candidate again: fine


def test_restarted_candidate_remembers_it_voted_for_itself():
    storage = MemoryStorage()
    node, _ = make_node(1, storage=storage)
    node.fire(ELECTION, 200)
    storage.flush()
    storage.crash()
    node, _ = make_node(1, storage=storage)
    assert node.role == Role.FOLLOWER and (node.term, node.voted_for) == (1, 1)
    assert outgoing(node.receive(arrive(RequestVote, 2, 1, 1), 20))[0].granted is False


def test_vote_survives_a_real_process_kill_with_file_storage(tmp_path):
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.raft.vote_child", str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        line = child.stdout.readline().strip()
        assert line == "sent RequestVoteResponse 5 True"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    node, _ = make_node(3, (1, 2, 3), storage=FileStorage(tmp_path))
    assert (node.term, node.voted_for) == (5, 2)
    assert outgoing(node.receive(arrive(RequestVote, 1, 3, 5), 10))[0].granted is False


def test_crash_and_restart_storms_never_make_a_node_vote_twice():
    """Voters crash and restart constantly; VoteOnce, TermNeverDecreases and ElectionSafety watch every event."""
    for seed in range(15):
        sim = Simulation(Raft, 5, seed=seed, network=Network(delay_ms=(1, 10)))
        rng = sim.rng
        try:
            for _ in range(60):
                sim.run_for(rng.randint(5, 60))
                victim = rng.choice(sim.ids)
                sim.crash(victim)
                sim.run_for(rng.randint(0, 20))
                sim.restart(victim)
            assert sim.run_until(lambda s: s.unanimous_leader() is not None, 3000), f"seed={seed}"
        except InvariantViolation as exc:
            pytest.fail(f"seed={seed}: {exc}")
