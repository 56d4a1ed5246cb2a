"""The linearizability checker on known-good and known-bad key-value histories, each with and without indeterminate ops."""
from __future__ import annotations

import pytest

from quorumlab.core.check import FAIL, INFO, KVRegister, Operation, Verdict, check
from tests.check.ops import H, cas, delete, get, put

OKAY, BAD = Verdict.OK, Verdict.VIOLATION


def verdict(ops: list[Operation], **kw) -> Verdict:
    return check(ops, **kw).verdict


class KVRegisterByTheBook(KVRegister):
    """The same model as a plugin would write it: a subclass takes the generic (Python) search."""


MODELS = [pytest.param(KVRegister(), id="compiled-kv"), pytest.param(KVRegisterByTheBook(), id="generic")]


# --- sequential and concurrent basics -------------------------------------------------------------------------

@pytest.mark.parametrize("model", MODELS)
def test_a_sequential_history_that_follows_the_store_is_linearizable(model):
    ops = H(put(1, "x", "a", 0, 1, prev=None), get(1, "x", 2, 3, "a"), put(2, "x", "b", 4, 5, prev="a"),
            cas(1, "x", "b", "c", 6, 7, swapped=True), delete(2, "x", 8, 9, found=True), get(1, "x", 10, 11, None))
    assert verdict(ops, model=model) == OKAY


@pytest.mark.parametrize("model", MODELS)
def test_a_read_concurrent_with_a_write_may_see_either_value(model):
    for seen in (None, "a"):
        ops = H(put(1, "x", "a", 0, 10, prev=None), get(2, "x", 2, 3, seen))
        assert verdict(ops, model=model) == OKAY


@pytest.mark.parametrize("model", MODELS)
def test_concurrent_writes_may_take_effect_in_either_order_as_their_answers_say(model):
    ab = H(put(1, "x", "a", 0, 10, prev=None), put(2, "x", "b", 1, 9, prev="a"), get(3, "x", 11, 12, "b"))
    ba = H(put(1, "x", "a", 0, 10, prev="b"), put(2, "x", "b", 1, 9, prev=None), get(3, "x", 11, 12, "a"))
    assert verdict(ab, model=model) == OKAY
    assert verdict(ba, model=model) == OKAY


@pytest.mark.parametrize("model", MODELS)
def test_an_operation_that_ends_when_another_starts_counts_as_concurrent(model):
    ops = H(put(1, "x", "a", 0, 5, prev=None), get(2, "x", 5, 6, None))
    assert verdict(ops, model=model) == OKAY


# --- stale reads --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("model", MODELS)
def test_a_read_after_a_completed_write_that_returns_the_older_value_is_a_stale_read(model):
    ops = H(put(1, "x", "a", 0, 1, prev=None), put(1, "x", "b", 2, 3, prev="a"), get(2, "x", 4, 5, "a"))
    result = check(ops, model=model)
    assert result.verdict == BAD
    assert result.partitions[0].stuck == 2
    assert result.partitions[0].order == [0, 1]


@pytest.mark.parametrize("model", MODELS)
def test_a_stale_read_is_explained_by_an_indeterminate_rewrite_of_the_old_value(model):
    ops = H(put(1, "x", "a", 0, 1, prev=None), put(1, "x", "b", 2, 3, prev="a"),
            put(3, "x", "a", 1, outcome=INFO), get(2, "x", 4, 5, "a"))
    assert verdict(ops, model=model) == OKAY


@pytest.mark.parametrize("model", MODELS)
def test_a_stale_read_stays_a_violation_when_the_indeterminate_write_is_of_another_value(model):
    ops = H(put(1, "x", "a", 0, 1, prev=None), put(1, "x", "b", 2, 3, prev="a"),
            put(3, "x", "c", 1, outcome=INFO), get(2, "x", 4, 5, "a"))
    assert verdict(ops, model=model) == BAD


@pytest.mark.parametrize("model", MODELS)
def test_a_read_of_a_value_nobody_wrote_is_a_violation(model):
    assert verdict(H(put(1, "x", "a", 0, 1, prev=None), get(2, "x", 2, 3, "z")), model=model) == BAD


# --- lost writes --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("model", MODELS)
def test_two_acknowledged_writes_that_both_saw_the_key_absent_lose_one_of_them(model):
    ops = H(put(1, "x", "a", 0, 1, prev=None), put(2, "x", "b", 2, 3, prev=None))
    assert verdict(ops, model=model) == BAD


