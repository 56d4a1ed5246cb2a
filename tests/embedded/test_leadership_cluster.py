"""The leader-election recipe on real sockets, for every algorithm that reports leadership (raft, paxos, bully)."""
from __future__ import annotations

import threading

import pytest

from quorumlab.core.leadership import LeadershipLost
from tests.embedded.support import WAIT, embedded_cluster, sole_leader, wait_until

pytestmark = pytest.mark.integration

GATED = {"raft": {"check_quorum": True}, "paxos": None, "bully": {"quorum_gated": True}}


class FencedStore:
    """What a fenced resource does: remember the highest token seen, refuse writes under a lower one."""

    def __init__(self) -> None:
        self.highest = -1
        self.writes: list[tuple[int, str]] = []
        self.lock = threading.Lock()

    def write(self, token: int, value: str) -> bool:
        with self.lock:
            if token < self.highest:
                return False
            self.highest = token
            self.writes.append((token, value))
            return True


def isolate(node, nodes) -> None:
    """Drop every message between ``node`` and the others (the runtime's partition, as ``bench`` sends it)."""
    peers = [n.id for n in nodes if n is not node]
    node.call(lambda: node._runtime._cmd_partition({"peers": peers})).result(WAIT)


@pytest.mark.parametrize("algo", ["raft", "paxos", "bully"])
def test_run_as_leader_runs_on_the_leader_with_a_token_and_a_deposed_leaders_write_is_fenced_off(algo, tmp_path):
    store = FencedStore()
    with embedded_cluster(algo, 3, tmp_path, config=GATED[algo]) as nodes:
        old = wait_until(lambda: sole_leader(nodes), what="one leader")
        lease = old.run_as_leader(lambda lease: lease, timeout=WAIT)
        assert lease.token >= lease.term >= 1 and store.write(lease.token, "old leader's first write")
        lost = threading.Event()
        lease.on_lost(lost.set)
        isolate(old, nodes)
        assert lost.wait(WAIT) and lease.lost.is_set() and not old.is_leader
        with pytest.raises(LeadershipLost):
            lease.check()
        others = [n for n in nodes if n is not old]
        new = wait_until(lambda: sole_leader(others), what="a leader among the others")

        def work(new_lease):
            assert new_lease.valid and new_lease.token > lease.token
            return store.write(new_lease.token, "new leader's write")

        assert new.run_as_leader(work, timeout=WAIT)
        assert not store.write(lease.token, "the deposed leader's late write")
        assert [v for _, v in store.writes] == ["old leader's first write", "new leader's write"]


def test_leadership_blocks_until_this_node_leads_or_times_out(tmp_path):
    with embedded_cluster("raft", 3, tmp_path) as nodes:
        leader = wait_until(lambda: sole_leader(nodes))
        follower = next(n for n in nodes if n is not leader)
        with pytest.raises(TimeoutError):
            with follower.leadership(timeout=0.3):
                pass
        with leader.leadership(timeout=WAIT) as lease:
            assert lease.valid and lease.term == leader.term
        assert not lease.valid  # released on leaving the block
        leader.close()
        assert lease.lost.is_set()
        with pytest.raises(LeadershipLost):
            leader.wait_for_leadership(timeout=1)


def test_a_waiter_is_woken_when_the_node_becomes_leader(tmp_path):
    with embedded_cluster("raft", 3, tmp_path) as nodes:
        old = wait_until(lambda: sole_leader(nodes))
        got: dict[int, int] = {}

        def wait_to_lead(n) -> None:
            try:
                got[n.id] = n.run_as_leader(lambda lease: lease.token, timeout=WAIT)
            except (TimeoutError, LeadershipLost):
                pass

        waiters = [threading.Thread(target=wait_to_lead, args=(n,)) for n in nodes if n is not old]
        for t in waiters:
            t.start()
        old_term = old.term
        old.close()
        wait_until(lambda: got, what="a waiting node became leader and ran the function")
        first = dict(got)  # closing a leader hands leadership over: the other waiter may run next
        for n in nodes:
            n.close()
        for t in waiters:
            t.join(WAIT)
        assert len(first) == 1 and list(first.values())[0] > old_term
