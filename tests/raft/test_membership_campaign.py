"""Membership changes under faults (tests.raft.membership_campaign): servers added, promoted, removed and replaced,
single-server and joint, with transfers, crashes, partitions, loss and client load. The default run covers 40 seeds;
``make campaign`` runs 2,000."""
from __future__ import annotations

import pytest

from quorumlab.algorithms.raft import Raft
from quorumlab.core.majority import MajorityConfig
from tests.raft.membership_campaign import run_campaign, run_seed


class CountsLearnersAsVoters(Raft):
    """Mistake: learners count toward the quorum (a commit can rest on nodes that would never vote)."""

    def _use_membership(self) -> None:
        super()._use_membership()
        m = self.membership
        if not m.joint:
            self.quorum = MajorityConfig(sorted(m.voters | m.learners))


def check(seeds: range) -> None:
    results, failures = run_campaign(seeds)
    assert not failures, f"{len(failures)} failing seeds:\n\n" + "\n\n".join(failures[:5])
    assert sum(r.changed for r in results) > 2 * len(results), "configurations did change"
    assert sum(r.joint for r in results) > len(results) // 4, "joint changes were asked for"
    assert sum(r.acknowledged for r in results) > 10 * len(results), "clients got commands through"
    assert any(r.final_voters != tuple(range(1, len(r.final_voters) + 1)) for r in results), \
        "some clusters end with other voters than they began with"


def test_membership_campaign_is_deterministic_per_seed():
    assert run_seed(5) == run_seed(5)


def test_membership_campaign_is_not_vacuous_it_catches_learners_counted_as_voters():
    _, failures = run_campaign(range(30), algo=CountsLearnersAsVoters)
    assert any("committed entry lost" in f for f in failures), "learners counted in the quorum go unnoticed"
    assert all("replay with .venv/bin/python -m tests.raft.membership_campaign --seed" in f for f in failures)


def test_membership_changes_stay_safe_over_40_seeds():
    check(range(40))


@pytest.mark.campaign
def test_membership_changes_stay_safe_over_2000_seeds():
    check(range(2000))
