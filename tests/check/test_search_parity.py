"""Both twins of the key-value search (compiled quorumlab.core.check._search and pure quorumlab.core.check.search_py) agree move for move."""
from __future__ import annotations

import time
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings

from quorumlab.core.check import search_py
from quorumlab.core.check.checker import DEFAULT_MODEL, _Part
from quorumlab.core.check.generate import generate
from tests.check.strategies import histories
from tests.core.twins import twins

_compiled, TWINS, BOTH = twins("quorumlab.core.check._search", search_py)
PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True)


def searches(ops, deadline=0.0):
    """The search inputs of each key's partition."""
    for key in dict.fromkeys(op.key for op in ops):
        part = _Part([op for op in ops if op.key == key], DEFAULT_MODEL, None)
        e = part.enc
        yield (part.events, part.is_info, e.code, e.a, e.b, e.out, part.init, deadline)


@pytest.mark.parametrize("s", TWINS)
def test_both_twins_share_the_codes(s):
    assert (s.OK, s.VIOLATION, s.TIMEOUT, s.PUT, s.GET, s.DELETE, s.CAS, s.ANY, s.PRESENT, s.JUMP) == \
        (0, 1, 2, 1, 2, 3, 4, -1, -2, -1)


@pytest.mark.skipif(_compiled is None, reason="quorumlab.core.check._search is not built")
@PROPS
@given(histories(max_ops=9, keys=("x", "y"), clients=4))
def test_the_twins_return_the_same_status_order_stuck_operation_and_step_count(ops):
    for args in searches(ops):
        assert _compiled.search_kv(*args) == search_py.search_kv(*args)


@pytest.mark.skipif(_compiled is None, reason="quorumlab.core.check._search is not built")
@pytest.mark.parametrize("seed", range(6))
def test_the_twins_agree_on_generated_histories_with_timeouts_and_corrupted_answers(seed):
    ops = generate(600, keys=2, clients=6, info_rate=0.1, fail_rate=0.02, seed=seed)
    if seed % 2:
        k = next(i for i, op in enumerate(ops[100:], 100) if op.op == "get" and op.outcome == "ok")
        ops[k] = replace(ops[k], result=-1)
    for args in searches(ops):
        assert _compiled.search_kv(*args) == search_py.search_kv(*args)


@pytest.mark.parametrize("s", TWINS)
def test_a_deadline_in_the_past_stops_the_search_with_timeout_and_the_prefix_so_far(s):
    ops = generate(20_000, keys=1, clients=16, seed=1)
    (args,) = list(searches(ops, deadline=time.monotonic() - 1))
    status, order, stuck, steps = s.search_kv(*args)
    assert status == s.TIMEOUT and 0 < steps <= search_py.CHECK_EVERY and stuck >= 0


@pytest.mark.parametrize("s", TWINS)
def test_a_history_without_ok_operations_is_linearizable_at_once(s):
    assert s.search_kv([0], [1], [s.PUT], [1], [0], [s.ANY], 0, 0.0) == (s.OK, [], -1, 0)
    assert s.search_kv([], [], [], [], [], [], 0, 0.0) == (s.OK, [], -1, 0)


@pytest.mark.parametrize("s", TWINS)
@pytest.mark.parametrize("events, is_info, message", [
    ([0, 1, 1], [0], "entry 1 is out of range or repeated"),
    ([1, 0], [0], "operation 0: a return without an earlier call"),
    ([0, 1], [1], "operation 0: a return without an earlier call, or a return for an info op"),
    ([0], [0], "operation 0 is missing its call or return"),
    ([0, 7], [0], "entry 7 is out of range"),
])
def test_the_twins_refuse_the_same_malformed_entry_lists(s, events, is_info, message):
    with pytest.raises(ValueError, match=message):
        s.search_kv(events, is_info, [s.GET], [0], [0], [0], 0, 0.0)


@pytest.mark.parametrize("s", TWINS)
@pytest.mark.parametrize("code, a, out, message", [
    (2, 0, -1, "an ok operation with no output"),
    (1, 0, -2, "or PRESENT for another op than delete"),
    (1, -3, 0, "a negative value id"),
    (9, 0, 0, "code 9 is not PUT, GET, DELETE or CAS"),
])
def test_the_twins_refuse_the_same_malformed_operations(s, code, a, out, message):
    with pytest.raises(ValueError, match=message):
        s.search_kv([0, 1], [0], [code], [a], [0], [out], 0, 0.0)
