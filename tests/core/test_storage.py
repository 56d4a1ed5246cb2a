"""Storage: flushed state survives, damaged files stop the node with an error naming the file and offset."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from quorumlab.core.errors import StorageError
from quorumlab.core import statefile
from quorumlab.core.datadir import checksummed, write_atomically
from quorumlab.core.storage import LEGACY_STATE_FILE, STATE_FILE, FileStorage, MemoryStorage, RecordLog

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# -- MemoryStorage ------------------------------------------------------------------------


def test_memory_storage_crash_loses_staged_write_and_keeps_flushed_one():
    s = MemoryStorage()
    s.write({"term": 3})
    s.flush()
    s.write({"term": 4})
    assert s.read() == {"term": 4}
    s.crash()
    assert s.read() == {"term": 3}
    assert s.durable() == {"term": 3}
    assert s.flushes == 1


def test_memory_storage_read_returns_a_copy():
    s = MemoryStorage()
    s.write({"term": 1})
    s.flush()
    s.read()["term"] = 99
    assert s.read() == {"term": 1}


# -- FileStorage --------------------------------------------------------------------------


def test_file_storage_of_a_new_dir_reads_empty(tmp_path):
    assert FileStorage(tmp_path / "node1").read() == {}


def test_file_storage_flushed_state_survives_reopen(tmp_path):
    s = FileStorage(tmp_path)
    s.write({"term": 7, "voted_for": 2, "nested": {"a": [1, 2]}})
    s.flush()
    assert FileStorage(tmp_path).read() == {"term": 7, "voted_for": 2, "nested": {"a": [1, 2]}}
    assert not os.path.exists(tmp_path / (STATE_FILE + ".tmp"))


def test_file_storage_unflushed_write_is_not_on_disk(tmp_path):
    s = FileStorage(tmp_path)
    s.write({"term": 1})
    s.flush()
    s.write({"term": 2})
    assert s.read() == {"term": 2}
    assert FileStorage(tmp_path).read() == {"term": 1}


def test_file_storage_flush_without_changes_writes_nothing(tmp_path):
    s = FileStorage(tmp_path)
    before = os.stat(tmp_path / STATE_FILE).st_mtime_ns
    s.flush()
    assert s.flushes == 0
    assert os.stat(tmp_path / STATE_FILE).st_mtime_ns == before


def _good_state_file(tmp_path) -> bytes:
    """A state file whose newest slot (slot 0, seq 2) holds term 12 and whose other (slot 1, seq 1) the empty state
    the directory was made with."""
    s = FileStorage(tmp_path)
    s.write({"term": 12, "voted_for": 3})
    s.flush()
    s.close()
    return (tmp_path / STATE_FILE).read_bytes()


def _flip(raw: bytes, offset: int) -> bytes:
    return raw[:offset] + bytes([raw[offset] ^ 0x01]) + raw[offset + 1:]


def _newest_slot_body_offset(raw: bytes) -> int:
    return statefile.HEADER_SIZE + 16 + raw[statefile.HEADER_SIZE + 16:].index(b'"term":12') + len('"term":1')


SLOT = statefile.HEADER_SIZE + statefile.DEFAULT_SLOT  # where slot 1 starts

DAMAGES = {
    "truncated_in_the_header": lambda raw: raw[:10],
    "empty": lambda raw: b"",
    "wrong_magic": lambda raw: raw.replace(statefile.MAGIC, b"QLSTATE9", 1),
    "flipped_bit_in_the_header": lambda raw: _flip(raw, 9),
    "both_slots_flipped": lambda raw: _flip(_flip(raw, _newest_slot_body_offset(raw)), SLOT + 20),
    "both_slots_zeroed": lambda raw: raw[:statefile.HEADER_SIZE] + bytes(len(raw) - statefile.HEADER_SIZE),
    "truncated_before_the_slots": lambda raw: raw[:statefile.HEADER_SIZE],
    "the_old_json_format_under_the_new_name": lambda raw: json.dumps({"magic": "quorumlab-state-v2"}).encode(),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_state_file_raises_naming_the_file_and_is_never_reset(tmp_path, damage):
    raw = _good_state_file(tmp_path)
    bad = DAMAGES[damage](raw)
    assert bad != raw
    path = tmp_path / STATE_FILE
    path.write_bytes(bad)
    with pytest.raises(StorageError) as err:
        FileStorage(tmp_path)
    assert str(path) in str(err.value)
    assert path.read_bytes() == bad, "a damaged state file must be left for a human, not rewritten"
    with pytest.raises(StorageError):
        FileStorage(tmp_path)


def test_a_torn_newest_slot_falls_back_to_the_state_before_it_and_is_reported(tmp_path):
    """The slot a crash tore was being written: its write never returned, so nothing that depended on it was
    sent, and the other slot holds the last state that was durable."""
    path = tmp_path / STATE_FILE
    path.write_bytes(_flip(_good_state_file(tmp_path), _newest_slot_body_offset(path.read_bytes())))
    s = FileStorage(tmp_path)
    assert s.read() == {}
    assert s.repairs == [{"file": str(path), "torn_slot": 0}]
    s.write({"term": 13})  # goes into the torn slot, never over the one it fell back to
    s.flush()
    s.close()
    assert FileStorage(tmp_path).read() == {"term": 13}


def test_a_crash_in_the_middle_of_a_state_write_keeps_the_last_flushed_state(tmp_path):
    s = FileStorage(tmp_path)
    s.write({"term": 12})
    s.flush()
    before = (tmp_path / STATE_FILE).read_bytes()
    s.write({"term": 13, "voted_for": 1})
    s.flush()
    s.close()
    after = (tmp_path / STATE_FILE).read_bytes()
    changed = [i for i in range(len(after)) if after[i] != before[i]]
    assert changed and min(changed) >= SLOT, "the write went into the slot not holding term 12"
    for cut in (min(changed) + 1, (min(changed) + max(changed)) // 2, max(changed)):
        (tmp_path / STATE_FILE).write_bytes(after[:cut] + before[cut:])  # the write stopped at byte ``cut``
        assert FileStorage(tmp_path).read() == {"term": 12}


def test_flushing_state_writes_one_slot_in_place_and_never_renames(tmp_path):
    s = FileStorage(tmp_path)
    inode = os.stat(tmp_path / STATE_FILE).st_ino
    for term in range(1, 6):
        s.write({"term": term})
        s.flush()
    assert os.stat(tmp_path / STATE_FILE).st_ino == inode and s.flushes == 5
    assert os.path.getsize(tmp_path / STATE_FILE) == statefile.HEADER_SIZE + 2 * statefile.DEFAULT_SLOT
    s.close()
    assert FileStorage(tmp_path).read() == {"term": 5}


def test_a_state_larger_than_a_slot_grows_the_file_and_survives_reopen(tmp_path):
    s = FileStorage(tmp_path)
    big = {"term": 2, "blob": "x" * (3 * statefile.DEFAULT_SLOT)}
    s.write(big)
    s.flush()
    s.write({**big, "term": 3})
    s.flush()
    s.close()
    assert FileStorage(tmp_path).read() == {**big, "term": 3}
    assert os.path.getsize(tmp_path / STATE_FILE) == statefile.HEADER_SIZE + 2 * 4 * statefile.DEFAULT_SLOT


def test_a_data_dir_with_the_older_state_json_is_converted_on_open(tmp_path):
    s = FileStorage(tmp_path)
    dir_id = s.dir_id.hex()
    s.close()
    os.remove(tmp_path / STATE_FILE)
    write_atomically(str(tmp_path / LEGACY_STATE_FILE),
                     checksummed("quorumlab-state-v2", {"dir": dir_id, "state": {"term": 9, "voted_for": 2}}))
    assert FileStorage(tmp_path).read() == {"term": 9, "voted_for": 2}
    assert not os.path.exists(tmp_path / LEGACY_STATE_FILE) and os.path.exists(tmp_path / STATE_FILE)
    assert FileStorage(tmp_path).read() == {"term": 9, "voted_for": 2}


def test_a_foreign_state_bin_beside_a_state_json_is_refused_and_the_state_json_left(tmp_path):
    ours = FileStorage(tmp_path / "a")
    ours.write({"term": 3})
    ours.flush()
    ours.close()
    os.remove(tmp_path / "a" / STATE_FILE)
    write_atomically(str(tmp_path / "a" / LEGACY_STATE_FILE),
                     checksummed("quorumlab-state-v2", {"dir": ours.dir_id.hex(), "state": {"term": 3}}))
    FileStorage(tmp_path / "b").close()
    os.rename(tmp_path / "b" / STATE_FILE, tmp_path / "a" / STATE_FILE)  # another dir's state.bin copied in
    with pytest.raises(StorageError, match="copied in from elsewhere"):
        FileStorage(tmp_path / "a")
    assert os.path.exists(tmp_path / "a" / LEGACY_STATE_FILE), "the real state must not be deleted"


def test_a_conversion_cut_short_after_state_bin_was_made_keeps_state_bin(tmp_path):
    s = FileStorage(tmp_path)
    s.write({"term": 4})
    s.flush()
    s.close()
    (tmp_path / LEGACY_STATE_FILE).write_bytes(b"an older state.json the conversion had not removed yet")
    assert FileStorage(tmp_path).read() == {"term": 4}
    assert not os.path.exists(tmp_path / LEGACY_STATE_FILE)


# -- RecordLog ----------------------------------------------------------------------------


def _record(i: int) -> bytes:
    """A deterministic record whose size varies from 0 to a few hundred bytes."""
    return bytes((i * 7 + k) & 0xFF for k in range((i * 37) % 300))


def _write_log(path, n: int, batch: int = 1, crash: bool = False) -> list[bytes]:
    """Write ``n`` records, ``batch`` per flush; then close cleanly (sealed), or as a crash would (the last
    flush's records above the header's mark)."""
    recs = [_record(i) for i in range(n)]
    log = RecordLog(path)
    for i in range(0, n, batch):
        log.append(recs[i : i + batch])
        log.flush()
    log.crash() if crash else log.close()
    return recs


HEADER = 72
"""8-byte magic, then two 32-byte slots holding the high-water mark."""


def _record_offsets(path) -> list[int]:
    """Byte offsets of each record, from the documented framing: the header, then 12-byte record header + body."""
    offsets, off = [], HEADER
    with RecordLog(path) as log:
        for rec in log:
            offsets.append(off)
            off += 12 + len(rec)
    assert off == os.path.getsize(path)
    return offsets


def test_new_record_log_is_empty_and_starts_with_its_magic(tmp_path):
    path = tmp_path / "log"
    with RecordLog(path) as log:
        assert len(log) == 0 and log.records() == [] and log.torn is None
    raw = path.read_bytes()
    assert raw.startswith(b"QLRECS2\n") and len(raw) == HEADER


def test_many_records_round_trip_through_reopen(tmp_path):
    path = tmp_path / "log"
    recs = _write_log(path, 3000, batch=50)
    with RecordLog(path) as log:
        assert len(log) == log.durable_count == 3000
        assert log.records() == recs
        assert list(log) == recs
        assert log.torn is None


def test_staged_records_are_readable_but_not_durable_until_flush(tmp_path):
    path = tmp_path / "log"
    log = RecordLog(path)
    log.append([b"one", b"two"])
    log.flush()
    log.append([b"three"])
    assert log.records() == [b"one", b"two", b"three"]
    assert (len(log), log.durable_count) == (3, 2)
    other = RecordLog(path)  # what a crash right now would find
    assert other.records() == [b"one", b"two"]
    other.close()
    log.close()
    with RecordLog(path) as log:
        assert log.records() == [b"one", b"two", b"three"]


def test_torn_final_record_body_is_cut_off_and_reported(tmp_path):
    path = tmp_path / "log"
    recs = _write_log(path, 10, crash=True)
    full = path.read_bytes()
    last = _record_offsets(path)[-1]
    assert len(recs[-1]) > 10
    path.write_bytes(full[:-5])
    with RecordLog(path) as log:
        assert log.records() == recs[:-1]
        assert log.torn is not None
        assert log.torn.offset == last
        assert log.torn.dropped_bytes == len(full) - 5 - last
        assert (log.torn.dropped_records, log.torn.first_record) == (1, 9)
        assert f"byte offset {last}" in str(log.torn)
    assert path.read_bytes() == full[:last], "the torn tail is cut from the file"


@pytest.mark.parametrize("keep", [1, 5, 11])
def test_torn_final_record_header_is_cut_off(tmp_path, keep):
    path = tmp_path / "log"
    recs = _write_log(path, 4)
    good = path.read_bytes()
    log = RecordLog(path)
    log.append([b"x" * 40])
    log.flush()
    log.crash()
    torn = path.read_bytes()[: len(good) + keep]
    path.write_bytes(torn)
    with RecordLog(path) as log:
        assert log.records() == recs
        assert log.torn.offset == len(good) and log.torn.dropped_bytes == keep


def test_zero_filled_tail_is_treated_as_torn(tmp_path):
    path = tmp_path / "log"
    recs = _write_log(path, 6, crash=True)
    good = path.read_bytes()
    path.write_bytes(good + bytes(100))
    with RecordLog(path) as log:
        assert log.records() == recs
        assert log.torn.dropped_bytes == 100


def test_appending_after_a_torn_tail_was_cut_keeps_the_log_clean(tmp_path):
    path = tmp_path / "log"
    recs = _write_log(path, 5, crash=True)
    path.write_bytes(path.read_bytes()[:-3])
    with RecordLog(path) as log:
        log.append([b"after"])
    with RecordLog(path) as log:
        assert log.records() == recs[:-1] + [b"after"]
        assert log.torn is None


@pytest.mark.parametrize("where", ["body", "length", "body_crc", "header_crc"])
def test_damage_before_the_tail_raises_naming_file_and_offset(tmp_path, where):
    path = tmp_path / "log"
    _write_log(path, 10)
    offsets = _record_offsets(path)
    off = offsets[3]
    byte = {"body": off + 12, "length": off, "body_crc": off + 5, "header_crc": off + 9}[where]
    raw = bytearray(path.read_bytes())
    raw[byte] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(StorageError) as err:
        RecordLog(path)
    assert str(path) in str(err.value)
    assert f"byte offset {off}" in str(err.value)
    assert path.read_bytes() == bytes(raw), "a damaged log is left for a human, never cut or reset"


def test_flipped_byte_in_final_complete_record_raises_rather_than_dropping_it(tmp_path):
    path = tmp_path / "log"
    _write_log(path, 4)
    last = _record_offsets(path)[-1]
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(StorageError, match=f"byte offset {last}"):
        RecordLog(path)


def test_garbage_after_the_last_record_raises(tmp_path):
    path = tmp_path / "log"
    _write_log(path, 3)
    size = path.stat().st_size
    path.write_bytes(path.read_bytes() + b"this is not a record at all")
    with pytest.raises(StorageError, match=f"byte offset {size}"):
        RecordLog(path)


def test_wrong_magic_raises_naming_the_file(tmp_path):
    path = tmp_path / "log"
    _write_log(path, 3)
    raw = path.read_bytes()
    path.write_bytes(b"XLRECS2\n" + raw[8:])
    with pytest.raises(StorageError) as err:
        RecordLog(path)
    assert str(path) in str(err.value) and "byte offset 0" in str(err.value)


def test_short_file_that_is_not_a_log_raises(tmp_path):
    path = tmp_path / "log"
    path.write_bytes(b"{}")
    with pytest.raises(StorageError, match="not a quorumlab record log"):
        RecordLog(path)


def test_log_torn_while_being_created_starts_empty(tmp_path):
    path = tmp_path / "log"
    path.write_bytes(b"QLRE")
    with RecordLog(path) as log:
        assert log.records() == []
    raw = path.read_bytes()
    assert raw.startswith(b"QLRECS2\n") and len(raw) == HEADER


def test_truncate_then_reopen_keeps_only_the_prefix(tmp_path):
    path = tmp_path / "log"
    recs = _write_log(path, 20)
    with RecordLog(path) as log:
        log.truncate(7)
        assert log.records() == recs[:7]
    with RecordLog(path) as log:
        assert log.records() == recs[:7]
        log.append([b"new-7", b"new-8"])
        log.flush()
    with RecordLog(path) as log:
        assert log.records() == recs[:7] + [b"new-7", b"new-8"]


@pytest.mark.parametrize("drop", [0, 1, 13, 20, 23])
def test_replace_prefix_puts_the_head_before_the_records_kept_durably_and_reopens_alike(tmp_path, drop):
    path = tmp_path / "log"
    recs = _write_log(path, 20)
    with RecordLog(path) as log:
        dir_id = log.dir_id
        log.append([b"staged-20", b"staged-21", b"staged-22"])  # flushed by the rewrite
        everything = recs + [b"staged-20", b"staged-21", b"staged-22"]
        log.replace_prefix(drop, b"head")
        assert log.records() == [b"head", *everything[drop:]] and log.durable_count == 24 - drop
        log.append([b"after"])
        log.flush()
        log.crash()  # no seal: the mark still counts what the rewrite wrote
    assert not os.path.exists(str(path) + ".compact")
    with RecordLog(path, dir_id=dir_id) as log:
        assert log.records() == [b"head", *everything[drop:], b"after"]
        assert log.high_water_mark >= 24 - drop and log.torn is None


def test_truncate_within_staged_records_leaves_the_file_alone(tmp_path):
    path = tmp_path / "log"
    recs = _write_log(path, 3)
    size = path.stat().st_size
    log = RecordLog(path)
    log.append([b"a", b"b", b"c"])
    log.truncate(4)
    assert log.records() == recs + [b"a"]
    assert path.stat().st_size == size
    log.truncate(0)
    assert log.records() == [] and path.stat().st_size == HEADER
    log.close()


def test_truncate_out_of_range_is_refused(tmp_path):
    with RecordLog(tmp_path / "log") as log:
        log.append([b"a"])
        with pytest.raises(ValueError, match="holds 1"):
            log.truncate(2)
        with pytest.raises(ValueError):
            log.truncate(-1)


def test_closed_log_refuses_use(tmp_path):
    log = RecordLog(tmp_path / "log")
    log.close()
    log.close()
    with pytest.raises(StorageError, match="closed"):
        log.append([b"x"])


# -- a real crash: SIGKILL a writer in the middle of its writes ---------------------------

_WRITER = textwrap.dedent(
    """
    import sys
    from quorumlab.core.storage import FileStorage, RecordLog
    from tests.core.test_storage import _record
    data_dir = sys.argv[1]
    log = RecordLog(data_dir + "/log")
    state = FileStorage(data_dir)
    i = 0
    while True:
        log.append([_record(i), _record(i + 1)])
        log.flush()
        state.write({"acked": i + 1})
        state.flush()
        print(i + 1, flush=True)
        i += 2
    """
)


def test_sigkill_in_the_middle_of_writes_loses_nothing_acknowledged(tmp_path):
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path)], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True
    )
    acked = -1
    try:
        for line in proc.stdout:
            acked = int(line)
            if acked >= 121:
                break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert acked >= 121, "the writer stopped before the test could kill it"
    with RecordLog(tmp_path / "log") as log:
        recs = log.records()
    assert len(recs) >= acked + 1
    assert recs == [_record(i) for i in range(len(recs))]
    assert FileStorage(tmp_path).read()["acked"] >= acked
