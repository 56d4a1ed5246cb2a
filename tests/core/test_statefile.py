"""The two-slot state file: whatever a crash leaves of a write, opening finds the last state whose write returned
or the one being written, never anything else and never nothing."""
from __future__ import annotations

import os
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quorumlab.core import statefile
from quorumlab.core.errors import StorageError
from quorumlab.core.statefile import SlotFile

bodies = st.binary(min_size=0, max_size=300)


@settings(max_examples=150, deadline=None)
@given(st.lists(bodies, min_size=1, max_size=6), bodies, st.data())
def test_a_write_torn_anywhere_leaves_the_last_returned_state_or_the_new_one(tmp_path_factory, done, torn, data):
    path = str(tmp_path_factory.mktemp("slots") / "state.bin")
    f = SlotFile.create(path, done[0])
    for body in done[1:]:
        f.write(body)
    f.close()
    before = open(path, "rb").read()
    f = SlotFile.open(path)
    f.write(torn)
    f.close()
    after = open(path, "rb").read()
    # The kernel may have put any subset of the changed bytes on disk: take a prefix, a suffix or a scatter.
    changed = [i for i in range(len(after)) if after[i] != before[i]]
    keep = data.draw(st.sets(st.sampled_from(changed)) if changed else st.just(set()))
    mixed = bytes(after[i] if i in keep else before[i] for i in range(len(after)))
    with open(path, "wb") as fh:
        fh.write(mixed)
    reopened = SlotFile.open(path)
    reopened.close()
    assert reopened.body in (done[-1], torn)
    if keep == set(changed):
        assert reopened.body == torn and reopened.damaged_slot is None


def test_writes_alternate_slots_with_rising_sequence_numbers(tmp_path):
    path = str(tmp_path / "state.bin")
    f = SlotFile.create(path, b"a")
    for body in (b"b", b"c", b"d"):
        f.write(body)
    f.close()
    g = SlotFile.open(path)
    g.close()
    assert (g.seq, g.body, g.damaged_slot) == (4, b"d", None)


def test_a_slot_moved_to_the_other_position_is_not_taken(tmp_path):
    """Slot ``seq % 2`` holds ``seq``: a slot copied over the other one (a misdirected write) does not count."""
    path = str(tmp_path / "state.bin")
    f = SlotFile.create(path, b"one")
    f.write(b"two")  # seq 2, slot 0
    f.close()
    raw = open(path, "rb").read()
    h, n = statefile.HEADER_SIZE, statefile.DEFAULT_SLOT
    with open(path, "wb") as fh:
        fh.write(raw[:h + n] + raw[h:h + n])  # slot 0's bytes in both places
    g = SlotFile.open(path)
    g.close()
    assert (g.body, g.damaged_slot) == (b"two", 1)


def test_a_header_claiming_a_huge_slot_is_refused_without_reading_it(tmp_path):
    path = str(tmp_path / "state.bin")
    SlotFile.create(path, b"x").close()
    raw = bytearray(open(path, "rb").read())
    raw[8:16] = struct.pack("<II", 1 << 31, zlib.crc32(statefile.MAGIC + struct.pack("<I", 1 << 31)))
    with open(path, "wb") as fh:
        fh.write(bytes(raw))
    with pytest.raises(StorageError, match="header"):
        SlotFile.open(path)


def test_nothing_is_left_open_after_a_refused_file(tmp_path):
    path = str(tmp_path / "state.bin")
    with open(path, "wb") as fh:
        fh.write(b"not a state file at all")
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        with pytest.raises(StorageError):
            SlotFile.open(path)
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_state_that_outgrows_its_slot_moves_to_a_larger_file_and_a_failed_move_keeps_the_old_one(tmp_path,
                                                                                                  monkeypatch):
    path = str(tmp_path / "state.bin")
    f = SlotFile.create(path, b"small")
    big = b"x" * (2 * statefile.DEFAULT_SLOT)

    def full_disk(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(SlotFile, "create", classmethod(lambda cls, *a: full_disk()))
        with pytest.raises(OSError):
            f.write(big)
    f.write(b"still writable")  # the old file and its descriptor were kept
    f.write(big)
    f.write(big + b"!")
    f.close()
    g = SlotFile.open(path)
    g.close()
    assert g.body == big + b"!" and g.slot_size == 4 * statefile.DEFAULT_SLOT


def test_a_state_over_the_limit_is_a_storage_error(tmp_path):
    with pytest.raises(StorageError, match="over the state file's limit"):
        SlotFile.create(str(tmp_path / "state.bin"), b"x" * statefile.MAX_SLOT)
