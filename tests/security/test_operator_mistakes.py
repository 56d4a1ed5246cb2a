"""Issue 12's careless-operator cases on real processes: each one gives a clear error and loses nothing.

Two clients sharing an id, a node restarted on another node's data dir, a deleted state
file, a log cut 100 acknowledged entries before its end: each once lost acknowledged
writes or let a node vote twice. Now each is refused, loudly, and every acknowledged
write can still be read.
"""
from __future__ import annotations

import os
import shutil

import pytest

from quorumlab.core.client import CommandFailed
from quorumlab.core.cluster import LocalCluster
from quorumlab.core.storage import STATE_FILE, RecordLog
from tests.security.helpers import WAIT, agreed

pytestmark = pytest.mark.integration


def test_two_clients_sharing_an_id_lose_no_acknowledged_put():
    with LocalCluster("raft", 3) as c:
        c.wait_for_leader(WAIT)
        first = c.kv_client(client_id=42)
        second = c.kv_client(client_id=42)
        acknowledged, refused = {}, 0
        for i in range(50):
            for name, kv in (("first", first), ("second", second)):
                key, value = b"%s-%d" % (name.encode(), i), b"v%d" % i
                try:
                    kv.put(key, value)
                    acknowledged[key] = value
                except CommandFailed as exc:
                    assert "already used for a different command" in str(exc)
                    refused += 1
        assert refused == 50, "the second client's every command reused a (client, seq) of the first"
        reader = c.kv_client()
        assert {k: reader.get(k) for k in acknowledged} == acknowledged
        for kv in (first, second, reader):
            kv.close()


def _wait_applied_everywhere(c: LocalCluster) -> int:
    def done():
        st = c.status()
        marks = {(s["commit_index"], s["last_applied"]) for s in st.values() if s}
        return len(marks) == 1 and all(st.values()) and next(iter(marks))[0]
    return c.wait_until(done, WAIT, "every node to apply every entry")


def test_a_node_restarted_on_another_nodes_data_dir_refuses_to_start_naming_both():
    with LocalCluster("raft", 3) as c:
        leader, _ = c.wait_until(lambda: agreed(c), WAIT, "agreement")
        a, b = [i for i in c.ids if i != leader]
        c.stop(a)
        c.stop(b)
        shutil.rmtree(c.node_dir(a))
        shutil.copytree(c.node_dir(b), c.node_dir(a))
        with pytest.raises(RuntimeError) as err:
            c.restart(a)
        message = str(err.value)
        assert f"belongs to cluster {c.cluster_id}, node {b}, algorithm raft" in message
        assert f"refusing to start cluster {c.cluster_id}, node {a}, algorithm raft" in message


def test_a_data_dir_of_another_cluster_is_refused(tmp_path):
    with LocalCluster("raft", 3, data_dir=tmp_path / "a") as a:
        a.wait_for_leader(WAIT)
        a_id = a.cluster_id
    with LocalCluster("raft", 3, data_dir=tmp_path / "b") as b:
        b.wait_for_leader(WAIT)
        b.stop(1)
        shutil.rmtree(b.node_dir(1))
        shutil.copytree(tmp_path / "a" / "1", b.node_dir(1))
        with pytest.raises(RuntimeError, match=f"belongs to cluster {a_id}, node 1"):
            b.restart(1)


def test_a_deleted_state_file_with_the_log_left_stops_the_node_instead_of_a_second_vote():
    with LocalCluster("raft", 3) as c:
        leader, _ = c.wait_until(lambda: agreed(c), WAIT, "agreement")
        kv = c.kv_client()
        kv.put(b"k", b"v")
        follower = next(i for i in c.ids if i != leader)
        c.stop(follower)
        os.remove(os.path.join(c.node_dir(follower), STATE_FILE))
        with pytest.raises(RuntimeError, match="could vote twice in one term"):
            c.restart(follower)
        assert kv.get(b"k") == b"v"
        kv.close()


def test_a_log_cut_inside_a_record_100_acknowledged_entries_before_its_end_stops_the_node_and_loses_nothing():
    with LocalCluster("raft", 3) as c:
        leader, _ = c.wait_until(lambda: agreed(c), WAIT, "agreement")
        kv = c.kv_client()
        for i in range(150):
            kv.put(b"k%d" % i, b"v%d" % i)
        last = _wait_applied_everywhere(c)
        follower = next(i for i in c.ids if i != leader)
        c.stop(follower)  # a clean stop seals: the header marks every record as durable
        path = os.path.join(c.node_dir(follower), "raft-log")
        log = RecordLog(path, create=False)
        cut = log._offsets[last - 100] + 5
        log.crash()
        os.truncate(path, cut)
        with pytest.raises(RuntimeError) as err:
            c.restart(follower)
        message = str(err.value)
        assert path in message and "not a crash" in message and f"record #{last - 100}" in message
        assert os.path.getsize(path) == cut, "the damaged log is left for a human to look at"
        assert all(kv.get(b"k%d" % i) == b"v%d" % i for i in range(150))
        kv.close()


def test_a_torn_tail_left_by_a_crash_is_reported_with_file_offset_bytes_and_records():
    with LocalCluster("raft", 3) as c:
        leader, _ = c.wait_until(lambda: agreed(c), WAIT, "agreement")
        follower = next(i for i in c.ids if i != leader)
        kv = c.kv_client()
        kv.put(b"a", b"1")
        c.crash(follower)
        path = os.path.join(c.node_dir(follower), "raft-log")
        log = RecordLog(path, create=False)
        count = len(log)
        log.crash()
        with open(path, "ab") as fh:
            fh.write(b"\x00" * 7)  # what a crash mid-append can leave: a tail of zeros
        t = c.restart(follower)
        torn = c.wait_for(lambda e: e["kind"] == "torn_tail" and e["node"] == follower, WAIT, since=t)
        assert torn["file"] == path and torn["bytes"] == 7 and torn["records"] == 1 and torn["first_record"] == count
        with open(c.node_log(follower)) as fh:
            assert "dropped a torn tail" in fh.read()
        assert kv.get(b"a") == b"1"
        kv.close()
