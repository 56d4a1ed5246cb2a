"""A data dir says whose it is and refuses to start when something it depends on is gone or foreign.

Each test is one way an operator (or a disk) can hurt a node: the wrong directory, a deleted
state file, a log deleted, emptied, cut or copied in. Every one must stop the node with an
error that names the file; a crash's torn tail is the one damage that is cut, and reported.
"""
from __future__ import annotations

import os
import shutil

import pytest

from quorumlab.core.datadir import IDENTITY_FILE, Identity, load_identity
from quorumlab.core.errors import StorageError
from quorumlab.core.storage import STATE_FILE, FileStorage, RecordLog

RAFT_A1 = Identity(cluster_id=7, node_id=1, algo="raft")


def _node_dir(path, identity: Identity = RAFT_A1, records: int = 0, per_flush: int = 1, close: bool = True):
    """A data dir as a node leaves it: state written, ``records`` log records flushed ``per_flush`` at a time."""
    storage = FileStorage(path, identity)
    storage.write({"term": 3, "voted_for": 1})
    storage.flush()
    log = storage.open_log("log")
    for i in range(0, records, per_flush):
        log.append([b"entry-%d" % k for k in range(i, min(records, i + per_flush))])
        log.flush()
    if close:
        storage.close()
    else:
        log.crash()
    return storage


def _offsets(path) -> list[int]:
    """Where each record of the log at ``path`` starts (opened and left as a crash would: nothing sealed)."""
    log = RecordLog(path, create=False)
    offsets = list(log._offsets)
    log.crash()
    return offsets


def test_a_new_data_dir_records_cluster_node_and_algorithm(tmp_path):
    FileStorage(tmp_path, RAFT_A1)
    record = load_identity(str(tmp_path))
    assert record.identity == RAFT_A1
    assert len(record.dir_id) == 8 and record.logs == []


@pytest.mark.parametrize(
    "other, differs",
    [
        (Identity(cluster_id=8, node_id=1, algo="raft"), "cluster_id"),
        (Identity(cluster_id=7, node_id=2, algo="raft"), "node_id"),
        (Identity(cluster_id=7, node_id=1, algo="paxos"), "algo"),
    ],
)
def test_a_data_dir_of_another_cluster_node_or_algorithm_is_refused_naming_both(tmp_path, other, differs):
    _node_dir(tmp_path)
    with pytest.raises(StorageError) as err:
        FileStorage(tmp_path, other)
    message = str(err.value)
    assert RAFT_A1.describe() in message and other.describe() in message and differs in message


def test_a_deleted_state_file_stops_the_node_instead_of_forgetting_its_vote(tmp_path):
    _node_dir(tmp_path, records=3)
    os.remove(tmp_path / STATE_FILE)
    with pytest.raises(StorageError, match="vote twice"):
        FileStorage(tmp_path, RAFT_A1)


def test_a_state_file_copied_from_another_data_dir_is_refused(tmp_path):
    _node_dir(tmp_path / "a")
    _node_dir(tmp_path / "b")
    shutil.copy(tmp_path / "b" / STATE_FILE, tmp_path / "a" / STATE_FILE)
    with pytest.raises(StorageError, match="copied in from elsewhere"):
        FileStorage(tmp_path / "a", RAFT_A1)


def test_a_deleted_identity_with_state_left_is_refused_not_adopted(tmp_path):
    _node_dir(tmp_path, records=2)
    os.remove(tmp_path / IDENTITY_FILE)
    with pytest.raises(StorageError, match="identity.json is missing"):
        FileStorage(tmp_path, RAFT_A1)


def test_a_log_with_records_and_no_identity_is_refused(tmp_path):
    with RecordLog(tmp_path / "raft-log") as log:
        log.append([b"x"])
    with pytest.raises(StorageError, match="unknown origin"):
        FileStorage(tmp_path, RAFT_A1)


def test_a_deleted_log_stops_the_node(tmp_path):
    _node_dir(tmp_path, records=5)
    os.remove(tmp_path / "log")
    storage = FileStorage(tmp_path, RAFT_A1)
    with pytest.raises(StorageError, match="the log is missing"):
        storage.open_log("log")


def test_an_emptied_log_stops_the_node(tmp_path):
    _node_dir(tmp_path, records=5)
    (tmp_path / "log").write_bytes(b"")
    storage = FileStorage(tmp_path, RAFT_A1)
    with pytest.raises(StorageError, match="empty or cut inside its header"):
        storage.open_log("log")


