"""An embedded node and `bench node` processes form one cluster: same wire, keys, data dir and control socket."""
from __future__ import annotations

import pytest

from quorumlab.core.cluster import LocalCluster
from quorumlab.core.embedded import EmbeddedNode
from quorumlab.core.kv import PUT, Command
from tests.embedded.support import WAIT, our_threads, wait_until

pytestmark = pytest.mark.integration


def test_an_embedded_node_takes_over_a_process_members_place_follows_and_leads(tmp_path):
    with LocalCluster("raft", 3, data_dir=tmp_path) as cluster:
        cluster.wait_for_leader(WAIT)
        cluster.stop(1)
        node = EmbeddedNode("raft", id=1, cluster=cluster.addresses, data_dir=cluster.node_dir(1),
                            keys=cluster.keyring, cluster_id=cluster.cluster_id,
                            control=cluster.control_addresses[1], events=cluster.event_addresses[1])
        with node:
            with cluster.kv_client() as kv:
                kv.put("written", "through the processes")
            kv_data = lambda: node.call(lambda: dict(node.state_machine.data)).result(WAIT)  # noqa: E731
            wait_until(lambda: kv_data().get(b"written") == b"through the processes",
                       what="the embedded follower applied the put")
            assert cluster.request(1, "status")["role"] in ("follower", "leader")  # its control socket answers bench
            if not node.is_leader:  # a submit on the embedded follower goes to the process that leads
                node.submit(Command(6, 1, PUT, b"forwarded", b"by the embedded follower").encode()).result(WAIT)
                assert kv_data()[b"forwarded"] == b"by the embedded follower"
                leader = node.leader
                wait_until(lambda: cluster.request(leader, "state_machine")["data"].get(b"forwarded".hex()) ==
                           b"by the embedded follower".hex(), what="the process leader applied the forwarded put")

            def won() -> bool:
                if not node.is_leader:
                    cluster.request(1, "fire", timer="election")  # raft's election timer, through its control socket
                    wait_until(lambda: node.leader is not None, WAIT, "a leader after the election")
                return node.is_leader

            wait_until(won, WAIT, "the embedded node won an election")
            follows = lambda: {i: s and s["leader"] for i, s in cluster.status([2, 3]).items()}  # noqa: E731
            wait_until(lambda: follows() == {2: 1, 3: 1}, what="the processes follow the embedded leader")
            node.submit(Command(5, 1, PUT, b"from", b"the embedded leader").encode()).result(WAIT)
            for i in (2, 3):
                wait_until(lambda: cluster.request(i, "state_machine")["data"].get(b"from".hex()) ==
                           b"the embedded leader".hex(), what=f"process {i} applied the embedded leader's put")
    assert not our_threads()

