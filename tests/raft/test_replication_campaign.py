"""Log safety under crashes (some aimed at unflushed entries), partitions, loss, duplication and reordering.

The default run covers 300 seeds (100 per size 3, 5, 7); ``make campaign`` runs 3,000, and 1,500 more with
raft's pre_vote and check_quorum on. A failing seed is
reported with the command that replays it (tests.raft.replication_campaign).
"""
from __future__ import annotations

import pytest

from quorumlab.algorithms.raft import Raft, RaftConfig
from tests.raft.replication_campaign import SIZES, run_campaign, run_seed


class AcksBeforeFlush(Raft):
    """Mistake: a follower acknowledges entries before they are durable."""

    def _on_append_entries(self, msg, now):
        super()._on_append_entries(msg, now)
        pending, self._pending_ack = self._pending_ack, None
        if pending is not None:
            self._ack(pending[0], pending[2])


def check(seeds: range, config: RaftConfig | None = None) -> None:
    results, failures = run_campaign(seeds, config=config)
    assert not failures, f"{len(failures)} failing seeds:\n\n" + "\n\n".join(failures[:5])
    assert sum(r.acknowledged for r in results) > 10 * len(results), "clients got commands through"


def test_replication_campaign_is_deterministic_per_seed():
    assert run_seed(7, 5) == run_seed(7, 5)


def test_replication_campaign_is_not_vacuous_it_catches_acknowledging_before_flushing():
    _, failures = run_campaign(range(40), algo=AcksBeforeFlush)
    assert any("committed entry lost" in f for f in failures)
    assert all("replay with .venv/bin/python -m tests.raft.replication_campaign --seed" in f for f in failures)


class ForwardAnswerOneOff(Raft):
    """Mistake: the follower takes the leader's answer to its forwarded commands one index off."""

    def _on_propose_response(self, msg, now: int) -> None:
        if msg.code == 0:
            msg.index += 1
        super()._on_propose_response(msg, now)


def test_replication_campaign_is_not_vacuous_it_catches_a_forwarded_command_answered_for_another_entry():
    _, failures = run_campaign(range(10), algo=ForwardAnswerOneOff)
    assert any("acknowledged for another entry" in f for f in failures)


def test_forwarded_commands_are_part_of_the_campaign():
    results = [run_seed(seed, 5) for seed in range(10)]
    assert sum(r.forwarded for r in results) > 50


def test_replication_campaign_faults_really_happen():
    results = [run_seed(seed, size) for size in SIZES for seed in range(10)]
    assert sum(r.crashes for r in results) > 60 and sum(r.partitions for r in results) > 20
    assert sum(r.submitted - r.acknowledged for r in results) > 100, "some commands were lost to faults"


def test_log_safety_over_300_seeds():
    check(range(100))


@pytest.mark.campaign
def test_log_safety_over_3000_seeds():
    check(range(1000))


@pytest.mark.campaign
def test_log_safety_over_1500_seeds_with_pre_vote_and_check_quorum():
    check(range(500), RaftConfig(pre_vote=True, check_quorum=True))


def test_a_failing_seed_with_the_flags_on_is_replayed_with_them():
    from tests.raft.replication_campaign import replay_command

    assert replay_command(3, 5, RaftConfig(pre_vote=True, check_quorum=True)).endswith(
        "--seed 3 --size 5 --pre-vote --check-quorum"
    )
