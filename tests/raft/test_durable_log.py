"""The log on disk: entries survive restarts and SIGKILL mid-write; a torn tail is dropped, damage is refused."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys

import pytest

from quorumlab.algorithms.raft import ELECTION, FLUSH, Raft
from quorumlab.algorithms.raft.durable import LOG_FILE
from quorumlab.core.algorithm import Role
from quorumlab.core.errors import StorageError
from quorumlab.core.storage import FileStorage
from quorumlab.core.testing import flush_persists


def single_node(path) -> Raft:
    node = Raft(1, (1,), storage=FileStorage(path), rng=random.Random(0))
    node.start(0)
    return node


def test_entries_survive_a_restart_in_order(tmp_path):
    node = single_node(tmp_path)
    node.fire(ELECTION, 1)
    for k in range(20):
        node.propose(b"c%d" % k, 2)
    flush_persists(node.storage, node.fire(FLUSH, 2))
    assert node.commit_index == 21
    again = single_node(tmp_path)
    assert [again.log.entry(i).data for i in range(2, 22)] == [b"c%d" % k for k in range(20)]
    assert again.log.durable_index == 21 and again.commit_index == 0  # commit is learned again


def test_unflushed_entries_are_not_on_disk(tmp_path):
    node = single_node(tmp_path)
    node.fire(ELECTION, 1)
    flush_persists(node.storage, node.fire(FLUSH, 1))
    node.propose(b"staged only", 2)
    assert single_node(tmp_path).log.last_index == 1


def test_a_damaged_record_stops_the_node_with_the_file_and_offset(tmp_path):
    node = single_node(tmp_path)
    node.fire(ELECTION, 1)
    for k in range(5):
        node.propose(b"command-%d" % k, 2)
    flush_persists(node.storage, node.fire(FLUSH, 2))
    path = os.path.join(tmp_path, LOG_FILE)
    raw = bytearray(open(path, "rb").read())
    raw[len(raw) // 2] ^= 0xFF
    open(path, "wb").write(bytes(raw))
    with pytest.raises(StorageError, match=rf"{LOG_FILE}: .*byte offset \d+"):
        single_node(tmp_path)


CHILD = r"""
import random, sys
from quorumlab.algorithms.raft import ELECTION, FLUSH, Raft
from quorumlab.core.storage import FileStorage
node = Raft(1, (1,), storage=FileStorage(sys.argv[1]), rng=random.Random(0))
node.start(0)
node.fire(ELECTION, 1)
k = 0
while True:
    for _ in range(50):
        node.propose(b"x" * 200 + b"%d" % k, 2)
        k += 1
    if any(type(e).__name__ == "Persist" for e in node.fire(FLUSH, 2)):
        node.storage.flush()  # the runtime's part: Persist flushes storage and the log
    print(node.commit_index, flush=True)
"""


def test_sigkill_mid_write_keeps_every_acknowledged_entry(tmp_path):
    """A child appends and fsyncs batches and prints each commit index; SIGKILL lands somewhere in a write."""
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    for round_ in range(3):
        d = tmp_path / str(round_)
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(d)], stdout=subprocess.PIPE, env=env)
        acknowledged = 0
        try:
            for _ in range(20 + 15 * round_):
                acknowledged = int(proc.stdout.readline())
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc.stdout.close()
        node = single_node(d)
        assert node.log.last_index >= acknowledged, f"round {round_}"
        assert node.log.entry(acknowledged).data.startswith(b"x" * 200)
        assert node.role == Role.FOLLOWER
