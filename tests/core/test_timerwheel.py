"""The timer wheel: both twins (compiled quorumlab.core._timerwheel and pure quorumlab.core.timerwheel_py) behave like a sorted list of deadlines.

Keys expire in deadline order, then schedule order; a deadline in the past
expires at the next advance; cancel is True exactly once per pending timer.
"""
from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
import weakref

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quorumlab.core import timerwheel_py
from tests.core.twins import twins

_compiled, TWINS, BOTH = twins("quorumlab.core._timerwheel", timerwheel_py)
MAX = timerwheel_py.MAX_DEADLINE
DAY = 86_400_000


@pytest.mark.parametrize("impl", TWINS)
def test_module_constants_match(impl):
    assert (impl.LEVELS, impl.SLOTS, impl.MASK, impl.MAX_DEADLINE) == (6, 256, 255, 2**48 - 1)


@pytest.mark.parametrize("impl", TWINS)
def test_keys_expire_in_deadline_then_schedule_order(impl):
    w = impl.TimerWheel(0)
    for deadline, key in [(30, "c"), (10, "a1"), (20, "b"), (10, "a2"), (70_000, "far"), (30, "c2")]:
        w.schedule(deadline, key)
    assert w.advance(29) == ["a1", "a2", "b"]
    assert w.advance(69_999) == ["c", "c2"]
    assert w.next_deadline() == 70_000
    assert w.advance(70_000) == ["far"]
    assert len(w) == 0 and w.next_deadline() is None and w.now == 70_000


@pytest.mark.parametrize("impl", TWINS)
def test_deadline_in_the_past_expires_at_the_next_advance_after_earlier_timers_at_now(impl):
    w = impl.TimerWheel(1000)
    w.schedule(1000, "due-now")
    w.schedule(5, "long-past")
    w.schedule(-(2**70), "very-long-past")
    assert w.next_deadline() == 1000
    assert w.advance(1000) == ["due-now", "long-past", "very-long-past"]


@pytest.mark.parametrize("impl", TWINS)
def test_cancel_is_true_once_and_false_after_expiry(impl):
    w = impl.TimerWheel(0)
    h1 = w.schedule(5, "x")
    h2 = w.schedule(6, "y")
    assert w.cancel(h1) is True
    assert w.cancel(h1) is False
    assert w.advance(10) == ["y"]
    assert w.cancel(h2) is False
    assert w.cancel(-1) is False and w.cancel(2**80) is False and w.cancel(0) is False


@pytest.mark.parametrize("impl", TWINS)
def test_cancel_with_something_that_is_not_a_handle_is_false_and_harmless(impl):
    w = impl.TimerWheel(0)
    w.schedule(5, "x")
    for junk in (True, 1.0, "1", None, [1], (1,)):
        assert w.cancel(junk) is False
    assert w.advance(5) == ["x"]


@pytest.mark.parametrize("impl", TWINS)
def test_stale_handle_cannot_cancel_a_newer_timer(impl):
    w = impl.TimerWheel(0)
    old = w.schedule(5, "old")
    assert w.cancel(old)
    new = w.schedule(5, "new")  # the compiled wheel reuses the freed slab entry
    assert w.cancel(old) is False
    assert w.advance(5) == ["new"]
    assert w.cancel(new) is False


@pytest.mark.parametrize("impl", TWINS)
def test_timers_cascade_down_from_every_level(impl):
    w = impl.TimerWheel(0)
    deadlines = [1, 255, 256, 65_535, 65_536, 2**24 + 3, 2**32 + 7, 2**40 + 11, MAX]
    for d in reversed(deadlines):
        w.schedule(d, d)
    got = []
    while w.next_deadline() is not None:
        nd = w.next_deadline()
        assert w.advance(nd) == [nd]
        got.append(nd)
    assert got == deadlines


@pytest.mark.parametrize("impl", TWINS)
def test_advance_jumps_days_in_one_call(impl):
    w = impl.TimerWheel(0)
    for i in range(1, 31):
        w.schedule(i * DAY, i)
    w.schedule(45 * DAY + 1, "later")
    assert w.advance(30 * DAY) == list(range(1, 31))
    assert w.next_deadline() == 45 * DAY + 1
    assert w.advance(400 * DAY) == ["later"]


@pytest.mark.parametrize("impl", TWINS)
def test_time_cannot_go_back_or_past_the_range(impl):
    w = impl.TimerWheel(100)
    with pytest.raises(ValueError):
        w.advance(99)
    with pytest.raises(ValueError):
        w.advance(MAX + 1)
    with pytest.raises(ValueError):
        w.schedule(MAX + 1, "x")
    with pytest.raises(ValueError):
        impl.TimerWheel(-1)
    assert w.now == 100 and len(w) == 0


@pytest.mark.parametrize("impl", TWINS)
@pytest.mark.parametrize("bad", [1.5, "3", None])
def test_times_must_be_ints_and_a_rejected_call_changes_nothing(impl, bad):
    w = impl.TimerWheel(10)
    w.schedule(20, "k")
    with pytest.raises(TypeError):
        impl.TimerWheel(bad)
    with pytest.raises(TypeError):
        w.schedule(bad, "x")
    with pytest.raises(TypeError):
        w.advance(bad)
    assert (w.now, len(w), w.next_deadline()) == (10, 1, 20)
    assert w.advance(20) == ["k"]


