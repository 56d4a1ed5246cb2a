"""The key-value store's snapshot: write_snapshot then restore gives the same store, client sessions included."""
from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quorumlab.core.kv import CAS, DELETE, GET, PUT, Command, KVStore, SnapshotError

commands = st.lists(
    st.tuples(st.integers(1, 6), st.integers(1, 40), st.sampled_from([PUT, GET, DELETE, CAS]),
              st.binary(max_size=3), st.binary(max_size=300), st.one_of(st.none(), st.binary(max_size=2))),
    max_size=120,
)


def build(ops, max_sessions: int = 4) -> KVStore:
    kv = KVStore(max_sessions=max_sessions)
    for index, (client, seq, op, key, value, expected) in enumerate(ops, start=1):
        kv.apply(index, Command(client, seq, op, key, value, expected).encode())
    return kv


def image_of(kv: KVStore) -> bytes:
    out = io.BytesIO()
    kv.write_snapshot(out)
    return out.getvalue()


def restored(raw: bytes, max_sessions: int = 4) -> KVStore:
    kv = KVStore(max_sessions=max_sessions)
    kv.restore(io.BytesIO(raw))
    return kv


@settings(max_examples=200)
@given(commands)
def test_a_restored_store_equals_the_one_that_wrote_the_snapshot(ops):
    kv = build(ops)
    again = restored(image_of(kv))
    assert again.contents() == kv.contents()
    assert again.data == kv.data and again.floor == kv.floor and again.applied_index == kv.applied_index
    assert list(again.sessions.items()) == list(kv.sessions.items()), "sessions, in their order of activity"
    assert image_of(again) == image_of(kv), "the image is a function of the state"


@settings(max_examples=200)
@given(commands, commands)
def test_the_dedup_table_survives_a_snapshot_retries_get_the_first_answer(ops, more):
    kv = build(ops)
    again = restored(image_of(kv))
    for index, (client, seq, op, key, value, expected) in enumerate(ops + more, start=len(ops) + 1):
        cmd = Command(client, seq, op, key, value, expected).encode()
        assert again.apply(index, cmd) == kv.apply(index, cmd)
    assert again.contents() == kv.contents() and again.sessions == kv.sessions


def test_a_retried_put_after_restore_is_not_applied_twice():
    kv = build([(1, 1, PUT, b"k", b"first", None), (2, 1, PUT, b"k", b"second", None)])
    again = restored(image_of(kv))
    answer = again.apply(3, Command(1, 1, PUT, b"k", b"first").encode())
    assert answer == kv.sessions[1][1][1] and again.data[b"k"] == b"second"


@given(commands, st.data())
def test_a_cut_image_is_refused(ops, data):
    raw = image_of(build(ops))
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(SnapshotError):
        restored(raw[:cut])


def test_bytes_after_the_image_or_a_foreign_image_are_refused():
    raw = image_of(build([(1, 1, PUT, b"k", b"v", None)]))
    with pytest.raises(SnapshotError, match="does not end"):
        restored(raw + b"x")
    with pytest.raises(SnapshotError, match="not a key-value store image"):
        restored(b"Z" * len(raw))


def test_the_snapshot_is_written_in_pieces_not_one_object():
    kv = build([(1, i, PUT, b"k%d" % i, b"v" * 1000, None) for i in range(1, 300)])
    writes = []

    class Counting(io.BytesIO):
        def write(self, data):
            writes.append(len(data))
            return super().write(data)

    kv.write_snapshot(Counting())
    assert len(writes) > 3 and max(writes) < 100_000
