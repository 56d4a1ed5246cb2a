"""Safety under crashes, restarts, partitions, loss, duplication and reordering; liveness once they stop.

The default run covers 300 seeds (100 per size 3, 5, 7); ``make campaign`` runs 3,000.
Every failing seed is reported with the command that replays it (tests.raft.campaign).
"""
from __future__ import annotations

import pytest

from quorumlab.algorithms.raft import RaftConfig
from tests.raft.campaign import SIZES, CampaignSummary, run_campaign, run_campaign_seed


def check(summary: CampaignSummary) -> None:
    assert not summary.failures, "safety violations:\n\n" + "\n\n".join(summary.failures)
    late = [(r.seed, r.size, r.time_to_leader_ms) for r in summary.results if not r.live]
    assert summary.live_fraction >= 0.999, f"no leader within 2 s after faults stopped for (seed, size, ms): {late}"
    print("raft campaign:", summary.distribution())


def test_campaign_is_deterministic_per_seed():
    assert run_campaign_seed(12, 5) == run_campaign_seed(12, 5)


def test_campaign_faults_really_happen():
    """The schedule is not vacuous: nodes crash, partitions form, messages drop, leaders come and go."""
    results = [run_campaign_seed(seed, size) for size in SIZES for seed in range(20)]
    assert sum(r.crashes for r in results) > 100 and sum(r.partitions for r in results) > 50
    assert sum(r.elections_won for r in results) > 2 * len(results)
    assert max(r.loss for r in results) > 0.15 and max(r.duplicate for r in results) > 0.05
    assert sum(r.rounds > 1 for r in results) > 0


def test_safety_and_liveness_over_300_seeds():
    check(run_campaign(range(100)))


@pytest.mark.campaign
def test_safety_and_liveness_over_3000_seeds():
    check(run_campaign(range(1000)))


def test_safety_and_liveness_over_300_seeds_with_pre_vote_and_check_quorum():
    check(run_campaign(range(100), config=RaftConfig(pre_vote=True, check_quorum=True)))


@pytest.mark.campaign
def test_safety_and_liveness_over_3000_seeds_with_pre_vote_and_check_quorum():
    check(run_campaign(range(1000), config=RaftConfig(pre_vote=True, check_quorum=True)))
