"""Counterexamples: shrinking keeps a proof of the violation and makes it smaller; text, HTML and PNG show it."""
from __future__ import annotations

import re
import sys
import xml.dom.minidom
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings

from quorumlab.core.check import INFO, OK, KVRegister, Model, Verdict, check, linearize
from quorumlab.core.check.counterexample import find_counterexample, render_text, save
from quorumlab.core.check.generate import generate
from quorumlab.core.check.shrink import back_cut, front_cut, inert, shrink
from quorumlab.core.check.timeline_html import ticks
from tests.check import brute
from tests.check.ops import H, cas, get, put
from tests.check.strategies import histories

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True)
KV = KVRegister()


def stale_read_in(ops: list, key: str = "k1") -> list:
    """``ops`` with one late read of ``key`` changed to return a value overwritten long before."""
    ops = list(ops)
    k = next(i for i, op in enumerate(ops[len(ops) // 2:], len(ops) // 2)
             if op.op == "get" and op.outcome == OK and op.key == key and op.result is not None)
    old = [op.args[0] for op in ops[:k] if op.op == "put" and op.key == key and op.outcome == OK][-5]
    ops[k] = replace(ops[k], result=old)
    return ops


def fails_everywhere(ops, any_start: bool) -> bool:
    starts = KV.any_states(ops) if any_start else [None]
    return all(not brute.linearizable(ops, s) for s in starts)


# --- the steps keep the proof: each maps a linearizable history to a linearizable one ---------------------------

@PROPS
@given(histories(max_ops=7))
def test_a_back_cut_of_a_linearizable_history_is_linearizable(ops):
    if brute.linearizable(ops):
        for t in {op.complete for op in ops if op.complete is not None}:
            assert brute.linearizable(back_cut(ops, t)), t


@PROPS
@given(histories(max_ops=7))
def test_a_front_cut_of_a_linearizable_history_is_linearizable_from_some_state(ops):
    if brute.linearizable(ops):
        for t in {op.complete for op in ops if op.complete is not None}:
            cut = front_cut(ops, t)
            assert any(brute.linearizable(cut, s) for s in KV.any_states(cut)), t


@PROPS
@given(histories(max_ops=7))
def test_deleting_an_inert_operation_from_a_linearizable_history_keeps_it_linearizable(ops):
    if brute.linearizable(ops):
        for op in ops:
            if inert(op, KV, KV.any_states(ops)):
                assert brute.linearizable([o for o in ops if o is not op])


@PROPS
@given(histories(max_ops=8))
def test_a_shrunk_history_still_fails_and_is_no_bigger(ops):
    if check(ops).verdict != Verdict.VIOLATION:
        return
    shrunk = shrink([op for op in ops if op.outcome != "fail"], KV)
    assert len(shrunk.ops) <= len(ops)
    assert fails_everywhere(shrunk.ops, shrunk.any_start)


# --- shrinking a real history ---------------------------------------------------------------------------------

def test_a_stale_read_in_a_long_history_shrinks_to_a_few_operations_that_still_fail():
    ops = stale_read_in(generate(6000, keys=3, seed=11))
    result = check(ops)
    cx = find_counterexample(result, ops, budget_s=20)
    assert result.verdict == Verdict.VIOLATION and cx.key == "k1"
    assert len(cx.shown()) <= 6 and len(cx.ops) < cx.partition_size
    for start in (KV.any_states(cx.ops) if cx.any_start else [KV.init()]):
        assert linearize(cx.ops, KV, 0.0, start).verdict == Verdict.VIOLATION, start
    assert cx.stuck in {op.index for op in cx.ops} and cx.stuck not in cx.prefix


def test_a_model_that_cannot_name_any_state_is_only_cut_from_the_back():
    class Generic(KVRegister):
        def any_states(self, ops):
            return Model.any_states(self, ops)

    ops = H(put(1, "x", "a", 0, 1), put(1, "x", "b", 2, 3, prev="a"), get(2, "x", 4, 5, "a"), get(2, "x", 6, 7, "b"))
    cx = find_counterexample(check(ops, model=Generic()), ops, model=Generic())
    assert not cx.any_start and cx.front is None
    assert [op.index for op in cx.ops] == [0, 1, 2] and cx.stuck == 2


def test_with_no_time_to_shrink_the_whole_partition_is_shown_with_the_checkers_order():
    ops = H(put(1, "x", "a", 0, 1), put(1, "x", "b", 2, 3, prev="a"), get(2, "x", 4, 5, "a"))
    cx = find_counterexample(check(ops), ops, budget_s=0)
    assert [op.index for op in cx.ops] == [0, 1, 2] and cx.prefix == [0, 1] and cx.stuck == 2 and cx.checks == 0


def test_there_is_no_counterexample_for_a_linearizable_history():
    ops = H(put(1, "x", "a", 0, 1), get(2, "x", 2, 3, "a"))
    assert find_counterexample(check(ops), ops) is None


# --- showing it -----------------------------------------------------------------------------------------------------

CAS_ANOMALY = H(put(1, "x", "a", 0, 10, prev=None), get(2, "x", 2, 6, None), put(3, "x", "b", 3, 14, prev="a"),
                cas(2, "x", "a", "c", 8, 16, swapped=True), put(1, "x", "d", 12, outcome=INFO),
                get(1, "x", 18, 20, "b"))


def test_the_text_has_one_aligned_line_per_operation_and_marks_the_impossible_one():
    cx = find_counterexample(check(CAS_ANOMALY), CAS_ANOMALY, time_unit="ms")
    text = render_text(cx)
    table = text.split("\n\n")[1].splitlines()
    assert len(table) == 1 + len(cx.shown())
    assert len({line.index("operation") if i == 0 else line.index(cx.labels[op.index])
                for i, (line, op) in enumerate(zip(table, [cx.shown()[0]] + cx.shown()))}) == 1
    marked = [line for line in table if line.startswith("!")]
    assert marked == [next(line for line in table if "cas('x', 'a', 'c') -> True" in line)]
    assert "cannot take effect before it returns" in marked[0]
    assert "Longest linearizable prefix: #0, #2 (state after it: 'b')." in text
    assert "Times in ms" in text


def test_the_html_page_stands_alone_and_draws_every_operation(tmp_path):
    cx = find_counterexample(check(CAS_ANOMALY), CAS_ANOMALY, time_unit="ms")
    files, notes = save(cx, tmp_path)
    page = files["html"].read_text(encoding="utf-8")
    assert not re.search(r"<script|<link|\bsrc=|https?://(?!www\.w3\.org/2000/svg)", page)
    svg = page[page.index("<svg"):page.index("</svg>") + 6]
    xml.dom.minidom.parseString(svg)
    assert svg.count("class=\"bar ") == len(cx.shown())
    assert svg.count("class=\"bar stuck") == 1 and "#3 cas(&#x27;x&#x27;, &#x27;a&#x27;, &#x27;c&#x27;)" in svg
    assert svg.count("<circle class=\"point\"") == len(cx.prefix)
    assert "<table>" in page and "class=\"stuck\"" in page


def test_the_png_is_drawn_when_matplotlib_is_installed(tmp_path):
    pytest.importorskip("matplotlib")
    cx = find_counterexample(check(CAS_ANOMALY), CAS_ANOMALY)
    files, notes = save(cx, tmp_path)
    assert notes == [] and files["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_matplotlib_the_png_is_skipped_with_a_note_and_the_html_still_written(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    cx = find_counterexample(check(CAS_ANOMALY), CAS_ANOMALY)
    files, notes = save(cx, tmp_path)
    assert "png" not in files and not (tmp_path / "counterexample.png").exists()
    assert len(notes) == 1 and "matplotlib is not installed" in notes[0]
    assert files["html"].exists() and files["text"].exists()


def test_info_operations_left_open_before_a_front_cut_are_listed_not_drawn():
    ops = stale_read_in(generate(4000, keys=2, seed=5, info_rate=0.1))
    cx = find_counterexample(check(ops), ops, budget_s=20)
    if not cx.lingering():
        pytest.skip("this history's shrink kept no info operation from before the cut")
    assert f"Also open: {len(cx.lingering())} info operations" in render_text(cx)
    assert all(op not in cx.shown() for op in cx.lingering())


def test_the_time_axis_of_the_html_has_round_ticks():
    assert ticks(17.28) == [0, 5, 10, 15]
    assert ticks(0.0034) == [0, 0.001, 0.002, 0.003]
    assert ticks(0) == [0.0]
