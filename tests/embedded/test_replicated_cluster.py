"""Replicated objects on three embedded nodes: calls on the leader run everywhere in order; elsewhere they say why not."""
from __future__ import annotations

import asyncio

import pytest

from quorumlab.core.embedded import EmbeddedNode, NotLeader
from quorumlab.core.keys import create_keyring
from quorumlab.core.replicated import ReplicatedCallError, ReplicatedObject, replicated
from tests.embedded.support import WAIT, cluster_spec, embedded_cluster, sole_leader, wait_until

pytestmark = pytest.mark.integration


class Ledger(ReplicatedObject):
    def __init__(self) -> None:
        self.balance: dict[str, int] = {}
        self.order: list[str] = []

    @replicated
    def deposit(self, account: str, amount: int) -> int:
        if amount <= 0:
            raise ValueError(f"amount must be positive, got {amount}")
        self.balance[account] = self.balance.get(account, 0) + amount
        self.order.append(account)
        return self.balance[account]


def test_calls_on_the_leader_run_on_every_copy_in_the_same_order(tmp_path):
    ledgers = {i: Ledger() for i in (1, 2, 3)}
    with embedded_cluster("raft", 3, tmp_path, state_machines=ledgers.__getitem__) as nodes:
        leader = wait_until(lambda: sole_leader(nodes))
        mine = ledgers[leader.id]
        assert mine.deposit("alice", 5) == 5
        futures = [mine.deposit.submit("bob" if k % 2 else "alice", 1) for k in range(50)]
        assert [f.result(WAIT) for f in futures][-2:] == [30, 25]  # alice 5 + 25, bob 25

        async def more() -> int:
            return await mine.deposit.submit_async("carol", 7)

        assert asyncio.run(more()) == 7
        for i, ledger in ledgers.items():
            wait_until(lambda: nodes[i - 1].call(lambda: ledger.last_applied).result(WAIT) >= mine.last_applied,
                       what=f"copy {i} caught up")
            assert nodes[i - 1].call(lambda: (ledger.balance, ledger.order)).result(WAIT) == (mine.balance, mine.order)


def test_a_method_that_raises_raises_on_the_caller_and_changes_nothing(tmp_path):
    ledgers = {i: Ledger() for i in (1, 2, 3)}
    with embedded_cluster("raft", 3, tmp_path, state_machines=ledgers.__getitem__) as nodes:
        leader = wait_until(lambda: sole_leader(nodes))
        with pytest.raises(ReplicatedCallError, match="amount must be positive") as err:
            ledgers[leader.id].deposit("alice", -1)
        assert err.value.error_type == "ValueError" and ledgers[leader.id].balance == {}


def test_a_call_on_a_follower_goes_to_the_leader_and_returns_the_followers_own_result(tmp_path):
    """PySyncObj's behaviour: the call is forwarded, runs on every copy in log order, and returns on the caller
    once the caller's copy has run it (its state already shows the call)."""
    ledgers = {i: Ledger() for i in (1, 2, 3)}
    with embedded_cluster("raft", 3, tmp_path, state_machines=ledgers.__getitem__) as nodes:
        leader = wait_until(lambda: sole_leader(nodes))
        follower = next(n for n in nodes if n is not leader)
        mine = ledgers[follower.id]
        assert mine.deposit("alice", 1) == 1
        assert ledgers[leader.id].deposit("alice", 2) == 3
        assert mine.deposit("alice", 4) == 7 and mine.balance == {"alice": 7}
        with pytest.raises(ReplicatedCallError, match="amount must be positive"):
            mine.deposit("alice", -1)
        assert follower.call(lambda: mine.balance).result(WAIT) == {"alice": 7}


def test_without_a_majority_there_is_no_leader_and_a_call_says_so(tmp_path):
    ledgers = {i: Ledger() for i in (1, 2, 3)}
    with embedded_cluster("raft", 3, tmp_path, state_machines=ledgers.__getitem__,
                          config={"check_quorum": True}) as nodes:
        leader = wait_until(lambda: sole_leader(nodes))
        for n in nodes:
            if n is not leader:
                n.close()
        wait_until(lambda: not leader.is_leader, what="the leader steps down without a majority")
        with pytest.raises(NotLeader):
            ledgers[leader.id].deposit("alice", 1)


def test_with_snapshots_a_restarted_copy_and_a_copy_far_behind_get_the_state_from_an_image(tmp_path):
    """snapshot_entries=10: every node compacts as the calls commit. A follower closed while 40 more calls commit
    reopens with a fresh object; it restores its own image, then the leader's (InstallSnapshot: the entries it
    missed were compacted away), and ends with the leader's state."""
    members, sides = cluster_spec(3)
    keys = create_keyring(str(tmp_path / "keys"), members)
    ledgers = {i: Ledger() for i in members}

    def open_node(i: int) -> EmbeddedNode:
        return EmbeddedNode("raft", id=i, cluster=members, data_dir=str(tmp_path / str(i)), keys=keys,
                            control=sides[i][0], events=sides[i][1], config={"snapshot_entries": 10},
                            state_machine=ledgers[i])

    nodes = {i: open_node(i) for i in members}
    try:
        leader = wait_until(lambda: sole_leader(list(nodes.values())))
        mine = ledgers[leader.id]
        for k in range(40):
            mine.deposit.submit(f"a{k % 4}", 1)
        assert mine.deposit("a0", 1) == 11
        follower = next(i for i in members if i != leader.id)
        wait_until(lambda: nodes[follower].status().get("snapshot_index", 0) >= 10, what="the follower's first snapshot")
        nodes[follower].close()
        for k in range(40):
            mine.deposit.submit(f"b{k % 4}", 2)
        assert mine.deposit("b0", 2) == 22
        wait_until(lambda: leader.status().get("snapshot_index", 0) > mine.last_applied - 10, what="the leader compacted")
        ledgers[follower] = Ledger()
        nodes[follower] = open_node(follower)
        copy = ledgers[follower]
        wait_until(lambda: nodes[follower].call(lambda: copy.last_applied).result(WAIT) >= mine.last_applied,
                   what="the reopened copy caught up")
        assert nodes[follower].call(lambda: (copy.balance, copy.order)).result(WAIT) == (mine.balance, mine.order)
        assert nodes[follower].status().get("snapshot_index", 0) > 40, "it holds the leader's newer image"
    finally:
        for node in nodes.values():
            node.close()
