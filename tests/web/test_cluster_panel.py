"""quorumlab.bench.web.cluster_panel on real processes: a cluster attached by address, with its keyring."""
from __future__ import annotations

import asyncio
import random
import socket
import time

import pytest

from quorumlab.core.cluster import LocalCluster
from quorumlab.core.runtime.addresses import format_cluster

from quorumlab.bench.web.session import Session

pytestmark = pytest.mark.integration


def _base_port() -> int:
    """A base port whose node, control (+1000) and events (+2000) ports are free for 3 nodes."""
    for _ in range(50):
        base = random.randrange(20000, 30000)
        wanted = {base + i + k for i in (1, 2, 3) for k in (0, 1000, 2000)}
        if all(_free(p) for p in wanted):
            return base
    raise RuntimeError("no free base port")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def test_an_attached_cluster_shows_its_events_and_status_and_takes_partition_propose_and_stop(tmp_path):
    with LocalCluster("raft", 3, base_port=_base_port(), data_dir=tmp_path) as cluster:
        cluster.wait_for_leader(10)
        sent: list[dict] = []

        async def send(message: dict) -> None:
            sent.append(message)

        session = Session(send)

        async def scenario() -> list[dict]:
            await session.handle({"op": "attach", "algo": "raft", "cluster": format_cluster(cluster.addresses),
                                  "keys": cluster.keyring.path})
            panel = session.panels[0]
            frames = []
            for _ in range(12):
                await asyncio.sleep(0.1)
                frames.append(await session._tick())
            leader = panel.leader()
            await session.handle({"op": "act", "action": "propose"})
            await session.handle({"op": "act", "action": "partition", "groups": [[leader]]})
            cut = cluster.request(leader, "status")["partitioned"]
            await session.handle({"op": "act", "action": "heal"})
            healed = cluster.request(leader, "status")["partitioned"]
            follower = next(i for i in cluster.ids if i != leader)
            await session.handle({"op": "act", "action": "stop", "node": follower})
            frames.append({"cut": cut, "healed": healed, "follower": follower, "leader": leader})
            await session.close()
            return frames

        frames = asyncio.run(scenario())
        facts = frames.pop()
        statuses = [f["panels"]["p0"]["status"] for f in frames if f["panels"]["p0"]["status"]]
        assert statuses and set(statuses[-1]) == {1, 2, 3} and statuses[-1][facts["leader"]]["commit_index"] >= 1
        assert facts["cut"] == sorted(set(cluster.ids) - {facts["leader"]}) and facts["healed"] == []
        assert any(m.get("text", "").startswith("put web-") for m in sent), sent
        deadline = time.monotonic() + 5
        while cluster.is_running(facts["follower"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not cluster.is_running(facts["follower"]), "the control command stopped the node"