@pytest.mark.parametrize("model", MODELS)
def test_an_acknowledged_write_that_later_reads_never_see_is_lost(model):
    ops = H(put(1, "x", "a", 0, 1, prev=None), get(2, "x", 2, 3, None))
    assert verdict(ops, model=model) == BAD


@pytest.mark.parametrize("model", MODELS)
def test_a_write_that_timed_out_may_never_have_happened(model):
    ops = H(put(1, "x", "a", 0, 1, outcome=INFO), get(2, "x", 2, 3, None), get(2, "x", 4, 5, None))
    assert verdict(ops, model=model) == OKAY


@pytest.mark.parametrize("model", MODELS)
def test_a_write_that_timed_out_may_have_happened_long_after_its_timeout(model):
    ops = H(put(1, "x", "a", 0, 1, outcome=INFO), get(2, "x", 2, 3, None), get(2, "x", 50, 51, "a"))
    assert verdict(ops, model=model) == OKAY


@pytest.mark.parametrize("model", MODELS)
def test_a_write_that_timed_out_takes_effect_once_not_twice(model):
    ops = H(put(1, "x", "a", 0, 1, outcome=INFO), get(2, "x", 2, 3, "a"),
            put(2, "x", "b", 4, 5, prev="a"), get(2, "x", 6, 7, "a"))
    assert verdict(ops, model=model) == BAD


@pytest.mark.parametrize("model", MODELS)
def test_a_write_that_timed_out_cannot_take_effect_before_it_was_called(model):
    ops = H(get(2, "x", 0, 1, "a"), put(1, "x", "a", 2, 3, outcome=INFO))
    assert verdict(ops, model=model) == BAD


@pytest.mark.parametrize("model", MODELS)
def test_a_failed_write_did_not_happen(model):
    read = H(put(1, "x", "a", 0, 1, outcome=FAIL, prev=None), get(2, "x", 2, 3, "a"))
    unread = H(put(1, "x", "a", 0, 1, outcome=FAIL, prev=None), get(2, "x", 2, 3, None))
    assert verdict(read, model=model) == BAD
    assert verdict(unread, model=model) == OKAY


@pytest.mark.parametrize("model", MODELS)
def test_a_read_that_timed_out_constrains_nothing(model):
    ops = H(put(1, "x", "a", 0, 1, prev=None), get(2, "x", 2, outcome=INFO), get(2, "x", 3, 4, "a"))
    assert verdict(ops, model=model) == OKAY


# --- compare-and-set ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("model", MODELS)
def test_cas_with_expected_none_succeeds_on_an_absent_key(model):
    ops = H(cas(1, "x", None, "a", 0, 1, swapped=True), get(1, "x", 2, 3, "a"))
    assert verdict(ops, model=model) == OKAY


@pytest.mark.parametrize("model", MODELS)
def test_two_sequential_cas_from_the_same_expected_value_cannot_both_succeed(model):
    ops = H(put(1, "x", "a", 0, 1, prev=None), cas(1, "x", "a", "b", 2, 3, swapped=True),
            cas(2, "x", "a", "c", 4, 5, swapped=True))
    assert verdict(ops, model=model) == BAD


@pytest.mark.parametrize("model", MODELS)
def test_two_concurrent_cas_from_the_same_expected_value_cannot_both_succeed(model):
    ops = H(put(1, "x", "a", 0, 1, prev=None), cas(1, "x", "a", "b", 2, 9, swapped=True),
            cas(2, "x", "a", "c", 3, 8, swapped=True))
    assert verdict(ops, model=model) == BAD


@pytest.mark.parametrize("model", MODELS)
def test_a_cas_that_failed_although_nothing_changed_the_value_is_a_violation(model):
    ops = H(put(1, "x", "a", 0, 1, prev=None), cas(2, "x", "a", "b", 2, 3, swapped=False))
    assert verdict(ops, model=model) == BAD


@pytest.mark.parametrize("model", MODELS)
def test_a_cas_that_failed_is_explained_by_a_concurrent_write(model):
    ops = H(put(1, "x", "a", 0, 1, prev=None), put(3, "x", "c", 2, 9, prev="a"),
            cas(2, "x", "a", "b", 3, 4, swapped=False))
    assert verdict(ops, model=model) == OKAY


@pytest.mark.parametrize("model", MODELS)
def test_a_cas_that_failed_is_explained_by_an_indeterminate_write(model):
    ops = H(put(1, "x", "a", 0, 1, prev=None), put(3, "x", "c", 2, outcome=INFO),
            cas(2, "x", "a", "b", 3, 4, swapped=False), get(1, "x", 5, 6, "c"))
    assert verdict(ops, model=model) == OKAY


