"""Where a Raft node's log lives on disk: a ``RecordLog`` file next to the state file, or a simulated one.

One record per entry: the entry's term (8 bytes, little-endian) followed by its
command; the index is the record's position. A compacted log (docs/raft.md,
"Snapshots") starts with one *base* record instead: term 0 (no entry has term 0),
then the index and term of the last entry the snapshot replaced; the entries
after it hold the indexes from there on. On real processes the node's
``FileStorage`` directory holds ``raft-log`` (quorumlab.core.storage.RecordLog: CRC per
record, torn tail dropped on open, damage elsewhere refused). In the
simulator the node's ``MemoryStorage`` carries a ``MemoryRecordLog`` with the
same API; opening it again after a crash drops every record that was staged but
never flushed, exactly as reopening the file would. Either way the node gets its
log from ``storage.open_log(LOG_FILE)``, attached to the storage so that the
runtime's Persist effect (``storage.flush()``) makes the log durable too.
"""
from __future__ import annotations

import struct

LOG_FILE = "raft-log"
_TERM = struct.Struct("<Q")


def encode_entry(term: int, data: bytes) -> bytes:
    """The record of one entry: term then command bytes."""
    return _TERM.pack(term) + data


def decode_entry(record: bytes) -> tuple[int, bytes]:
    """(term, command) of one record."""
    return _TERM.unpack_from(record)[0], bytes(record[_TERM.size :])


_BASE = struct.Struct("<QQQ")


def encode_base(index: int, term: int) -> bytes:
    """The first record of a log compacted up to (index, term)."""
    return _BASE.pack(0, index, term)


def decode_base(record: bytes) -> tuple[int, int] | None:
    """(index, term) if ``record`` is a base record, else None (it is an entry)."""
    if len(record) == _BASE.size and record[: _TERM.size] == bytes(_TERM.size):
        _, index, term = _BASE.unpack(record)
        return index, term
    return None
