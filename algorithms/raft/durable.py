"""Where a Raft node's log lives on disk: a ``RecordLog`` file next to the state file, or a simulated one.

One record per entry: the entry's term (8 bytes, little-endian) followed by its
command; the index is the record's position. On real processes the node's
``FileStorage`` directory holds ``raft-log`` (core.storage.RecordLog: CRC per
record, torn tail dropped on open, damage elsewhere refused). In the
simulator the node's ``MemoryStorage`` carries a ``MemoryRecordLog`` with the
same API; opening it again after a crash drops every record that was staged but
never flushed, exactly as reopening the file would.
"""
from __future__ import annotations

import os
import struct
from typing import Any, Iterable, Iterator

from core.storage import RecordLog

LOG_FILE = "raft-log"
_TERM = struct.Struct("<Q")


def encode_entry(term: int, data: bytes) -> bytes:
    """The record of one entry: term then command bytes."""
    return _TERM.pack(term) + data


def decode_entry(record: bytes) -> tuple[int, bytes]:
    """(term, command) of one record."""
    return _TERM.unpack_from(record)[0], bytes(record[_TERM.size :])


class MemoryRecordLog:
    """RecordLog's API in memory: ``append`` stages, ``flush`` makes durable, ``reopen`` loses what was staged."""

    def __init__(self) -> None:
        self._durable: list[bytes] = []
        self._staged: list[bytes] = []
        self.flushes = 0

    def __len__(self) -> int:
        return len(self._durable) + len(self._staged)

    @property
    def durable_count(self) -> int:
        """Records that would survive a crash now."""
        return len(self._durable)

    def __iter__(self) -> Iterator[bytes]:
        yield from list(self._durable)
        yield from list(self._staged)

    def records(self) -> list[bytes]:
        return list(self)

    def append(self, records: Iterable[bytes]) -> None:
        self._staged.extend(bytes(r) for r in records)

    def flush(self) -> None:
        if self._staged:
            self._durable.extend(self._staged)
            self._staged = []
            self.flushes += 1

    def truncate(self, count: int) -> None:
        """Keep the first ``count`` records; a cut into the durable part is durable at once (as RecordLog's)."""
        if not 0 <= count <= len(self):
            raise ValueError(f"cannot truncate to {count} records; the log holds {len(self)}")
        durable = len(self._durable)
        if count >= durable:
            del self._staged[count - durable :]
        else:
            self._staged = []
            del self._durable[count:]

    def reopen(self) -> "MemoryRecordLog":
        """What a restarted process finds: the flushed records only."""
        self._staged = []
        return self

    def close(self) -> None:
        self.flush()


def open_log_store(storage: Any) -> Any:
    """The record log that belongs with ``storage``, attached to it so that the runtime's Persist
    effect (``storage.flush()``) makes the log durable too: a file in its directory, or the
    simulated disk's log (which keeps its flushed records across a simulated crash)."""
    directory = getattr(storage, "dir", None)
    if isinstance(directory, str):
        return storage.attach(LOG_FILE, RecordLog(os.path.join(directory, LOG_FILE)))
    store = storage.attached(LOG_FILE)
    if store is None:
        store = storage.attach(LOG_FILE, MemoryRecordLog())
    return store.reopen()
