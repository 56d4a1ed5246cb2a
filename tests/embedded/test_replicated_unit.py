"""ReplicatedObject's apply, without a node: calls run in order; anything else is an error result, never a crash."""
from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quorumlab.core import argcodec
from quorumlab.core.replicated import (
    CALL_MARK,
    IMAGE_MARK,
    NotAttached,
    ReplicatedCallError,
    ReplicatedObject,
    decode_result,
    encode_call,
    replicated,
)


class Counter(ReplicatedObject):
    def __init__(self) -> None:
        self.value = 0
        self.history: list = []

    @replicated
    def add(self, n: int, note: str = "") -> int:
        self.value += n
        self.history.append(note)
        return self.value

    @replicated
    def fail(self) -> None:
        raise ValueError("no")

    @replicated
    def odd(self) -> object:
        return object()

    def plain(self) -> int:
        return self.value


class Restricted(Counter):
    fail = None  # no longer a replicated call here


def test_a_call_runs_the_method_and_returns_its_encoded_result():
    c = Counter()
    assert decode_result(c.apply(1, encode_call("add", (2,), {"note": "x"}))) == 2
    assert decode_result(c.apply(2, encode_call("add", (3,), {}))) == 5
    assert c.value == 5 and c.history == ["x", ""] and c.last_applied == 2


def test_what_a_method_raises_comes_back_as_an_error_result():
    with pytest.raises(ReplicatedCallError, match="ValueError: no") as err:
        decode_result(Counter().apply(1, encode_call("fail", (), {})))
    assert err.value.error_type == "ValueError"


def test_a_result_of_an_undeclared_type_is_an_error_result():
    with pytest.raises(ReplicatedCallError, match="TypeError"):
        decode_result(Counter().apply(1, encode_call("odd", (), {})))


@pytest.mark.parametrize("name", ["plain", "apply", "__init__", "state", "nope"])
def test_only_declared_methods_can_be_called_through_the_log(name):
    c = Counter()
    with pytest.raises(ReplicatedCallError, match="AttributeError"):
        decode_result(c.apply(1, encode_call(name, (), {})))
    assert c.value == 0


def test_a_subclass_can_withdraw_a_replicated_method():
    with pytest.raises(ReplicatedCallError, match="AttributeError"):
        decode_result(Restricted().apply(1, encode_call("fail", (), {})))
    assert set(Restricted._ql_methods) == {"add", "odd"}


def test_wrong_arguments_fail_alike_everywhere():
    with pytest.raises(ReplicatedCallError, match="TypeError"):
        decode_result(Counter().apply(1, encode_call("add", (1, 2, 3), {})))


@given(st.binary(max_size=80))
def test_any_entry_applies_without_raising(data):
    c = Counter()
    result = c.apply(7, data)
    assert isinstance(result, bytes) and c.last_applied == 7


@given(st.binary(max_size=60))
def test_an_entry_with_the_call_mark_and_garbage_is_an_error_result(tail):
    result = Counter().apply(1, CALL_MARK + tail)
    doc = argcodec.decode(result)
    assert isinstance(doc, list)


def test_arguments_of_undeclared_types_are_refused_before_proposing():
    c = Counter()
    c._ql_node = object()  # never reached: encoding fails first
    with pytest.raises(TypeError):
        c.add.submit({1, 2})


def test_calling_before_attaching_to_a_node_says_how_to_attach():
    with pytest.raises(NotAttached, match="state_machine=obj"):
        Counter().add(1)


def test_snapshot_holds_the_public_state():
    c = Counter()
    c.apply(3, encode_call("add", (4,), {}))
    assert c.snapshot() == {"class": "Counter", "last_applied": 3, "state": {"value": 4, "history": [""]}}


# -- snapshots ------------------------------------------------------------------------------------


def _image(obj: ReplicatedObject) -> bytes:
    out = io.BytesIO()
    obj.write_snapshot(out)
    return out.getvalue()


def test_an_image_restores_the_state_and_the_applied_index_into_another_copy():
    c = Counter()
    for i in range(1, 6):
        c.apply(i, encode_call("add", (i,), {"note": f"n{i}"}))
    other = Counter()
    other.apply(1, encode_call("add", (100,), {}))
    other.stale = "an attribute the image does not have"
    other.restore(io.BytesIO(_image(c)))
    assert (other.value, other.history, other.applied_index) == (15, ["n1", "n2", "n3", "n4", "n5"], 5)
    assert not hasattr(other, "stale"), "load_state replaces the public attributes, it does not merge"


def test_a_state_outside_the_declared_types_cannot_be_saved_and_says_which_value():
    c = Counter()
    c.seen = {1, 2}  # a set: not a declared type
    with pytest.raises(TypeError, match="Counter.state\\(\\) cannot be saved in a snapshot: .*set"):
        _image(c)


class Tags(ReplicatedObject):
    """A state kept in a type the format lacks (a set), saved and loaded through the two hooks."""

    def __init__(self) -> None:
        self.tags: set[str] = set()

    @replicated
    def tag(self, name: str) -> int:
        self.tags.add(name)
        return len(self.tags)

    def state(self) -> dict:
        return {"tags": sorted(self.tags)}

    def load_state(self, state: dict) -> None:
        self.tags = set(state["tags"])


def test_state_and_load_state_keep_a_state_of_other_types():
    t = Tags()
    for i, name in enumerate(["b", "a", "b"], 1):
        t.apply(i, encode_call("tag", (name,), {}))
    copy = Tags()
    copy.restore(io.BytesIO(_image(t)))
    assert copy.tags == {"a", "b"} and copy.applied_index == 3


@pytest.mark.parametrize("damage", ["not_an_image", "truncated", "no_index"])
def test_a_damaged_image_is_refused_and_changes_nothing(damage):
    c = Counter()
    c.apply(1, encode_call("add", (2,), {}))
    raw = _image(c)
    bad = {"not_an_image": b"\x00" + raw[1:], "truncated": raw[:-3],
           "no_index": IMAGE_MARK + argcodec.encode(["one", {}])}[damage]
    other = Counter()
    with pytest.raises(ValueError):
        other.restore(io.BytesIO(bad))
    assert (other.value, other.applied_index) == (0, 0)
