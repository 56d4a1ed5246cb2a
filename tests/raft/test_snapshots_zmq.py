"""Snapshots on real processes over ZeroMQ (127.0.0.1): a follower down while the others compact catches up by
InstallSnapshot after its restart, a restarted node restores its state from its own snapshot file, and a node whose
snapshot file is damaged refuses to start, naming the file."""
from __future__ import annotations

import glob
import os

import pytest

from quorumlab.core.cluster import LocalCluster

CONFIG = {"election_timeout_min": 150, "election_timeout_max": 300, "heartbeat_interval": 30,
          "snapshot_entries": 40, "snapshot_chunk_bytes": 2048}


def holds_every_key(c: LocalCluster, i: int, written: dict[bytes, bytes]) -> bool:
    try:
        data = c.request(i, "state_machine")["data"]
    except Exception:  # the node is still starting
        return False
    return all(data.get(k.hex()) == v.hex() for k, v in written.items())


def test_a_follower_catches_up_by_install_snapshot_and_a_restart_restores_from_the_snapshot_file():
    with LocalCluster("raft", 3, config=CONFIG) as c:
        leader = c.wait_for_leader(15)
        behind = next(i for i in c.ids if i != leader)
        c.crash(behind)
        written = {}
        with c.kv_client(timeout_s=8.0) as kv:
            for k in range(200):
                key, value = b"key-%d" % (k % 60), b"value-%d-" % k + b"x" * 100
                kv.put(key, value)
                written[key] = value
        status = c.status([leader])[leader]
        assert status["snapshot_index"] >= 160 and status["log_entries"] < 80, status
        c.restart(behind)
        c.wait_until(lambda: holds_every_key(c, behind, written), 30, f"node {behind} caught up")
        caught_up = c.status([behind])[behind]
        assert caught_up["snapshot_index"] >= 160 and caught_up["log_entries"] < 80, caught_up
        assert glob.glob(os.path.join(c.node_dir(behind), "snapshot-*.snap")), "the installed snapshot is on disk"

        c.stop(behind)
        c.restart(behind)
        c.wait_until(lambda: holds_every_key(c, behind, written), 20, f"node {behind} restored")
        restarted = c.status([behind])[behind]
        assert restarted["snapshot_index"] >= 160 and restarted["last_applied"] >= restarted["snapshot_index"]


def test_a_node_whose_snapshot_file_is_damaged_refuses_to_start_naming_it_and_the_cluster_keeps_its_data():
    with LocalCluster("raft", 3, config=CONFIG) as c:
        leader = c.wait_for_leader(15)
        written = {}
        with c.kv_client(timeout_s=8.0) as kv:
            for k in range(120):
                written[b"key-%d" % k] = b"value-%d" % k
                kv.put(b"key-%d" % k, b"value-%d" % k)
        victim = next(i for i in c.ids if i != leader)
        c.wait_until(lambda: (c.status([victim])[victim] or {}).get("snapshot_index", 0) >= 80, 10, "a snapshot")
        c.stop(victim)
        newest = sorted(glob.glob(os.path.join(c.node_dir(victim), "snapshot-*.snap")))[-1]
        with open(newest, "r+b") as fh:  # a flipped byte in the state, as a bad disk would leave it
            fh.seek(-10, os.SEEK_END)
            byte = fh.read(1)
            fh.seek(-10, os.SEEK_END)
            fh.write(bytes([byte[0] ^ 0xFF]))
        for older in sorted(glob.glob(os.path.join(c.node_dir(victim), "snapshot-*.snap")))[:-1]:
            os.unlink(older)  # no older image to fall back on: the log was compacted past it anyway
        with pytest.raises(RuntimeError, match=rf"(?s)exited with code .*{os.path.basename(newest)}: snapshot body checksum mismatch"):
            c.restart(victim)
        assert not c.is_running(victim)
        survivors = [i for i in c.ids if i != victim]
        assert all(holds_every_key(c, i, written) for i in survivors)


def test_sigkill_on_either_side_of_an_install_snapshot_transfer_loses_nothing():
    config = {**CONFIG, "snapshot_entries": 200, "snapshot_chunk_bytes": 1024}
    with LocalCluster("raft", 3, config=config) as c:
        leader = c.wait_for_leader(15)
        behind = next(i for i in c.ids if i != leader)
        c.crash(behind)
        written = {}
        with c.kv_client(timeout_s=8.0) as kv:
            for first in range(0, 2000, 100):
                batch = {b"key-%d" % k: b"%d-" % k + b"v" * 1000 for k in range(first, first + 100)}
                kv.put_many(batch.items())
                written.update(batch)
        incoming = os.path.join(c.node_dir(behind), "snapshot-incoming.tmp")

        def mid_transfer() -> bool:
            return os.path.exists(incoming) and os.path.getsize(incoming) > 0

        c.restart(behind)
        c.wait_until(mid_transfer, 10, "a transfer under way")
        c.crash(behind)  # the receiving side dies mid-transfer
        c.restart(behind)
        c.wait_until(mid_transfer, 10, "the transfer started again")
        c.crash(leader)  # the sending side dies mid-transfer: the new leader sends its own snapshot
        c.wait_until(lambda: holds_every_key(c, behind, written), 30, f"node {behind} caught up from the new leader")
        c.restart(leader)
        c.wait_until(lambda: holds_every_key(c, leader, written), 30, f"node {leader} back with every key")
