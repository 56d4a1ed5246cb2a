"""Every registered algorithm runs unchanged on real processes: a leader is agreed, and replaced after SIGKILL."""
from __future__ import annotations

import pytest

from quorumlab.core import registry
from quorumlab.core.cluster import LocalCluster
from tests.runtime.helpers import process_alive

pytestmark = pytest.mark.integration

WAIT = 20.0


@pytest.mark.parametrize("name", registry.available())
def test_registered_algorithm_elects_and_replaces_a_killed_leader_on_real_processes(name):
    with LocalCluster(name, 3) as c:
        leader = c.wait_for_leader(WAIT)
        pid = c.pid(leader)
        c.crash(leader)
        assert not process_alive(pid)
        successor = c.wait_for_leader(WAIT)
        assert successor != leader
        status = c.status()
        assert status[leader] is None and status[successor]["role"] == "leader"
