"""Quorum counting: both twins (compiled quorumlab.core._quorum and pure quorumlab.core.quorum_py) count votes and commit indexes alike."""
from __future__ import annotations

import types

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quorumlab.core import quorum_py
from tests.core.twins import twins

_compiled, TWINS, BOTH = twins("quorumlab.core._quorum", quorum_py)
PROPS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True)
PENDING, WON, LOST = quorum_py.PENDING, quorum_py.WON, quorum_py.LOST


@pytest.mark.parametrize("q", TWINS)
def test_result_codes_are_shared(q):
    assert (q.PENDING, q.WON, q.LOST) == (0, 1, 2)


@pytest.mark.parametrize("q", TWINS)
def test_three_grants_of_five_win(q):
    t = q.VoteTally([1, 2, 3, 4, 5])
    assert [t.record(v, True) for v in (1, 2, 3)] == [PENDING, PENDING, WON]
    assert (t.granted, t.rejected, t.size, t.result()) == (3, 0, 5, WON)


@pytest.mark.parametrize("q", TWINS)
def test_three_rejections_of_five_lose(q):
    t = q.VoteTally([1, 2, 3, 4, 5])
    assert [t.record(v, False) for v in (5, 4, 3)] == [PENDING, PENDING, LOST]


@pytest.mark.parametrize("q", TWINS)
def test_a_voter_counts_once_whatever_it_sends_again(q):
    t = q.VoteTally([1, 2, 3])
    assert t.record(1, False) == PENDING
    assert t.record(1, True) == PENDING
    assert t.record(1, True) == PENDING
    assert (t.granted, t.rejected) == (0, 1)
    assert t.voted(1) and not t.voted(2)


@pytest.mark.parametrize("q", TWINS)
def test_votes_from_strangers_are_ignored(q):
    t = q.VoteTally([1, 2, 3])
    for stranger in (0, 4, -1, 2**70, "1", None):
        assert t.record(stranger, True) == PENDING
        assert not t.voted(stranger)
    assert t.granted == 0


@pytest.mark.parametrize("q", TWINS)
def test_a_single_voter_decides_alone(q):
    assert q.VoteTally([9]).record(9, True) == WON
    assert q.VoteTally([9]).record(9, False) == LOST


@pytest.mark.parametrize("q", TWINS)
def test_an_even_split_of_four_is_lost_only_after_two_rejections_and_won_after_three_grants(q):
    t = q.VoteTally([1, 2, 3, 4])
    assert t.record(1, True) == PENDING and t.record(2, True) == PENDING
    assert t.record(3, False) == PENDING
    assert t.record(4, True) == WON
    t = q.VoteTally([1, 2, 3, 4])
    assert t.record(1, False) == PENDING and t.record(2, False) == LOST


@pytest.mark.parametrize("q", TWINS)
def test_a_thousand_and_one_node_election_needs_501_grants(q):
    ids = range(1, 1002)
    t = q.VoteTally(ids)
    results = [t.record(v, True) for v in range(1, 502)]
    assert results[-2] == PENDING and results[-1] == WON
    t = q.VoteTally(ids)
    assert [t.record(v, False) for v in range(1, 502)][-2:] == [PENDING, LOST]


@pytest.mark.parametrize("q", TWINS)
def test_large_and_negative_voter_ids_work(q):
    t = q.VoteTally([10**12, -5, 2**80])
    assert t.record(-5, True) == PENDING
    assert t.record(2**80, True) == WON
    assert t.voted(-5) and not t.voted(10**12)


@pytest.mark.parametrize("q", TWINS)
def test_voter_ids_may_be_any_hashable_and_count_once(q):
    t = q.VoteTally(iter([1, "b", True, "b", 1]))  # True == 1: the same voter
    assert t.size == 2
    assert t.record(True, True) == PENDING and t.voted(1)
    assert t.record("b", True) == WON


@pytest.mark.parametrize("q", TWINS)
def test_a_tally_needs_voters(q):
    with pytest.raises(ValueError):
        q.VoteTally([])


@pytest.mark.parametrize("q", TWINS)
def test_joint_tally_is_won_only_when_both_sets_are_won(q):
    t = q.JointTally([1, 2, 3], [3, 4, 5])
    assert t.record(1, True) == PENDING
    assert t.record(2, True) == PENDING  # old set won, new set pending
    assert t.record(3, True) == PENDING
    assert t.record(4, True) == WON


@pytest.mark.parametrize("q", TWINS)
def test_joint_tally_knows_who_answered_in_either_set(q):
    t = q.JointTally([1, 2, 3], [3, 4, 5])
    t.record(2, False)
    t.record(4, True)
    t.record(9, True)  # in neither set: ignored
    assert [v for v in range(1, 10) if t.voted(v)] == [2, 4]


