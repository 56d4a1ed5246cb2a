"""Snapshots on real processes over ZeroMQ (127.0.0.1): a follower down while the others compact catches up by
InstallSnapshot after its restart, and a restarted node restores its state from its own snapshot file."""
from __future__ import annotations

import glob
import os

from core.cluster import LocalCluster

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
