"""The acceptor on its own: promise and accept rules, lease hold, abstention, durable state; a property test."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from quorumlab.algorithms.paxos import Acceptor, drift_widened
from quorumlab.algorithms.paxos.acceptor import ABSTAIN, LEASE_HELD, PROMISED, TOO_LONG


def fresh(now: int = 0, max_lease_ms: int = 100, drift: float = 0.0) -> Acceptor:
    return Acceptor({}, max_lease_ms, drift, now)


def test_fresh_acceptor_promises_anything_above_zero():
    acc = fresh()
    verdict = acc.prepare((1, 2), 0)
    assert verdict.ok and verdict.changed and acc.promised == (1, 2)


def test_promise_below_current_is_refused_and_equal_is_idempotent():
    acc = fresh()
    acc.prepare((5, 2), 0)
    assert acc.prepare((4, 3), 1).reason == PROMISED
    again = acc.prepare((5, 2), 2)
    assert again.ok and not again.changed


def test_accept_raises_promise_and_starts_the_hold_on_arrival():
    acc = fresh(drift=0.01)
    verdict = acc.accept((3, 2), 100, 50)
    assert verdict.ok and verdict.changed
    assert acc.promised == acc.accepted == (3, 2)
    assert acc.lease_holder(50) == 2
    assert acc.hold_until == 50 + drift_widened(100, 0.01) == 50 + 103


def test_hold_for_the_same_holder_only_grows():
    acc = fresh()
    acc.accept((3, 2), 100, 50)
    acc.accept((3, 2), 40, 60)
    assert acc.hold_until == 150


def test_renewal_with_unchanged_value_needs_no_write():
    acc = fresh()
    acc.accept((3, 2), 100, 50)
    assert not acc.accept((3, 2), 100, 90).changed


def test_lease_for_x_refuses_everyone_else_until_it_ends():
    acc = fresh()
    acc.accept((3, 2), 100, 0)
    assert acc.prepare((9, 3), 99).reason == LEASE_HELD
    assert acc.accept((9, 3), 100, 99).reason == LEASE_HELD
    assert acc.wait_ms(60) == 40
    assert acc.prepare((9, 3), 100).ok


def test_abstaining_acceptor_refuses_all_and_reports_the_wait():
    acc = Acceptor({"promised": [2, 1], "accepted": [2, 1], "accepted_lease_ms": 100}, 100, 0.0, 1000)
    assert acc.abstain_until == 1100
    assert acc.prepare((3, 1), 1050).reason == ABSTAIN
    assert acc.accept((3, 1), 100, 1050).reason == ABSTAIN
    assert acc.wait_ms(1050) == 50
    assert acc.prepare((3, 1), 1100).ok


def test_lease_longer_than_maximum_is_refused():
    assert fresh(max_lease_ms=100).accept((1, 1), 101, 0).reason == TOO_LONG


def test_durable_state_round_trips():
    acc = fresh()
    acc.prepare((4, 3), 0)
    acc.accept((4, 3), 80, 1)
    back = Acceptor(acc.durable(), 100, 0.0, 10)
    assert (back.promised, back.accepted, back.accepted_lease_ms) == ((4, 3), (4, 3), 80)
    assert back.lease_holder(10) == 0  # the hold is volatile: the abstention covers it


def test_drift_widening_is_exact_without_drift_and_grows_with_it():
    assert drift_widened(135, 0.0) == 135
    assert drift_widened(135, 0.002) == 136
    assert drift_widened(1000, 0.05) == 1106


ops = st.lists(
    st.tuples(
        st.sampled_from(["prepare", "accept"]),
        st.integers(0, 6),  # round
        st.integers(1, 3),  # node id
        st.integers(1, 100),  # lease ms
        st.integers(0, 60),  # time step
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(ops)
def test_acceptor_invariants_hold_for_any_sequence(seq):
    """The promise never drops; grants respect the promise and any foreign lease; state survives a reload."""
    acc = fresh()
    now = 0
    for kind, rnd, node, lease, dt in seq:
        now += dt
        ballot = (rnd, node)
        before = acc.promised
        holder = acc.lease_holder(now)
        verdict = acc.prepare(ballot, now) if kind == "prepare" else acc.accept(ballot, lease, now)
        assert acc.promised >= before
        if verdict.ok:
            assert ballot >= before
            assert holder in (0, node)
            assert acc.promised == ballot
            if kind == "accept":
                assert acc.accepted == ballot and acc.lease_holder(now) == node
        else:
            assert acc.promised == before
    back = Acceptor(acc.durable(), 100, 0.0, now)
    assert (back.promised, back.accepted) == (acc.promised, acc.accepted)