@pytest.mark.parametrize("q", TWINS)
def test_joint_tally_is_lost_when_either_set_is_lost(q):
    t = q.JointTally([1, 2, 3], [4, 5, 6])
    assert t.record(1, True) == PENDING and t.record(2, True) == PENDING
    assert t.record(4, False) == PENDING
    assert t.record(5, False) == LOST
    assert t.result() == LOST


@pytest.mark.parametrize("q", TWINS)
@pytest.mark.parametrize(
    "match,expected",
    [
        ({1: 5}, 5),
        ({1: 5, 2: 3, 3: 9}, 5),
        ([7, 7, 1, 1], 1),
        ([10, 9, 8, 7, 6], 8),
        ([0, 2**63 - 1, 2**63 - 1], 2**63 - 1),
        ([2**70, 2**70, 1], 2**70),
        (range(3, 8), 5),
    ],
)
def test_committed_index_is_the_largest_index_a_majority_holds(q, match, expected):
    assert q.committed_index(match) == expected


@pytest.mark.parametrize("q", TWINS)
@pytest.mark.parametrize(
    "match,voters,expected",
    [
        ({1: 5, 2: 3, 3: 9}, (1, 2, 3), 5),
        ({1: 5, 2: 3, 3: 9, 4: 9, 5: 9}, (1, 2, 3), 5),  # 4 and 5 are not among the voters
        ({1: 5, 2: 3}, (1, 2, 3), 3),  # voter 3 is missing: it holds 0
        ({1: 5}, (1, 2, 3), 0),
        ({}, (7,), 0),
        ({"a": 2**70, "b": 2**70, "c": 1}, ("a", "b", "c"), 2**70),
        (types.MappingProxyType({1: 4, 2: 4, 3: 1}), [3, 2, 1], 4),
    ],
)
def test_committed_index_of_some_voters_reads_only_theirs(q, match, voters, expected):
    assert q.committed_index(match, voters) == expected


@pytest.mark.parametrize("q", TWINS)
def test_committed_index_needs_voters(q):
    with pytest.raises(ValueError):
        q.committed_index({})


@pytest.mark.parametrize("q", TWINS)
def test_joint_committed_index_needs_both_majorities(q):
    assert q.joint_committed_index({1: 10, 2: 10, 3: 1}, {3: 1, 4: 4, 5: 4}) == 4
    assert q.joint_committed_index({1: 2, 2: 2, 3: 2}, {4: 9, 5: 9, 6: 9}) == 2


# -- parity properties ---------------------------------------------------------------------

_voter_ids = st.one_of(st.integers(0, 12), st.integers(-(2**70), 2**70), st.booleans(), st.text(max_size=1))


@PROPS
@given(
    st.lists(_voter_ids, min_size=1, max_size=40),
    st.lists(st.tuples(_voter_ids, st.booleans()), max_size=80),
)
def test_vote_tally_twins_agree_vote_by_vote(voters, votes):
    tallies = [q.VoteTally(voters) for q in BOTH]
    for voter, granted in votes:
        assert len({t.record(voter, granted) for t in tallies}) == 1, (voters, voter, granted)
        assert len({(t.granted, t.rejected, t.size, t.result(), t.voted(voter)) for t in tallies}) == 1


@PROPS
@given(
    st.lists(st.integers(0, 20), min_size=1, max_size=9),
    st.lists(st.integers(0, 20), min_size=1, max_size=9),
    st.lists(st.tuples(st.integers(0, 22), st.booleans()), max_size=40),
)
def test_joint_tally_twins_agree_vote_by_vote(old, new, votes):
    tallies = [q.JointTally(old, new) for q in BOTH]
    for voter, granted in votes:
        assert len({t.record(voter, granted) for t in tallies}) == 1, (old, new, voter, granted)


@PROPS
@given(st.lists(st.one_of(st.integers(0, 2**63 - 1), st.integers(0, 2**80)), min_size=1, max_size=30))
def test_committed_index_twins_agree_and_a_majority_holds_it(indexes):
    results = {q.committed_index(indexes) for q in BOTH} | {q.committed_index(dict(enumerate(indexes))) for q in BOTH}
    results |= {q.committed_index(dict(enumerate(indexes)), range(len(indexes))) for q in BOTH}
    assert len(results) == 1
    (c,) = results
    assert sum(1 for i in indexes if i >= c) > len(indexes) // 2
    assert sum(1 for i in indexes if i > c) <= len(indexes) // 2
