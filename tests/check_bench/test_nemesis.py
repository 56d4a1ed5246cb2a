"""The nemesis schedule is a function of its seed, and plans pick their targets from the leader of the moment."""
from __future__ import annotations

import pytest

from quorumlab.bench.check.nemesis import KINDS, Bouncer, Fault, plan, schedule

ALL = ("kill", "pause", "partition")
IDS = (1, 2, 3, 4, 5)


def test_the_same_seed_gives_the_same_schedule_and_another_seed_another():
    assert schedule(3, 120, ALL) == schedule(3, 120, ALL)
    assert schedule(3, 120, ALL) != schedule(4, 120, ALL)


def test_episodes_follow_each_other_inside_the_run_after_the_warmup():
    faults = schedule(0, 300, ALL)
    assert len(faults) > 20
    assert faults[0].start >= 2.0
    assert faults[-1].end <= 300
    for a, b in zip(faults, faults[1:]):
        assert a.start < a.end < b.start


@pytest.mark.parametrize("nemesis", ALL)
def test_one_nemesis_brings_only_its_own_kinds(nemesis):
    assert {f.kind for f in schedule(0, 600, (nemesis,))} == set(KINDS[nemesis])


def test_several_nemeses_also_strike_at_once():
    assert "all" in {f.kind for f in schedule(0, 600, ALL)}


def test_no_nemesis_means_no_fault_and_an_unknown_one_is_refused():
    assert schedule(0, 60, ()) == []
    with pytest.raises(ValueError, match="unknown nemesis clock"):
        schedule(0, 60, ("clock",))


def faults_of(kind: str, nemeses=ALL) -> list[Fault]:
    return [f for seed in range(30) for f in schedule(seed, 200, nemeses) if f.kind == kind]


def test_the_leader_ends_up_in_the_minority_of_a_leader_partition():
    for f in faults_of("partition-leader"):
        small, big = plan(f, IDS, leader=4).groups
        assert 4 in small and len(small) < len(big) and sorted(small + big) == list(IDS)


def test_a_random_partition_cuts_off_a_minority():
    for f in faults_of("partition"):
        small, big = plan(f, IDS, leader=None).groups
        assert 1 <= len(small) <= 2 and sorted(small + big) == list(IDS)


def test_kill_majority_kills_a_majority_starting_with_the_leader():
    for f in faults_of("kill-majority"):
        killed = plan(f, IDS, leader=2).kill
        assert 2 in killed and len(killed) == 3 and len(set(killed)) == 3


def test_a_kill_or_pause_targets_the_leader_about_half_the_time():
    targets = [plan(f, IDS, leader=5).kill[0] for f in faults_of("kill")]
    assert 0.3 < targets.count(5) / len(targets) < 0.8
    assert set(targets) - {5}


def test_all_at_once_pauses_the_leader_kills_a_follower_and_splits_the_cluster():
    for f in faults_of("all"):
        p = plan(f, IDS, leader=3)
        assert p.pause == [3] and len(p.kill) == 1 and p.kill[0] != 3 and len(p.groups) == 2


def test_all_at_once_uses_only_the_enabled_nemeses():
    for f in faults_of("all", ("kill", "partition")):
        p = plan(f, IDS, leader=3)
        assert p.pause == [] and p.kill and p.groups


def test_targets_are_a_function_of_the_episode_and_the_leader():
    for f in schedule(5, 300, ALL):
        assert plan(f, IDS, 1) == plan(f, IDS, 1)


def test_a_bounce_restarts_a_seeded_sequence_of_nodes():
    f = faults_of("bounce", ("kill",))[0]

    def sequence() -> list[int]:
        b = Bouncer(f, list(IDS), 0.0)
        return [n for t in range(0, 5000) if (n := b.due(t / 1000, leader=2)) is not None]

    first = sequence()
    assert first == sequence() and len(first) > 10
    assert 2 in first and set(first) - {2}
