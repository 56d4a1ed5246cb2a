"""Bully on real processes over ZeroMQ (127.0.0.1): the highest id leads, fails over, and takes over on return."""
from __future__ import annotations

import pytest

from quorumlab.bench.compare.metrics import max_leaders
from quorumlab.core.cluster import LocalCluster, now_ms

pytestmark = pytest.mark.integration

WAIT = 20.0


def highest_leads(c: LocalCluster, ids: list[int]):
    """Every given node answers, the highest of them is the only leader, and all of them follow it."""
    st = c.status(ids)
    if any(s is None for s in st.values()):
        return None
    top = max(ids)
    if [i for i, s in st.items() if s["role"] == "leader"] != [top]:
        return None
    return top if all(s["leader"] == top for s in st.values()) else None


def test_highest_id_leads_next_highest_takes_over_when_it_dies_and_it_bullies_back_on_restart():
    with LocalCluster("bully", 4) as c:
        assert c.wait_until(lambda: highest_leads(c, [1, 2, 3, 4]), WAIT, "node 4 leading everyone") == 4
        c.crash(4)
        assert c.wait_until(lambda: highest_leads(c, [1, 2, 3]), WAIT, "node 3 leading after 4 died") == 3
        t_back = c.restart(4)
        assert c.wait_until(lambda: highest_leads(c, [1, 2, 3, 4]), WAIT, "node 4 taking over again") == 4
        deposed = c.wait_for(lambda e: e["node"] == 3 and e["kind"] == "role" and e["from"] == "leader", WAIT, since=t_back)
        assert deposed["to"] == "follower"


def test_partition_gives_two_leaders_at_once_on_real_processes():
    with LocalCluster("bully", 3) as c:
        assert c.wait_until(lambda: highest_leads(c, [1, 2, 3]), WAIT, "node 3 leading everyone") == 3
        cut = now_ms()
        c.partition([1, 2], [3])
        assert c.wait_until(lambda: highest_leads(c, [1, 2]), WAIT, "node 2 leading its side") == 2
        assert c.status([3])[3]["role"] == "leader"
        assert max_leaders(c.events(), c.ids, cut, now_ms())[0] == 2, "bench's leaders-at-once metric sees both"
        c.heal()
        assert c.wait_until(lambda: highest_leads(c, [1, 2, 3]), WAIT, "node 3 leading again after the heal") == 3
