"""SIGKILL at the snapshot's crash points on real processes (127.0.0.1): the forked child writing an image, the node
while its child writes, and the node inside the log's compacted rewrite (before and after the rename). A node is held
still at the point by tests/raft/failpoints.py (its launcher), killed there, and restarted; every write acknowledged
before, during and after must be on every node afterwards, and the killed node must restart and serve.
(SIGKILL of either side of an InstallSnapshot transfer: tests/raft/test_snapshots_zmq.py.)"""
from __future__ import annotations

import glob
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from quorumlab.core.cluster import LocalCluster
from tests.raft.test_snapshots_zmq import holds_every_key

CONFIG = {"election_timeout_min": 150, "election_timeout_max": 300, "heartbeat_interval": 30,
          "snapshot_entries": 50, "snapshot_chunk_bytes": 4096}
pytestmark = pytest.mark.integration

FAILPOINTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "failpoints.py")


def launcher(point: str, markers: Path) -> Callable[[int], list[str]]:
    """Every node starts through the failpoint; it holds still only once armed (``arm``)."""
    return lambda node: [sys.executable, FAILPOINTS, point, str(markers / str(node)), "--"]


def arm(markers: Path, node: int) -> None:
    (markers / str(node)).mkdir(exist_ok=True)
    (markers / str(node) / "arm").touch()


def stopped_at(markers, node: int, point: str) -> dict | None:
    """What the failpoint wrote once node ``node`` stopped at ``point`` (None until then)."""
    try:
        with open(markers / str(node) / f"{point}.json") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return None


