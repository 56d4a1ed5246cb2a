"""Snapshot images (quorumlab.core.snapshots): the format checks every byte, the stores keep them durably and receive them
chunk by chunk."""
from __future__ import annotations

import io
import os
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quorumlab.core.errors import StorageError
from quorumlab.core.snapshots import (
    KEEP,
    FileSnapshots,
    MemorySnapshots,
    SnapshotDamaged,
    check_image,
    image_prefix,
    restore_snapshot,
    take_snapshot,
)
from quorumlab.core.kv import PUT, Command, KVStore


def image(index: int, term: int, body: bytes, meta: dict | None = None) -> bytes:
    import zlib

    return image_prefix(index, term, len(body), zlib.crc32(body), meta or {}) + body


@given(st.integers(0, 2**63), st.integers(0, 2**63), st.binary(max_size=2000),
       st.dictionaries(st.text(max_size=5), st.integers(), max_size=3))
def test_an_image_reads_back_as_written(index, term, body, meta):
    raw = image(index, term, body, meta)
    info, start = check_image(io.BytesIO(raw), len(raw), "x")
    assert (info.index, info.term, info.size, info.meta) == (index, term, len(raw), meta)
    assert raw[start:] == body


@settings(max_examples=300)
@given(st.binary(min_size=1, max_size=300), st.data())
def test_any_flipped_byte_of_an_image_is_detected(body, data):
    raw = bytearray(image(5, 2, body, {"voters": [1, 2, 3]}))
    at = data.draw(st.integers(0, len(raw) - 1))
    raw[at] ^= data.draw(st.integers(1, 255))
    with pytest.raises(SnapshotDamaged, match="bad-file"):
        check_image(io.BytesIO(bytes(raw)), len(raw), "bad-file")


@given(st.binary(max_size=300), st.data())
def test_an_image_cut_short_or_with_bytes_after_it_is_detected(body, data):
    raw = image(5, 2, body)
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(SnapshotDamaged):
        check_image(io.BytesIO(raw[:cut]), cut, "cut")
    with pytest.raises(SnapshotDamaged):
        longer = raw + b"x"
        check_image(io.BytesIO(longer), len(longer), "longer")


def write_bytes(data: bytes):
    return lambda stream: stream.write(data)


