"""Leadership transfer on real processes over ZeroMQ: the control command, the CLI, and a stopping leader that
hands over first (so a planned restart costs a transfer, not an election timeout)."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from quorumlab.bench.cli import main
from quorumlab.bench.throughput.planned import measure_rolling_restart, measure_transfers
from quorumlab.core.cluster import LocalCluster
from quorumlab.core.runtime.addresses import format_cluster
from quorumlab.core.runtime.control import ControlError

pytestmark = pytest.mark.integration


def test_the_transfer_command_hands_leadership_to_the_named_node_in_the_next_term():
    with LocalCluster("raft", 3) as c:
        for _ in range(5):  # a loaded machine may change leaders between the question and the request
            leader = c.wait_for_leader(10)
            term = c.request(leader, "status")["term"]
            target = max(i for i in c.ids if i != leader)
            try:
                reply = c.request(leader, "transfer", to=target)
                break
            except ControlError as exc:
                assert "not_leader" in str(exc)
        assert reply == {"to": target}
        assert c.wait_for_leader(5, min_term=term + 1) == target
        assert c.request(target, "status")["term"] == term + 1, "one election round"
        with pytest.raises(ControlError, match="not_leader"):
            c.request(leader, "transfer", to=leader)
        with pytest.raises(ControlError, match="a node id of this cluster"):
            c.request(target, "transfer", to=99)


def test_a_leader_asked_to_stop_hands_over_first_and_the_cluster_moves_on_in_one_round():
    with LocalCluster("raft", 3) as c:
        leader = c.wait_for_leader(10)
        term = c.request(leader, "status")["term"]
        c.stop(leader)
        events = c.events()
        kinds = [e["kind"] for e in events if e["node"] == leader]
        assert "handing_over" in kinds and "transfer_started" in kinds and kinds[-1] == "stopped"
        new = c.wait_for_leader(5, among=[i for i in c.ids if i != leader])
        assert c.request(new, "status")["term"] == term + 1
        assert any(e["kind"] == "transfer_campaign" and e["node"] == new for e in events)


def test_without_hand_over_a_stopping_leader_just_stops():
    with LocalCluster("raft", 3, hand_over=False) as c:
        leader = c.wait_for_leader(10)
        c.stop(leader)
        assert not [e for e in c.events() if e["kind"] == "handing_over"]


def test_bench_transfer_moves_leadership_of_a_secured_cluster():
    with LocalCluster("raft", 3) as c:
        leader = c.wait_for_leader(10)
        target = min(i for i in c.ids if i != leader)
        args = ["transfer", "--cluster", format_cluster(c.addresses),
                "--control", format_cluster(c.control_addresses), "--keys", str(c.keyring.path), "--to", str(target)]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        assert f"node {target} leads term" in result.stdout.splitlines()[-1]
        refused = CliRunner().invoke(main, args[:-2] + ["--to", "7"])
        assert refused.exit_code == 2 and "node 7 is not in --cluster" in refused.output


def test_transfers_take_one_round_and_a_rolling_restart_loses_no_write():
    transfers = measure_transfers(3, trials=4)
    assert transfers["not_one_round"] == 0 and transfers["median_ms"] < 1000, transfers
    rolling = measure_rolling_restart(3, hand_over=True, settle_s=0.3)
    assert rolling["failed_writes"] == 0 and rolling["writes"] > 100, rolling
    assert any(r["was_leader"] for r in rolling["restarts"])
