"""MajorityConfig: the one place elections and commit rules learn who decides (a joint configuration can join it)."""
from __future__ import annotations

import pytest

from quorumlab.core.majority import MajorityConfig
from quorumlab.core.quorum import LOST, PENDING, WON, VoteTally


def test_a_tally_counts_only_the_configurations_voters():
    tally = MajorityConfig([1, 2, 3]).tally()
    assert isinstance(tally, VoteTally)
    assert tally.record(4, True) == PENDING
    assert tally.record(1, True) == PENDING and tally.record(2, True) == WON


def test_each_tally_is_a_fresh_count():
    config = MajorityConfig([1, 2, 3])
    first = config.tally()
    first.record(1, False)
    first.record(2, False)
    assert first.result() == LOST and config.tally().result() == PENDING


@pytest.mark.parametrize(
    "acked,expected",
    [
        ({1: 5, 2: 5, 3: 5}, 5),
        ({1: 9, 2: 4, 3: 1}, 4),
        ({1: 9, 2: 4}, 4),  # voter 3 is missing: it counts 0
        ({1: 9}, 0),
        ({1: 9, 2: 8, 3: 7, 7: 100, 8: 100}, 8),  # 7 and 8 are not voters: ignored
    ],
)
def test_committed_index_is_what_a_majority_of_voters_reached(acked, expected):
    assert MajorityConfig([1, 2, 3]).committed_index(acked) == expected


def test_an_even_number_of_voters_needs_more_than_half():
    assert MajorityConfig([1, 2, 3, 4]).committed_index({1: 9, 2: 9, 3: 2, 4: 1}) == 2


def test_a_single_voter_decides_alone():
    config = MajorityConfig([7])
    assert config.tally().record(7, True) == WON
    assert config.committed_index({7: 42}) == 42


def test_duplicate_voters_count_once_and_an_empty_configuration_is_refused():
    assert MajorityConfig([1, 1, 2, 3]).voters == (1, 2, 3)
    with pytest.raises(ValueError, match="at least one voter"):
        MajorityConfig([])
