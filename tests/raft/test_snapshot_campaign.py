"""Log safety with a snapshot every few entries: compaction, InstallSnapshot and restarts from snapshots under crashes,
partitions, loss, duplication and reordering (tests.raft.snapshot_campaign). The default run covers 80 seeds;
``make campaign`` runs 2,000."""
from __future__ import annotations

import pytest

from quorumlab.algorithms.raft import Raft
from quorumlab.core.effects import RestoreSnapshot
from tests.raft.snapshot_campaign import run_campaign, run_seed


class InstallsWithoutRestoring(Raft):
    """Mistake: a follower installs a snapshot's log position but keeps its old state machine."""

    def _on_install_snapshot(self, msg, now):
        before = len(self._out)
        super()._on_install_snapshot(msg, now)
        self._out[before:] = [e for e in self._out[before:] if type(e) is not RestoreSnapshot]


def check(seeds: range) -> None:
    results, failures = run_campaign(seeds)
    assert not failures, f"{len(failures)} failing seeds:\n\n" + "\n\n".join(failures[:5])
    assert sum(r.installs for r in results) > len(results), "InstallSnapshot ran"
    assert sum(r.restores for r in results) > 2 * len(results), "restarts and installs restored state machines"
    assert sum(r.acknowledged for r in results) > 10 * len(results), "clients got commands through"


def test_snapshot_campaign_is_deterministic_per_seed():
    assert run_seed(7, 5) == run_seed(7, 5)


def test_snapshot_campaign_is_not_vacuous_it_catches_a_snapshot_installed_without_its_state():
    _, failures = run_campaign(range(15), sizes=(3,), algo=InstallsWithoutRestoring)
    assert any("state machine safety" in f or "differs" in f for f in failures)
    assert all("replay with .venv/bin/python -m tests.raft.snapshot_campaign --seed" in f for f in failures)


def test_log_safety_with_aggressive_compaction_over_80_seeds():
    check(range(40))


@pytest.mark.campaign
def test_log_safety_with_aggressive_compaction_over_2000_seeds():
    check(range(1000))

