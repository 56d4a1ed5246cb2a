"""Replicated objects on three embedded nodes: calls on the leader run everywhere in order; elsewhere they say why not."""
from __future__ import annotations

import asyncio

import pytest

from quorumlab.core.embedded import NotLeader
from quorumlab.core.replicated import ReplicatedCallError, ReplicatedObject, replicated
from tests.embedded.support import WAIT, embedded_cluster, sole_leader, wait_until

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


def test_a_call_on_a_follower_is_refused_and_names_the_leader(tmp_path):
    ledgers = {i: Ledger() for i in (1, 2, 3)}
    with embedded_cluster("raft", 3, tmp_path, state_machines=ledgers.__getitem__) as nodes:
        leader = wait_until(lambda: sole_leader(nodes))
        follower = next(n for n in nodes if n is not leader)
        with pytest.raises(NotLeader) as refused:
            ledgers[follower.id].deposit("alice", 1)
        assert refused.value.leader == leader.id and refused.value.applied is False


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
