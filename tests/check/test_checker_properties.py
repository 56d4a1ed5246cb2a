"""The checker agrees with a brute-force search over every order real time allows, on small random histories."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from quorumlab.core.check import INFO, OK, KVRegister, Verdict, check
from tests.check import brute
from tests.check.strategies import histories

PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True)


class GenericKV(KVRegister):
    """The key-value model through the generic search (a subclass is not specialised)."""


@PROPS
@given(histories(keys=("x", "y")))
def test_the_compiled_search_agrees_with_brute_force(ops):
    assert (check(ops).verdict == Verdict.OK) == brute.linearizable(ops)


@PROPS
@given(histories(keys=("x", "y")))
def test_the_generic_search_agrees_with_brute_force(ops):
    assert (check(ops, model=GenericKV()).verdict == Verdict.OK) == brute.linearizable(ops)


@PROPS
@given(histories(max_ops=8))
def test_an_ok_verdict_comes_with_an_order_that_explains_every_answer(ops):
    result = check(ops)
    if result.verdict != Verdict.OK:
        return
    order = [ops[i] for i in result.partitions[0].order]
    assert {op.index for op in ops if op.outcome == OK} <= {op.index for op in order}
    assert all(op.outcome in (OK, INFO) for op in order)
    assert len({op.index for op in order}) == len(order), "an info operation took effect twice"
    state = None
    for k, op in enumerate(order):
        ok, state = brute.kv_apply(state, op, op.result if op.outcome == OK else brute._UNSEEN)
        assert ok, f"{op} cannot return that in state {state!r}"
        later = order[k + 1:]
        assert not any(x.outcome == OK and x.complete < op.invoke for x in later), "real-time order broken"


@PROPS
@given(histories(max_ops=8))
def test_a_violation_names_an_ok_operation_that_cannot_follow_the_prefix_it_reports(ops):
    result = check(ops)
    if result.verdict != Verdict.VIOLATION:
        return
    part = result.partitions[0]
    stuck = ops[part.stuck]
    assert stuck.outcome == OK and stuck.index not in part.order
