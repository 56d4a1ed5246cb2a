"""Membership change on real processes over ZeroMQ: servers added at run time (a new process started with
--join, its address and key learned from the configuration), promoted, removed, the leader included, under a
writing client; the ``bench member`` commands; a removed node restarted knows it was removed."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from quorumlab.bench.cli import main
from quorumlab.bench.throughput.planned import measure_replacement
from quorumlab.core.cluster import LocalCluster
from quorumlab.core.keys import Keyring
from quorumlab.core.runtime.addresses import format_cluster
from quorumlab.core.runtime.control import ControlError

pytestmark = pytest.mark.integration


def test_a_server_is_replaced_under_a_writing_client_without_a_failed_write():
    result = measure_replacement(3, settle_s=0.3)
    assert result["failed_writes"] == 0 and result["writes"] > 50, result
    assert result["added"] in result["voters"] and result["removed"] not in result["voters"]
    assert [s["step"] for s in result["steps"]] == ["add learner", "catch up", "promote", "remove the old leader"]


def test_a_grown_cluster_commits_with_the_new_member_and_a_removed_node_restarted_knows_it():
    with LocalCluster("raft", 3, config={"snapshot_entries": 20}) as c:
        c.wait_for_leader(10)
        with c.kv_client() as kv:
            for k in range(60):
                kv.put(b"k%d" % k, b"v")  # compacted: the new node catches up by InstallSnapshot
            new = c.add_node()
            assert c.members()["voters"] == [1, 2, 3, new]
            assert any(e["kind"] == "snapshot_installed" and e["node"] == new for e in c.events())
            leader = c.wait_for_leader()
            victim = next(i for i in c.ids if i not in (leader, new))
            c.remove_node(victim)
            # two of the three voters left must hold every new write: the new node counts
            others = [i for i in c.ids if i != leader]
            c.stop(others[0])
            kv.put(b"after", b"removal")
            assert kv.get(b"after") == b"removal"
            c.start()
        c.ids += (victim,)  # start the removed node again, as an operator might by mistake
        c.restart(victim)
        status = c.request(victim, "status")
        assert status["member"] == "removed"
        assert any(e["kind"] == "removed_from_cluster" and e["node"] == victim for e in c.events())


def test_bench_member_lists_promotes_and_removes_and_says_why_it_refuses():
    with LocalCluster("raft", 3) as c:
        c.wait_for_leader(10)
        new = c.add_node(voter=False)
        common = ["--cluster", format_cluster(c.addresses), "--control", format_cluster(c.control_addresses),
                  "--keys", str(c.keyring.path), "--timeout", "20"]
        listed = CliRunner().invoke(main, ["member", "list", "--json"] + common)
        assert listed.exit_code == 0, listed.output
        assert json.loads(listed.stdout.splitlines()[-1])["learners"] == [new]
        promoted = CliRunner().invoke(main, ["member", "promote", "--node", str(new)] + common)
        assert promoted.exit_code == 0, promoted.output
        assert f"voters [1, 2, 3, {new}]" in promoted.stdout
        removed = CliRunner().invoke(main, ["member", "remove", "--node", "1"] + common)
        assert removed.exit_code == 0 and f"voters [2, 3, {new}]" in removed.stdout, removed.output
        refused = CliRunner().invoke(main, ["member", "remove", "--node", "1"] + common)
        unmatched = CliRunner().invoke(main, ["member", "add", "--node", "9", "tcp://127.0.0.1:9", "--key", "8",
                                              "x" * 40] + common)
        assert unmatched.exit_code == 2 and "no --node adds" in unmatched.output
        assert refused.exit_code == 1 and "node 1 is not a member" in refused.output
        with pytest.raises(ControlError, match="give its \"address\""):
            c.request(c.wait_for_leader(), "member", change=[{"op": "add_learner", "node": 9}])


def test_a_member_with_a_keyring_of_its_own_is_authenticated_by_the_key_its_configuration_carries():
    with LocalCluster("raft", 3) as c:
        c.wait_for_leader(10)
        new = c.add_node(own_keyring=True)
        assert new not in Keyring(c.keyring.path).nodes, "the members' keyring never had its key"
        assert str(new) in c.members()["keys"]
        leader = c.wait_for_leader()
        c.stop(next(i for i in c.ids if i not in (leader, new)))  # 3 of 4 voters left: a commit needs the new one
        with c.kv_client() as kv:
            kv.leader = leader
            kv.put(b"k", b"needs node %d" % new)
        assert c.request(new, "status")["commit_index"] >= c.request(leader, "status")["commit_index"] - 1
        assert not [e for e in c.events() if e["kind"] == "member_unreachable"]