@pytest.mark.parametrize("make", [MemorySnapshots, None], ids=["memory", "file"])
def test_a_store_keeps_the_newest_images_and_reads_them_back(make, tmp_path):
    store = make() if make else FileSnapshots(str(tmp_path))
    for index in (10, 20, 30):
        store.save(index, index // 10, {"voters": [1, 2, 3]}, write_bytes(b"state %d" % index))
    assert [i.index for i in store.usable()] == [30, 20][:KEEP]
    info = store.latest()
    with store.body(info) as fh:
        assert fh.read() == b"state 30"
    whole = store.read_image(info, 0, info.size)
    assert check_image(io.BytesIO(whole), len(whole), "x")[0] == info


def test_a_damaged_snapshot_file_is_listed_with_its_name_and_never_offered(tmp_path):
    store = FileSnapshots(str(tmp_path))
    store.save(10, 1, {}, write_bytes(b"older"))
    newest = store.save(20, 1, {}, write_bytes(b"newest state"))
    with open(newest.name, "r+b") as fh:
        fh.seek(-3, os.SEEK_END)
        fh.write(b"XXX")
    again = FileSnapshots(str(tmp_path))
    assert [i.index for i in again.usable()] == [10]
    assert again.damaged and again.damaged[0][0] == newest.name and "checksum" in again.damaged[0][1]


def test_a_snapshot_left_half_written_by_a_crash_is_removed_on_open(tmp_path):
    (tmp_path / "snapshot-00000000000000000007.snap.tmp").write_bytes(b"QLSNAP1\npartial")
    (tmp_path / FileSnapshots.INCOMING).write_bytes(b"partial transfer")
    store = FileSnapshots(str(tmp_path))
    assert store.usable() == [] and store.damaged == []
    assert sorted(os.listdir(tmp_path)) == []


@pytest.mark.parametrize("make", [MemorySnapshots, None], ids=["memory", "file"])
def test_an_image_received_in_chunks_is_checked_then_kept(make, tmp_path):
    raw = image(40, 3, b"x" * 100, {"voters": [1, 2]})
    store = make() if make else FileSnapshots(str(tmp_path))
    assert store.receive(40, 3, len(raw), 0, raw[:30]) == 30
    assert store.receive(40, 3, len(raw), 60, raw[60:90]) == 30, "a chunk past the next expected one is not taken"
    assert store.receive(40, 3, len(raw), 30, raw[30:60]) == 60
    assert store.receive(40, 3, len(raw), 60, raw[60:]) == len(raw)
    info = store.complete()
    assert (info.index, info.term, info.size) == (40, 3, len(raw))
    assert store.latest() == info and store.receiving() is None


@pytest.mark.parametrize("make", [MemorySnapshots, None], ids=["memory", "file"])
def test_a_damaged_transfer_is_refused_and_dropped(make, tmp_path):
    raw = bytearray(image(40, 3, b"x" * 100))
    raw[-1] ^= 1
    store = make() if make else FileSnapshots(str(tmp_path))
    store.receive(40, 3, len(raw), 0, bytes(raw))
    with pytest.raises(SnapshotDamaged, match="checksum"):
        store.complete()
    assert store.usable() == [] and store.receiving() is None


def test_a_transfer_that_is_not_the_image_it_announced_is_refused():
    raw = image(41, 3, b"y")
    store = MemorySnapshots()
    store.receive(40, 3, len(raw), 0, raw)
    with pytest.raises(SnapshotDamaged, match="not the announced 40"):
        store.complete()
    assert store.usable() == []


def test_a_simulated_crash_loses_the_transfer_in_progress_but_not_saved_images():
    store = MemorySnapshots()
    store.save(10, 1, {}, write_bytes(b"kept"))
    store.receive(20, 1, 100, 0, b"part")
    store.crash()
    assert store.receiving() is None and [i.index for i in store.usable()] == [10]


def test_taking_and_restoring_goes_through_the_state_machine(tmp_path):
    from quorumlab.core.storage import FileStorage

    storage = FileStorage(str(tmp_path))
    kv = KVStore()
    for i in range(1, 6):
        kv.apply(i, Command(1, i, PUT, b"k%d" % i, b"v").encode())
    with pytest.raises(StorageError, match="has applied 5"):
        take_snapshot(storage, kv, 4, 1, {})
    take_snapshot(storage, kv, 5, 1, {"voters": [1]})
    restored = restore_snapshot(storage, KVStore, 5)
    assert restored.contents() == kv.contents()
    with pytest.raises(StorageError, match="index 9 is not in the snapshot store"):
        restore_snapshot(storage, KVStore, 9)


def test_an_image_written_in_the_background_is_kept_once_the_child_made_it_durable(tmp_path):
    import time

    store = FileSnapshots(str(tmp_path))
    kv = KVStore()
    for i in range(1, 2001):
        kv.apply(i, Command(1, i, PUT, b"k%d" % i, b"v" * 100).encode())
    store.save_in_background(2000, 3, {"voters": [1, 2, 3]}, kv.write_snapshot)
    kv.apply(2001, Command(1, 2001, PUT, b"after", b"the fork").encode())  # the child writes the state at the fork
    deadline = time.monotonic() + 20
    while store.writing() == 2000 and time.monotonic() < deadline:
        time.sleep(0.01)
    info = store.find(2000)
    assert info is not None and (info.index, info.term, info.meta) == (2000, 3, {"voters": [1, 2, 3]})
    again = KVStore()
    with store.body(info) as fh:
        again.restore(fh)
    assert again.applied_index == 2000 and b"after" not in again.data and len(again.data) == 2000
    assert FileSnapshots(str(tmp_path)).latest() == info, "checked in full on the next open"


def test_a_child_that_fails_to_write_is_reported_and_nothing_is_kept(tmp_path):
    import time

    def broken(stream):
        stream.write(b"part")
        raise OSError("disk full")

    store = FileSnapshots(str(tmp_path))
    store.save_in_background(7, 1, {}, broken)
    deadline = time.monotonic() + 20
    while store.writing() == 7 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store.latest() is None and store.failures and "exited with code 1" in store.failures[0]


def test_the_child_writing_in_the_background_keeps_no_socket_and_the_parent_keeps_its_own(tmp_path):
    import socket
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def sockets_held(stream):  # the body: the child's socket descriptors, as the child sees them
        held = [fd for fd in map(int, os.listdir("/proc/self/fd")) if _is_socket(fd)]
        stream.write(repr(held).encode())

    store = FileSnapshots(str(tmp_path))
    store.save_in_background(1, 1, {}, sockets_held)
    deadline = time.monotonic() + 20
    while store.writing() == 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    with store.body(store.find(1)) as fh:
        assert fh.read() == b"[]"
    client = socket.create_connection(listener.getsockname(), timeout=5)  # still listening in the parent
    accepted, _ = listener.accept()
    accepted.close()
    client.close()
    listener.close()


def _is_socket(fd: int) -> bool:
    try:
        return stat.S_ISSOCK(os.fstat(fd).st_mode)
    except OSError:
        return False
