"""LocalCluster can place nodes on hosts of their own: the addresses they bind, and a launcher prefix."""
from __future__ import annotations

import pytest

from quorumlab.core.cluster import HOSTED_BASE_PORT, LocalCluster


def test_nodes_on_hosts_of_their_own_listen_on_fixed_ports_and_start_through_the_launcher(tmp_path):
    hosts = {1: "10.9.9.11", 2: "10.9.9.12"}
    c = LocalCluster("raft", 2, data_dir=tmp_path, hosts=hosts, launcher=lambda i: ["ip", "netns", "exec", f"ns{i}"],
                     secure=False)
    try:
        assert c.addresses == {1: f"tcp://10.9.9.11:{HOSTED_BASE_PORT + 1}", 2: f"tcp://10.9.9.12:{HOSTED_BASE_PORT + 2}"}
        assert c.control_addresses[2].startswith("tcp://10.9.9.12:")
        assert c.event_addresses[1].startswith("tcp://10.9.9.11:")
        cmd = c.command(2)
        assert cmd[:4] == ["ip", "netns", "exec", "ns2"]
        assert cmd[cmd.index("--cluster") + 1] == f"1={c.addresses[1]},2={c.addresses[2]}"
    finally:
        c.close()


def test_without_hosts_nodes_run_on_the_loopback_with_no_prefix(tmp_path):
    c = LocalCluster("raft", 1, data_dir=tmp_path, secure=False)
    try:
        assert c.addresses[1].startswith("tcp://127.0.0.1:")
        assert c.command(1)[1:3] == ["-m", "quorumlab.bench.cli"]
    finally:
        c.close()


def test_hosts_must_name_every_node(tmp_path):
    with pytest.raises(ValueError, match=r"no address for node\(s\) \[2\]"):
        LocalCluster("raft", 2, data_dir=tmp_path, hosts={1: "10.9.9.11"}, secure=False)
