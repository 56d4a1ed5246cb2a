"""The log abstraction: tail, term lookup, consistency check and the up-to-date rule of section 5.4.1."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quorumlab.algorithms.raft import RaftLog


def test_empty_log_has_sentinel_tail():
    log = RaftLog()
    assert (log.last_index, log.last_term, len(log)) == (0, 0, 0)
    assert log.term_at(0) == 0 and log.term_at(1) is None
    assert log.matches(0, 0) and not log.matches(1, 1)


def test_from_terms_builds_one_entry_per_term():
    log = RaftLog.from_terms([1, 1, 2])
    assert (log.last_index, log.last_term) == (3, 2)
    assert [log.term_at(i) for i in range(4)] == [0, 1, 1, 2]
    assert log.matches(2, 1) and not log.matches(2, 2) and not log.matches(4, 2)


def test_terms_never_decrease_along_the_log():
    with pytest.raises(ValueError, match="never decrease"):
        RaftLog.from_terms([2, 1])


@pytest.mark.parametrize(
    "ours,cand_term,cand_index,ok",
    [
        ([], 0, 0, True),
        ([1, 1], 1, 2, True),  # same last term, same length
        ([1, 1], 1, 3, True),  # same last term, longer
        ([1, 1], 1, 1, False),  # same last term, shorter
        ([1, 1], 2, 1, True),  # later last term wins even when shorter
        ([1, 2], 1, 5, False),  # earlier last term loses even when longer
        ([1], 0, 0, False),  # an empty candidate log is behind any non-empty one
    ],
)
def test_up_to_date_compares_last_term_then_last_index(ours, cand_term, cand_index, ok):
    assert RaftLog.from_terms(ours).is_up_to_date(cand_term, cand_index) is ok


terms = st.lists(st.integers(1, 5), max_size=8).map(sorted)


@given(terms, terms)
def test_up_to_date_is_a_total_preorder(a, b):
    la, lb = RaftLog.from_terms(a), RaftLog.from_terms(b)
    a_ok_for_b = lb.is_up_to_date(la.last_term, la.last_index)
    b_ok_for_a = la.is_up_to_date(lb.last_term, lb.last_index)
    assert a_ok_for_b or b_ok_for_a
    assert (a_ok_for_b and b_ok_for_a) == ((la.last_term, la.last_index) == (lb.last_term, lb.last_index))