def test_a_log_cut_at_a_record_boundary_below_the_mark_stops_the_node(tmp_path):
    _node_dir(tmp_path, records=151)
    offsets = _offsets(tmp_path / "log")
    os.truncate(tmp_path / "log", offsets[51])
    storage = FileStorage(tmp_path, RAFT_A1)
    with pytest.raises(StorageError, match=r"ends before record #51 .*151 records were durable"):
        storage.open_log("log")


def test_a_log_cut_inside_a_record_100_entries_before_its_end_is_damage_not_a_torn_tail(tmp_path):
    # The case: a cut that looks like a crash's torn tail, 100 acknowledged entries back.
    _node_dir(tmp_path, records=151, per_flush=10)
    offsets = _offsets(tmp_path / "log")
    os.truncate(tmp_path / "log", offsets[51] + 5)
    storage = FileStorage(tmp_path, RAFT_A1)
    with pytest.raises(StorageError, match=r"cut inside record #51 .*may\s+have been acknowledged"):
        storage.open_log("log")
    assert os.path.getsize(tmp_path / "log") == offsets[51] + 5, "the damaged file is left for a human"


def test_a_log_copied_from_another_data_dir_is_refused(tmp_path):
    _node_dir(tmp_path / "a", records=3)
    _node_dir(tmp_path / "b", records=3)
    shutil.copy(tmp_path / "b" / "log", tmp_path / "a" / "log")
    storage = FileStorage(tmp_path / "a", RAFT_A1)
    with pytest.raises(StorageError, match="copied in from elsewhere"):
        storage.open_log("log")


def test_a_crash_torn_tail_above_the_mark_is_cut_and_reported_with_its_records(tmp_path):
    _node_dir(tmp_path, records=20, per_flush=5, close=False)  # the last flush (records 15..19) is unsealed
    offsets = _offsets(tmp_path / "log")
    os.truncate(tmp_path / "log", offsets[17] + 3)  # the crash tore the last flush inside record 17
    storage = FileStorage(tmp_path, RAFT_A1)
    log = storage.open_log("log")
    assert len(log) == 17
    assert storage.repairs == [
        {"file": str(tmp_path / "log"), "offset": offsets[17], "bytes": 3, "records": 1, "first_record": 17}
    ]


def test_a_torn_tail_reaching_below_the_last_unsealed_flush_is_damage(tmp_path):
    _node_dir(tmp_path, records=20, per_flush=5, close=False)  # sealed up to 15 by the last flush
    offsets = _offsets(tmp_path / "log")
    os.truncate(tmp_path / "log", offsets[12] + 3)
    with pytest.raises(StorageError, match="15 records were durable"):
        FileStorage(tmp_path, RAFT_A1).open_log("log")


def test_seal_marks_every_flushed_record_and_truncate_lowers_the_mark_first(tmp_path):
    path = tmp_path / "log"
    log = RecordLog(path)
    log.append([b"a", b"b", b"c"])
    log.flush()
    assert log.high_water_mark == 0
    log.seal()
    assert log.high_water_mark == 3
    log.truncate(1)
    assert log.high_water_mark == 1
    log.crash()
    with RecordLog(path) as again:
        assert again.records() == [b"a"] and again.high_water_mark == 1


def test_one_damaged_header_slot_falls_back_to_the_other(tmp_path):
    path = tmp_path / "log"
    with RecordLog(path) as log:
        log.append([b"a", b"b"])
        log.flush()
        log.seal()
        seq_slot = 8 + 32 * (log._seq % 2)
    raw = bytearray(path.read_bytes())
    raw[seq_slot + 3] ^= 0xFF  # the newest slot is torn: the older one (mark 0) still holds
    path.write_bytes(bytes(raw))
    with RecordLog(path) as log:
        assert log.records() == [b"a", b"b"]


def test_both_header_slots_damaged_is_refused(tmp_path):
    path = tmp_path / "log"
    with RecordLog(path) as log:
        log.append([b"a"])
    raw = bytearray(path.read_bytes())
    raw[10] ^= 0xFF
    raw[42] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(StorageError, match="both header slots are damaged"):
        RecordLog(path)


def test_a_log_of_the_older_format_is_refused_with_what_to_do(tmp_path):
    path = tmp_path / "log"
    path.write_bytes(b"QLRECS1\n")
    with pytest.raises(StorageError, match="older quorumlab"):
        RecordLog(path)
