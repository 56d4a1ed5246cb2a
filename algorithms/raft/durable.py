"""Where a Raft node's log lives on disk: a ``RecordLog`` file next to the state file, or a simulated one.

One record per entry: the entry's term (8 bytes, little-endian) followed by its
command; the index is the record's position. On real processes the node's
``FileStorage`` directory holds ``raft-log`` (core.storage.RecordLog: CRC per
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
