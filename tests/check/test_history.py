"""Recording a history from concurrent clients: History.invoke / complete, thread-safe, pending ops left open."""
from __future__ import annotations

import itertools
import threading

import pytest

from quorumlab.core.check import FAIL, INFO, OK, History, Verdict, check


def ticking_clock():
    counter = itertools.count()
    lock = threading.Lock()

    def now() -> float:
        with lock:
            return float(next(counter))
    return now


def test_an_operation_is_recorded_from_its_call_to_its_answer():
    h = History(clock=ticking_clock())
    i = h.invoke(7, "put", "x", "a")
    done = h.complete(i, OK, None)
    assert (done.index, done.client, done.op, done.key, done.args) == (0, 7, "put", "x", ("a",))
    assert (done.invoke, done.complete, done.outcome, done.result) == (0.0, 1.0, OK, None)
    assert h.operations() == [done] and len(h) == 1


def test_an_operation_still_waiting_is_reported_as_info_with_no_completion():
    h = History(clock=ticking_clock())
    h.invoke(1, "get", "x")
    (op,) = h.operations()
    assert op.outcome == INFO and op.complete is None


def test_bytes_become_text_and_other_types_are_refused():
    h = History(clock=ticking_clock())
    i = h.invoke(1, "cas", b"k", None, b"v")
    assert h.complete(i, OK, True).args == (None, "v")
    assert h.operations()[0].key == "k"
    with pytest.raises(ValueError, match="not UTF-8"):
        h.invoke(1, "put", "k", b"\xff")
    with pytest.raises(ValueError, match="is not a history value"):
        h.invoke(1, "put", "k", 1.5)


def test_an_answer_is_recorded_once_and_only_for_a_known_operation():
    h = History(clock=ticking_clock())
    i = h.invoke(1, "get", "x")
    h.complete(i, FAIL)
    with pytest.raises(ValueError, match="not waiting for an answer"):
        h.complete(i, OK, None)
    with pytest.raises(ValueError, match="not waiting for an answer"):
        h.complete(99, OK, None)
    with pytest.raises(ValueError, match="outcome 'maybe' is not one of ok, fail, info"):
        h.complete(h.invoke(1, "get", "x"), "maybe")


def test_a_fail_or_info_answer_keeps_no_result():
    h = History(clock=ticking_clock())
    assert h.complete(h.invoke(1, "get", "x"), INFO, "ignored").result is None
    assert h.complete(h.invoke(1, "get", "x"), FAIL, "ignored").result is None


def test_threads_recording_against_a_locked_store_make_a_linearizable_history():
    h = History()
    store: dict = {}
    lock = threading.Lock()

    def client(c: int) -> None:
        for n in range(200):
            if n % 2:
                i = h.invoke(c, "put", f"k{n % 3}", f"{c}-{n}")
                with lock:
                    old = store.get(f"k{n % 3}")
                    store[f"k{n % 3}"] = f"{c}-{n}"
                h.complete(i, OK, old)
            else:
                i = h.invoke(c, "get", f"k{n % 3}")
                with lock:
                    value = store.get(f"k{n % 3}")
                h.complete(i, OK, value)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ops = h.operations()
    assert len(ops) == 800 and [op.index for op in ops] == list(range(800))
    assert check(h).verdict == Verdict.OK