@pytest.mark.parametrize("impl", TWINS)
def test_keys_are_released_after_expiry_and_cancel(impl):
    class Key:
        pass

    w = impl.TimerWheel(0)
    a, b = Key(), Key()
    ra, rb = weakref.ref(a), weakref.ref(b)
    w.schedule(3, a)
    hb = w.schedule(4, b)
    del a, b
    assert w.cancel(hb)
    expired = w.advance(10)
    del expired
    gc.collect()
    assert ra() is None and rb() is None


@pytest.mark.parametrize("impl", TWINS)
def test_many_timers_on_one_deadline_keep_schedule_order(impl):
    w = impl.TimerWheel(7)
    handles = [w.schedule(300_000, i) for i in range(1001)]
    for h in handles[::3]:
        w.cancel(h)
    assert w.advance(300_000) == [i for i in range(1001) if i % 3]


# -- model-based property ------------------------------------------------------------------

_deltas = st.one_of(
    st.integers(-500, -1),
    st.integers(0, 300),
    st.integers(0, 70_000),
    st.integers(0, 40 * DAY),
    st.integers(0, 2**42),
)
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("schedule"), _deltas),
        st.tuples(st.just("cancel"), st.integers(0, 10_000)),
        st.tuples(st.just("advance"), st.one_of(st.integers(0, 300), st.integers(0, 70_000), st.integers(0, 60 * DAY))),
        st.tuples(st.just("next"), st.just(0)),
    ),
    max_size=120,
)


class Model:
    """The trivial reference: a list of (effective deadline, schedule sequence, key)."""

    def __init__(self) -> None:
        self.now = 0
        self.pending: dict[int, tuple[int, int]] = {}  # seq -> (deadline, key)

    def schedule(self, deadline: int, seq: int) -> None:
        self.pending[seq] = (max(deadline, self.now), seq)

    def cancel(self, seq: int) -> bool:
        return self.pending.pop(seq, None) is not None

    def advance(self, now: int) -> list:
        due = sorted((d, s) for s, (d, _) in self.pending.items() if d <= now)
        for _, s in due:
            del self.pending[s]
        self.now = now
        return [s for _, s in due]

    def next_deadline(self) -> int | None:
        return min((d for d, _ in self.pending.values()), default=None)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True, max_examples=150)
@given(st.integers(0, 2**40), _ops)
def test_both_twins_behave_like_a_sorted_list(start, ops):
    model = Model()
    model.now = start
    wheels = [impl.TimerWheel(start) for impl in BOTH]
    handles: list[list[int]] = [[] for _ in wheels]
    for step, (op, arg) in enumerate(ops):
        where = f"step {step}: {op}({arg}) at now={model.now}"
        if op == "schedule":
            deadline = min(model.now + arg, MAX)
            seq = len(handles[0])
            model.schedule(deadline, seq)
            for w, hs in zip(wheels, handles):
                hs.append(w.schedule(deadline, seq))
        elif op == "cancel" and handles[0]:
            seq = arg % len(handles[0])
            expected = model.cancel(seq)
            assert [w.cancel(hs[seq]) for w, hs in zip(wheels, handles)] == [expected] * len(wheels), where
        elif op == "advance":
            now = min(model.now + arg, MAX)
            expected = model.advance(now)
            assert [w.advance(now) for w in wheels] == [expected] * len(wheels), where
        expected_next = model.next_deadline()
        assert [w.next_deadline() for w in wheels] == [expected_next] * len(wheels), where
        assert [len(w) for w in wheels] == [len(model.pending)] * len(wheels), where
        assert [w.now for w in wheels] == [model.now] * len(wheels), where


# -- memory -------------------------------------------------------------------------------

_RSS_PROBE = textwrap.dedent(
    """
    import sys
    from quorumlab.core.{module} import TimerWheel

    def rss_kib():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))

    before = rss_kib()
    wheel = TimerWheel(0)
    handles = [wheel.schedule((i * 7919) % 10_000_000, i) for i in range(1_000_000)]
    assert len(wheel) == 1_000_000
    print((rss_kib() - before) * 1024)
    """
)


def pending_timers_rss(module: str) -> int:
    """Bytes of resident memory that 1,000,000 pending timers (distinct int keys, handles kept) add, in a fresh process."""
    env = {k: v for k, v in os.environ.items() if k != "QUORUMLAB_PURE_PYTHON"}
    out = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE.format(module=module)],
        capture_output=True, text=True, env=env, timeout=120, check=True,
    )
    return int(out.stdout.strip())


@pytest.mark.skipif(_compiled is None or not os.path.exists("/proc/self/status"), reason="needs quorumlab.core._timerwheel and /proc")
def test_a_million_pending_compiled_timers_take_well_under_200_mb():
    rss = pending_timers_rss("_timerwheel")
    assert rss < 150 * 2**20, f"1,000,000 pending timers took {rss / 2**20:.0f} MiB"