@pytest.mark.parametrize("model", MODELS)
def test_a_successful_cas_whose_write_a_later_read_misses_is_a_violation(model):
    ops = H(put(1, "x", "a", 0, 1, prev=None), cas(1, "x", "a", "b", 2, 3, swapped=True), get(2, "x", 4, 5, "a"))
    assert verdict(ops, model=model) == BAD


@pytest.mark.parametrize("model", MODELS)
def test_an_indeterminate_cas_takes_effect_only_from_its_expected_value(model):
    took = H(put(1, "x", "a", 0, 1, prev=None), cas(2, "x", "a", "b", 2, outcome=INFO), get(1, "x", 5, 6, "b"))
    could_not = H(put(1, "x", "z", 0, 1, prev=None), cas(2, "x", "a", "b", 2, outcome=INFO), get(1, "x", 5, 6, "b"))
    assert verdict(took, model=model) == OKAY
    assert verdict(could_not, model=model) == BAD


# --- delete ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("model", MODELS)
def test_delete_answers_whether_the_key_existed_or_with_the_previous_value(model):
    assert verdict(H(put(1, "x", "a", 0, 1), delete(1, "x", 2, 3, found=True)), model=model) == OKAY
    assert verdict(H(put(1, "x", "a", 0, 1), delete(1, "x", 2, 3, found="a")), model=model) == OKAY
    assert verdict(H(delete(1, "x", 0, 1, found=False), delete(1, "x", 2, 3, found=None)), model=model) == OKAY
    assert verdict(H(delete(1, "x", 0, 1, found=True)), model=model) == BAD
    assert verdict(H(put(1, "x", "a", 0, 1), delete(1, "x", 2, 3, found="b")), model=model) == BAD


# --- partitions, results, limits --------------------------------------------------------------------------------

def test_each_key_is_checked_alone_and_a_violation_on_one_leaves_the_others_ok():
    ops = H(put(1, "x", "a", 0, 1), get(2, "x", 2, 3, None), put(1, "y", "a", 0, 1), get(2, "y", 2, 3, "a"))
    result = check(ops)
    assert result.verdict == BAD
    assert {p.key: p.verdict for p in result.partitions} == {"x": BAD, "y": OKAY}
    assert [p.key for p in result.violations] == ["x"]
    assert result.operations == 4 and "1 violation" in result.summary()


def test_an_ok_result_carries_a_linearization_in_real_time_order():
    ops = H(put(1, "x", "a", 0, 10, prev="b"), put(2, "x", "b", 1, 9, prev=None), get(3, "x", 11, 12, "a"))
    part = check(ops).partitions[0]
    assert part.verdict == OKAY and part.order == [1, 0, 2] and part.stuck is None


def concurrent_reads(n: int, key: str = "x") -> list[Operation]:
    """n overlapping reads, then a read of a value nobody wrote: the generic search visits every subset of
    the n reads (2^n nodes) before it knows that no order works."""
    return [get(c, key, 0, 100, None) for c in range(n)] + [get(99, key, 200, 201, "nobody wrote this")]


def test_the_time_limit_gives_an_unknown_verdict_instead_of_running_on():
    result = check(H(*concurrent_reads(40)), model=KVRegisterByTheBook(), timeout_s=0.2)
    assert result.verdict == Verdict.UNKNOWN
    assert result.partitions[0].note == "time limit"
    assert result.elapsed_s < 5


def test_partitions_not_reached_before_the_time_limit_are_unknown_and_say_so():
    result = check(H(*concurrent_reads(40), put(1, "y", "a", 300, 301)), model=KVRegisterByTheBook(), timeout_s=0.2)
    assert [p.verdict for p in result.partitions] == [Verdict.UNKNOWN, Verdict.UNKNOWN]
    assert result.partitions[1].note == "not checked: time limit"


def test_the_compiled_search_takes_a_concurrent_read_at_once_and_decides_the_same_history_quickly():
    assert check(H(*concurrent_reads(40)), timeout_s=5).verdict == BAD


def test_an_operation_the_model_cannot_check_is_refused_with_its_index_and_field():
    with pytest.raises(ValueError, match=r"operation #1: args: put takes \[value\]"):
        check(H(get(1, "x", 0, 1), Operation(-1, 1, "put", "x", (), 2, 3, "ok", None)))
    with pytest.raises(ValueError, match=r"operation #0: complete: 1 is before invoke 2"):
        check(H(get(1, "x", 2, 1)))
    with pytest.raises(ValueError, match=r"operation #0: result: cas returns true or false"):
        check(H(cas(1, "x", None, "a", 0, 1, swapped="yes")))