def gone(pid: int) -> bool:
    """The process has exited (an orphan's zombie counts: nobody may have reaped it)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


class Writer:
    """Puts of fresh keys, ten per request; ``written`` holds only what was acknowledged."""

    def __init__(self, kv) -> None:
        self.kv, self.written, self.next = kv, {}, 0

    def until(self, condition, timeout_s: float = 30.0, at_least: int = 0):
        deadline, start = time.monotonic() + timeout_s, len(self.written)
        while True:
            value = condition()
            if value and len(self.written) - start >= at_least:
                return value
            assert time.monotonic() < deadline, "the condition never held while writing"
            batch = {b"key-%d" % k: b"value-%d-" % k + b"x" * 50 for k in range(self.next, self.next + 10)}
            self.next += 10
            self.kv.put_many(batch.items())
            self.written.update(batch)


def events_of(c: LocalCluster, node: int, kind: str) -> list[dict]:
    return [e for e in c.events() if e["node"] == node and e["kind"] == kind]


def test_sigkill_of_the_child_writing_a_snapshot_loses_that_snapshot_only(tmp_path):
    with LocalCluster("raft", 3, config=CONFIG, launcher=launcher("snapshot-child", tmp_path)) as c:
        leader = c.wait_for_leader(15)
        arm(tmp_path, leader)
        with c.kv_client(timeout_s=8.0) as kv:
            w = Writer(kv)
            stop = w.until(lambda: stopped_at(tmp_path, leader, "snapshot-child"))
            assert stop["node_pid"] == c.pid(leader) != stop["pid"], "the forked child stopped, not the node"
            assert os.path.exists(stop["file"]), "the image is half written"
            os.kill(stop["pid"], signal.SIGKILL)
            w.until(lambda: [e for e in events_of(c, leader, "snapshot_taken") if e["index"] > stop["index"]],
                    at_least=200)  # the leader served throughout, and its next snapshot is taken and compacted
        failed = events_of(c, leader, "snapshot_failed")
        assert [e["index"] for e in failed] == [stop["index"]], failed
        assert not [e for e in events_of(c, leader, "snapshot_taken") if e["index"] == stop["index"]]
        c.wait_until(lambda: all(holds_every_key(c, i, w.written) for i in c.ids), 20, "every node with every key")
        c.restart(leader)
        assert not os.path.exists(stop["file"]), "the child's leftover is removed when the store opens"
        c.wait_until(lambda: holds_every_key(c, leader, w.written), 20, f"node {leader} restarted with every key")


@pytest.mark.parametrize("child", ["finishes the image", "dies too"])
def test_sigkill_of_a_node_while_its_child_writes_a_snapshot_loses_nothing(tmp_path, child):
    with LocalCluster("raft", 3, config=CONFIG, launcher=launcher("snapshot-child", tmp_path)) as c:
        leader = c.wait_for_leader(15)
        arm(tmp_path, leader)
        with c.kv_client(timeout_s=8.0) as kv:
            w = Writer(kv)
            stop = w.until(lambda: stopped_at(tmp_path, leader, "snapshot-child"))
            c.crash(leader)  # the node dies; its child, an orphan now, still holds the image half written
            assert not gone(stop["pid"])
            if child == "dies too":
                os.kill(stop["pid"], signal.SIGKILL)
            else:
                (tmp_path / str(leader) / "go").touch()
            c.wait_until(lambda: gone(stop["pid"]), 20, "the orphaned child's end")
            image = stop["file"][: -len(".tmp")]
            assert os.path.exists(image) == (child == "finishes the image")
            w.until(lambda: True, at_least=100)  # the others elect a leader and go on
            c.restart(leader)
            c.wait_until(lambda: holds_every_key(c, leader, w.written), 20, f"node {leader} restarted with every key")
            w.until(lambda: True, at_least=100)
        assert not os.path.exists(stop["file"]), "the half-written image is gone (renamed, or removed on open)"
        if child == "finishes the image":  # the node started from the image its child left, and the log after it
            assert any(e["index"] >= stop["index"] for e in events_of(c, leader, "snapshot_restored"))
        c.wait_until(lambda: all(holds_every_key(c, i, w.written) for i in c.ids), 20, "every node with every key")


def test_a_node_restarts_while_the_orphaned_child_of_its_killed_predecessor_still_writes(tmp_path):
    """The child holds no socket of the node (it closes its copies at once), so a node SIGKILLed while its child
    writes an image can start again at once, on the same ports, with the child still running."""
    with LocalCluster("raft", 3, config=CONFIG, launcher=launcher("snapshot-child", tmp_path)) as c:
        leader = c.wait_for_leader(15)
        arm(tmp_path, leader)
        with c.kv_client(timeout_s=8.0) as kv:
            w = Writer(kv)
            stop = w.until(lambda: stopped_at(tmp_path, leader, "snapshot-child"))
            sockets = [fd for fd in os.listdir(f"/proc/{stop['pid']}/fd")
                       if os.readlink(f"/proc/{stop['pid']}/fd/{fd}").startswith("socket:")]
            assert sockets == [], "the child keeps no socket of the node"
            c.crash(leader)
            c.restart(leader)  # the orphan still waits, its image half written
            assert not gone(stop["pid"])
            c.wait_until(lambda: holds_every_key(c, leader, w.written), 20, f"node {leader} restarted with every key")
            (tmp_path / str(leader) / "go").touch()
            c.wait_until(lambda: gone(stop["pid"]), 20, "the orphaned child's end")
            w.until(lambda: True, at_least=100)
        c.restart(leader)
        c.wait_until(lambda: all(holds_every_key(c, i, w.written) for i in c.ids), 20, "every node with every key")


@pytest.mark.parametrize("point, role", [("compact-copy", "leader"), ("compact-renamed", "follower")])
def test_sigkill_inside_the_log_rewrite_loses_nothing(tmp_path, point, role):
    with LocalCluster("raft", 3, config=CONFIG, launcher=launcher(point, tmp_path)) as c:
        leader = c.wait_for_leader(15)
        victim = leader if role == "leader" else next(i for i in c.ids if i != leader)
        arm(tmp_path, victim)
        log = os.path.join(c.node_dir(victim), "raft-log")
        with c.kv_client(timeout_s=8.0) as kv:
            w = Writer(kv)
            stop = w.until(lambda: stopped_at(tmp_path, victim, point))
            assert stop["pid"] == c.pid(victim)
            c.crash(victim)  # its loop was inside the compaction, the copy durable (and renamed, or not yet)
            assert os.path.exists(log + ".compact") == (point == "compact-copy")
            leftover = os.stat(log + ".compact") if point == "compact-copy" else None
            w.until(lambda: True, at_least=100)
            c.restart(victim)
            c.wait_until(lambda: holds_every_key(c, victim, w.written), 20, f"node {victim} restarted with every key")
            w.until(lambda: True, at_least=100)
        if os.path.exists(log + ".compact"):  # a later compaction may be writing its own copy right now
            now = os.stat(log + ".compact")
            assert leftover is None or (now.st_ino, now.st_mtime_ns) != (leftover.st_ino, leftover.st_mtime_ns), \
                "the copy the crash left behind is still there"
        restarts = events_of(c, victim, "snapshot_restored")
        assert restarts, "the restarted node started from its snapshot"
        c.wait_until(lambda: all(holds_every_key(c, i, w.written) for i in c.ids), 20, "every node with every key")


def test_a_damaged_newest_snapshot_falls_back_to_the_older_one_while_the_log_still_covers_the_gap(tmp_path):
    """Killed between a snapshot's write and the compaction it allows, the node's log still reaches back to the
    snapshot before; a flipped byte in the newest image makes it start from that one and replay the rest."""
    with LocalCluster("raft", 3, config=CONFIG, launcher=launcher("compact-copy", tmp_path)) as c:
        leader = c.wait_for_leader(15)
        victim = next(i for i in c.ids if i != leader)
        with c.kv_client(timeout_s=8.0) as kv:
            w = Writer(kv)
            w.until(lambda: events_of(c, victim, "snapshot_taken"))  # an older image, the log compacted to it
            arm(tmp_path, victim)
            w.until(lambda: stopped_at(tmp_path, victim, "compact-copy"))
            c.crash(victim)
            older, newest = sorted(glob.glob(os.path.join(c.node_dir(victim), "snapshot-*.snap")))[-2:]
            with open(newest, "r+b") as fh:
                fh.seek(-5, os.SEEK_END)
                byte = fh.read(1)
                fh.seek(-5, os.SEEK_END)
                fh.write(bytes([byte[0] ^ 0xFF]))
            c.restart(victim)
            c.wait_until(lambda: holds_every_key(c, victim, w.written), 20, f"node {victim} restarted with every key")
            w.until(lambda: True, at_least=100)
        damaged = events_of(c, victim, "snapshot_damaged")
        assert [(e["file"], e["fallback"]) for e in damaged] == [(newest, older)], damaged
        assert "checksum mismatch" in damaged[0]["reason"]
        c.wait_until(lambda: all(holds_every_key(c, i, w.written) for i in c.ids), 20, "every node with every key")
