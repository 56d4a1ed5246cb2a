"""Lease and Leadership on their own: a reign's end is seen by every lease of it, at once or by callback."""
from __future__ import annotations

import pytest

from quorumlab.core.leadership import Leadership, LeadershipLost


def test_a_lease_is_valid_until_its_reign_ends():
    reign = Leadership(term=4, token=4)
    lease = reign.lease()
    assert lease.valid and lease.token == 4 and lease.term == 4
    lease.check()
    reign.end()
    assert not lease.valid and lease.lost.is_set() and lease.wait_lost(0)
    with pytest.raises(LeadershipLost, match="term 4"):
        lease.check()


def test_on_lost_runs_once_when_the_reign_ends_or_at_once_after():
    calls = []
    reign = Leadership(term=1, token=1)
    lease = reign.lease()
    lease.on_lost(lambda: calls.append("before"))
    assert calls == []
    reign.end()
    assert calls == ["before"]
    lease.on_lost(lambda: calls.append("after"))
    assert calls == ["before", "after"]


def test_callbacks_go_through_the_notifier_when_there_is_one():
    queued = []
    reign = Leadership(term=1, token=1, notify=queued.append)
    reign.lease().on_lost(lambda: None)
    reign.end()
    assert len(queued) == 1


def test_a_released_lease_is_no_longer_valid_though_the_reign_lasts():
    reign = Leadership(term=2, token=2)
    lease = reign.lease()
    lease.release()
    assert not lease.valid and not reign.lost.is_set()
    assert reign.lease().valid
