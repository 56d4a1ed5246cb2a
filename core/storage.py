"""Durable state for algorithms: what a reply depends on is flushed before the reply leaves.

The algorithm stages its small durable state with ``write(dict)``; the runtime
calls ``flush()`` when it executes the ``Persist`` effect, before any later
send. ``read()`` returns the last flushed state ({} for a new node).

``MemoryStorage`` is the simulator's disk: a simulated crash (``crash()``)
loses what was staged but not flushed, and keeps what was flushed.
``FileStorage`` writes the state in place into the older of two checksummed
slots of ``state.bin`` with one fdatasync (quorumlab.core.statefile); a file
with no valid slot raises StorageError naming the file and is never reset.
``RecordLog`` is an append-only file of checksummed
records (Raft's log): a record torn by a crash mid-write is cut off on open,
damage anywhere else raises StorageError naming the file and the byte offset.
"""
from __future__ import annotations

import json
import os
import secrets
import struct
import zlib
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Protocol

from quorumlab.core.datadir import (
    IDENTITY_FILE,
    DirIdentity,
    Identity,
    check_owner,
    fsync_dir,
    load_identity,
    new_identity,
    read_checksummed,
    save_identity,
    write_synced,
)
from quorumlab.core.errors import StorageError
from quorumlab.core.framing import frame_records
from quorumlab.core.snapshots import FileSnapshots, MemorySnapshots
from quorumlab.core.statefile import SlotFile

STATE_FILE = "state.bin"
LEGACY_STATE_FILE = "state.json"
"""Where the state was kept (replaced atomically on each write) before state.bin: converted when found."""
_MAGIC = "quorumlab-state-v2"


class RecordStore(Protocol):
    """A log of records (quorumlab.core.storage.RecordLog on disk, MemoryRecordLog in the simulator)."""

    torn: Any
    flushes: int

    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[bytes]: ...
    @property
    def durable_count(self) -> int: ...
    def append(self, records: Iterable[bytes]) -> None: ...
    def flush(self) -> None: ...
    def truncate(self, count: int) -> None: ...
    def replace_prefix(self, count: int, head: bytes) -> None: ...
    def seal(self) -> None: ...
    def close(self) -> None: ...


class Storage(Protocol):
    """What an algorithm's storage offers: its small durable state, and record logs flushed with it.

    ``write`` stages, the runtime's ``Persist`` effect calls ``flush`` (state first, then every log
    opened with ``open_log``), ``read`` returns the last state written. The runtime also calls
    ``seal`` when idle and ``close`` at the end. ``snapshots`` holds the state machine images of an
    algorithm that compacts its log (quorumlab.core.snapshots).
    """

    snapshots: Any

    def read(self) -> dict[str, Any]: ...
    def write(self, state: dict[str, Any]) -> None: ...
    def flush(self) -> None: ...
    def open_log(self, name: str) -> RecordStore: ...
    def seal(self) -> None: ...
    def close(self) -> None: ...


class MemoryStorage:
    """In-memory storage that models a disk: staged writes are lost by ``crash()``, flushed ones are not."""

    def __init__(self) -> None:
        self._durable: dict[str, Any] = {}
        self._staged: dict[str, Any] | None = None
        self._attached: dict[str, Any] = {}
        self.flushes = 0
        self.snapshots = MemorySnapshots()

    def attach(self, name: str, log: Any) -> Any:
        """Keep ``log`` (anything with ``flush()``) under ``name`` and flush it with this storage from now on."""
        self._attached[name] = log
        return log

    def attached(self, name: str) -> Any:
        """The log attached under ``name``, or None: it outlives a simulated crash, as a file would."""
        return self._attached.get(name)

    def open_log(self, name: str) -> "MemoryRecordLog":
        """The simulated record log ``name``, attached: after a simulated crash, its flushed records only."""
        log = self._attached.get(name)
        if log is None:
            log = self.attach(name, MemoryRecordLog())
        return log.reopen()

    def seal(self) -> None:
        """Nothing to mark: a simulated disk loses no flushed record."""

    def read(self) -> dict[str, Any]:
        return dict(self._durable if self._staged is None else self._staged)

    def write(self, state: dict[str, Any]) -> None:
        self._staged = dict(state)

    def flush(self) -> None:
        """Make staged state, then every attached log, durable (the runtime's Persist effect; same order as
        FileStorage, though a simulated crash never falls between the two)."""
        if self._staged is not None:
            self._durable = self._staged
            self._staged = None
            self.flushes += 1
        for log in self._attached.values():
            log.flush()

    def crash(self) -> None:
        """Forget whatever was not flushed, as a power cut would (a snapshot being received included)."""
        self._staged = None
        self.snapshots.crash()

    def durable(self) -> dict[str, Any]:
        """What survives a crash right now (for tests and observers)."""
        return dict(self._durable)

    def close(self) -> None:
        self.flush()


class MemoryRecordLog:
    """RecordLog's API in memory: ``append`` stages, ``flush`` makes durable, ``reopen`` loses what was staged."""

    def __init__(self) -> None:
        self._durable: list[bytes] = []
        self._staged: list[bytes] = []
        self.flushes = 0
        self.torn = None

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

    def seal(self) -> None:
        """Nothing to mark in memory."""

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

    def replace_prefix(self, count: int, head: bytes) -> None:
        """Flush, then drop the first ``count`` records and put ``head`` first, durably (RecordLog.replace_prefix)."""
        if not 0 <= count <= len(self):
            raise ValueError(f"cannot drop {count} records; the log holds {len(self)}")
        self.flush()
        self._durable = [bytes(head), *self._durable[count:]]

    def reopen(self) -> "MemoryRecordLog":
        """What a restarted process finds: the flushed records only."""
        self._staged = []
        return self

    def close(self) -> None:
        self.flush()


class FileStorage:
    """A node's data dir: small durable state in ``state.bin`` (two checksummed slots written in place,
    quorumlab.core.statefile), the directory's identity (quorumlab.core.datadir), and the record logs made in it
    (``open_log``).

    Opening checks whose the directory is and that nothing it depends on went missing: a
    directory of another cluster, node or algorithm, a missing state file or log, or a log
    from another directory raises StorageError naming the file. ``repairs`` lists what was
    cut on open (torn log tails, a torn state slot), for the runtime to report. A data dir
    made before state.bin (its state in ``state.json``) is converted on open.
    """

    def __init__(self, data_dir: str | os.PathLike, identity: Identity | None = None) -> None:
        self.dir = os.fspath(data_dir)
        os.makedirs(self.dir, exist_ok=True)
        self.path = os.path.join(self.dir, STATE_FILE)
        self.repairs: list[dict[str, Any]] = []
        self._attached: dict[str, Any] = {}
        self._dirty = False
        self.flushes = 0
        self._file: SlotFile | None = None
        wanted = identity if identity is not None else Identity()
        self._state: dict[str, Any] = {}
        record = load_identity(self.dir)
        if record is None:
            self._record = self._create(wanted)
        else:
            check_owner(self.dir, record.identity, wanted)
            self._record = record
            try:
                self._state = self._load()
            except BaseException:
                if self._file is not None:
                    self._file.close()
                raise
        self.snapshots = FileSnapshots(self.dir)

    @property
    def identity(self) -> Identity:
        """Whose this directory is, as recorded when it was made."""
        return self._record.identity

    @property
    def dir_id(self) -> bytes:
        """The directory's random id, also in every log header and in the state file."""
        return self._record.dir_id

    def _create(self, identity: Identity) -> DirIdentity:
        """A new data dir: refuse durable files left without an identity, then write the state file, then
        identity.json."""
        for name in (STATE_FILE, LEGACY_STATE_FILE):
            path = os.path.join(self.dir, name)
            if not os.path.exists(path):
                continue
            try:
                leftover = self._read_state_file(path)
            except StorageError as exc:
                raise StorageError(f"{exc} (and {IDENTITY_FILE} is missing)") from None
            if not isinstance(leftover, dict) or leftover.get("state"):
                raise StorageError(
                    f"{self.dir}: {name} holds a term or vote but {IDENTITY_FILE} is missing (deleted, or the "
                    "directory was made by an older quorumlab); refusing to start rather than guess whose it is. "
                    "Restore identity.json, or remove the data dir on purpose."
                )
        for name in sorted(os.listdir(self.dir)):
            path = os.path.join(self.dir, name)
            if os.path.isfile(path) and _holds_records(path):
                raise StorageError(
                    f"{path}: a record log with entries, but {IDENTITY_FILE} is missing; refusing to start rather "
                    "than adopt a log of unknown origin. Restore identity.json, or remove the data dir on purpose."
                )
        record = new_identity(identity)
        self._record = record
        self._dirty = True
        self._flush_state()
        self.flushes = 0
        save_identity(self.dir, record)
        return record

    def open_log(self, name: str) -> "RecordLog":
        """The record log ``name`` of this directory, attached so that ``flush()`` makes it durable too.

        A log the identity lists must exist, with this directory's id in its header; a new one is
        created, made durable and then listed.
        """
        path = os.path.join(self.dir, name)
        if os.path.exists(path + _COMPACT_SUFFIX):
            os.unlink(path + _COMPACT_SUFFIX)  # a crash before a compacted copy replaced the log: the log is whole
        record = self._record
        listed = name in record.logs
        if listed and not os.path.exists(path):
            raise StorageError(
                f"{path}: the log is missing, but {IDENTITY_FILE} says it was created here; refusing to start "
                "rather than forget acknowledged entries. Restore it, or remove the data dir on purpose."
            )
        log = RecordLog(path, dir_id=record.dir_id, create=not listed)
        if not listed:
            if len(log):
                log.close()
                raise StorageError(f"{path}: holds records but {IDENTITY_FILE} does not list it; refusing to adopt it")
            record.logs.append(name)
            save_identity(self.dir, record)
        if log.torn is not None:
            self.repairs.append({"file": path, **log.torn.as_dict()})
        return self.attach(name, log)

    def attach(self, name: str, log: Any) -> Any:
        """Keep ``log`` (a ``RecordLog`` in this directory) under ``name`` and flush it with this storage."""
        old = self._attached.get(name)
        if old is not None and old is not log:
            old.close()
        self._attached[name] = log
        return log

    def attached(self, name: str) -> Any:
        return self._attached.get(name)

    def _read_state_file(self, path: str) -> Any:
        """The record in ``path`` (state.bin, or a legacy state.json); StorageError naming it when damaged."""
        if not path.endswith(LEGACY_STATE_FILE):
            with SlotFile.open(path) as file:
                return _state_record(file)
        return read_checksummed(path, _MAGIC, "state file")

    def _load(self) -> dict[str, Any]:
        legacy = os.path.join(self.dir, LEGACY_STATE_FILE)
        source = self.path if os.path.exists(self.path) else legacy  # the file the errors below name
        if os.path.exists(self.path):
            self._file = SlotFile.open(self.path)
            if self._file.damaged_slot is not None:
                self.repairs.append({"file": self.path, "torn_slot": self._file.damaged_slot})
            body = _state_record(self._file)
        elif os.path.exists(legacy):
            body = read_checksummed(legacy, _MAGIC, "state file")
        else:
            raise StorageError(
                f"{self.path}: missing, but {IDENTITY_FILE} says this data dir was in use; the node's term and vote "
                "are gone and it could vote twice in one term. Refusing to start: restore the file, or remove the "
                "data dir on purpose (the node then rejoins as a new, empty member)."
            )
        try:
            owner, state = body["dir"], body["state"]
        except (KeyError, TypeError):
            raise StorageError(f"{source}: state record lacks a field; refusing to start") from None
        if owner != self._record.dir_id.hex():
            raise StorageError(
                f"{source}: belongs to the data dir {owner}, not to this one ({self._record.dir_id.hex()}); "
                "it was copied in from elsewhere. Refusing to start."
            )
        if not isinstance(state, dict):
            raise StorageError(f"{source}: the state is not a JSON object; refusing to start")
        if self._file is None:  # a data dir from before state.bin: convert it, then drop state.json
            self._file = SlotFile.create(self.path, self._encode(state))
        if os.path.exists(legacy):  # converted now, or a crash ended a conversion after state.bin was made
            os.unlink(legacy)
            _fsync_dir(self.dir)
        return state

    def read(self) -> dict[str, Any]:
        return dict(self._state)

    def write(self, state: dict[str, Any]) -> None:
        self._state = dict(state)
        self._dirty = True

    def flush(self) -> None:
        """Make the staged state durable (its slot written and fdatasynced), then every attached log.

        State first: a crash between the two then leaves a term at least as new as every
        logged entry's (the term an entry was received in is on disk before the entry),
        never a log entry of a term the node's durable state has not reached.
        """
        self._flush_state()
        for log in self._attached.values():
            log.flush()

    def seal(self) -> None:
        """Record in each log's header that everything flushed so far is durable (quorumlab.core.storage.RecordLog.seal)."""
        for log in self._attached.values():
            log.seal()

    def _encode(self, state: dict[str, Any]) -> bytes:
        return json.dumps({"dir": self._record.dir_id.hex(), "state": state}, sort_keys=True,
                          separators=(",", ":")).encode()

    def _flush_state(self) -> None:
        if not self._dirty:
            return
        body = self._encode(self._state)
        if self._file is None:
            self._file = SlotFile.create(self.path, body)
        else:
            self._file.write(body)
        self._dirty = False
        self.flushes += 1

    def close(self) -> None:
        self.flush()
        for log in self._attached.values():
            log.close()
        self.snapshots.close()
        if self._file is not None:
            self._file.close()


def _state_record(file: SlotFile) -> Any:
    """The JSON record in a state file's newest slot; StorageError naming the file when it is not JSON."""
    try:
        return json.loads(file.body)
    except ValueError:
        raise StorageError(f"{file.path}: the state slot is not JSON; refusing to start") from None


def _holds_records(path: str) -> bool:
    """Is ``path`` a record log (any version) with at least one record after its header?"""
    try:
        with open(path, "rb") as fh:
            head = fh.read(_HEADER_SIZE + 1)
    except OSError:
        return False
    if head.startswith(_LOG_MAGIC_V1):
        return len(head) > len(_LOG_MAGIC_V1)
    return head.startswith(_LOG_MAGIC) and len(head) > _HEADER_SIZE


_COMPACT_SUFFIX = ".compact"
"""The compacted copy of a log while it is written (RecordLog.replace_prefix); removed on open if a crash left it."""
_LOG_MAGIC_V1 = b"QLRECS1\n"
"""Logs written before the header carried a high-water mark: refused with a clear error."""
_LOG_MAGIC = b"QLRECS2\n"
_SLOT = struct.Struct("<QQ8s")  # sequence, high-water mark, dir_id; then crc32 of these 24 bytes, 4 bytes pad
_SLOT_SIZE = 32
_HEADER_SIZE = len(_LOG_MAGIC) + 2 * _SLOT_SIZE
_REC_HEAD = struct.Struct("<III")  # body length, crc32(body), crc32(the first 8 header bytes); see quorumlab.core.framing
MAX_RECORD = 1 << 30


@dataclass(frozen=True)
class TornTail:
    """What ``RecordLog`` cut off on open: the last records of a flush a crash interrupted (never acknowledged)."""

    offset: int
    dropped_bytes: int
    dropped_records: int
    first_record: int

    def __str__(self) -> str:
        return (f"dropped a torn tail: {self.dropped_records} record(s) from #{self.first_record}, "
                f"{self.dropped_bytes} bytes at byte offset {self.offset}")

    def as_dict(self) -> dict[str, int]:
        return {"offset": self.offset, "bytes": self.dropped_bytes, "records": self.dropped_records,
                "first_record": self.first_record}


def _fsync_dir(path: str) -> None:
    fsync_dir(path)


class RecordLog:
    """An append-only file of records, each framed as length + CRC32 of the body + CRC32 of that header.

    ``append(records)`` stages; ``flush()`` writes and fsyncs them, and only then may the
    caller acknowledge them. On open the file is checked from its start. A crash in the
    middle of ``flush`` can leave only that flush's records incomplete: a header shorter
    than 12 bytes, a checked header whose body runs past the end of the file, or a
    zero-filled tail (a file system that grew the file before the data landed). Those
    records were never acknowledged, so they are cut off and described in ``torn`` for the
    caller to report. Anything else that fails its checksum (a flipped bit, garbage, a
    damaged header followed by more data) may hold an acknowledged record: it raises
    StorageError naming the file and the byte offset, and the file is left as it was.

    **The high-water mark.** A file cut short (by an operator, a bad copy, a file system
    that lost its tail) looks like a crash mid-append. So the header holds, in two
    alternating checksummed slots, a count of records known durable: each flush writes the
    count that was durable *before* it began, in the same fdatasync as its records (no
    extra fsync), and ``seal()`` (the runtime calls it when idle) and ``close()`` write the
    full count. On open, fewer intact records than the mark, or a torn record at or below
    it, is damage, not a crash: StorageError, never a silent cut. What stays undetectable:
    losing only the records of the last flush before a seal (at most about a second of
    writes, see docs/security.md). The header also carries the data dir's id, so a log
    copied in from another directory is refused.
    """

    def __init__(self, path: str | os.PathLike, *, dir_id: bytes | None = None, create: bool = True) -> None:
        self.path = os.fspath(path)
        self.torn: TornTail | None = None
        self.flushes = 0
        self._offsets: list[int] = []
        self._staged: list[bytes] = []
        self._broken: str | None = None
        self._seq = 0
        self._hwm = 0
        self.dir_id = dir_id
        self._fd = os.open(self.path, os.O_RDWR | (os.O_CREAT if create else 0), 0o644) if create or os.path.exists(
            self.path) else self._missing()
        try:
            self._end = self._open_and_check(create)
        except BaseException:
            os.close(self._fd)
            raise

    def _missing(self) -> int:
        raise StorageError(f"{self.path}: the log file is missing; refusing to start rather than lose its entries")

    @property
    def high_water_mark(self) -> int:
        """Records the header says were durable (at most ``durable_count``)."""
        return self._hwm

    # -- reading ------------------------------------------------------------------------

    def __len__(self) -> int:
        """Number of records, flushed and staged."""
        return len(self._offsets) + len(self._staged)

    @property
    def durable_count(self) -> int:
        """Number of records that are on disk (fsynced)."""
        return len(self._offsets)

    def __iter__(self) -> Iterator[bytes]:
        """Every record from the first: the flushed ones read back from the file, then the staged ones."""
        self._check_usable()
        offsets = self._offsets
        for i, off in enumerate(offsets):
            nxt = offsets[i + 1] if i + 1 < len(offsets) else self._end
            yield os.pread(self._fd, nxt - off - _REC_HEAD.size, off + _REC_HEAD.size)
        yield from list(self._staged)

    def records(self) -> list[bytes]:
        """All records, flushed then staged, in append order."""
        return list(self)

    # -- writing ------------------------------------------------------------------------

    def append(self, records: Iterable[bytes]) -> None:
        """Stage records after the last one; they are durable only after ``flush()``."""
        self._check_usable()
        batch = [r if type(r) is bytes else bytes(r) for r in records]
        if batch and max(map(len, batch)) > MAX_RECORD:
            raise ValueError(f"{self.path}: a record of {max(map(len, batch))} bytes is over the {MAX_RECORD}-byte limit")
        self._staged.extend(batch)

    def flush(self) -> None:
        """Write the staged records at the end of the file and fdatasync it; the header's mark moves up to
        the records that were durable before this flush, in the same fdatasync."""
        self._check_usable()
        if not self._staged:
            return
        data, offsets = frame_records(self._staged, self._end)
        off = self._end + len(data)
        self._write_at(data, self._end)
        if self._hwm < len(self._offsets):
            self._write_mark(len(self._offsets))
        self._fsync("fdatasync after append", os.fdatasync)
        self._offsets.extend(offsets)
        self._end = off
        self._staged = []
        self.flushes += 1

    def seal(self) -> None:
        """Mark every flushed record as durable in the header (one fdatasync; nothing when already marked)."""
        self._check_usable()
        if self._hwm < len(self._offsets):
            self._write_mark(len(self._offsets))
            self._fsync("fdatasync after sealing", os.fdatasync)

    def truncate(self, count: int) -> None:
        """Keep only the first ``count`` records; the cut is on disk (fsynced) before this returns.

        Why this is crash-safe: ``ftruncate`` shrinks the file in one metadata step and the
        fsync makes the new size durable before the caller can append or acknowledge
        anything that depends on the cut. A crash before the fsync finishes leaves either
        the old file (the removed records reappear, but nothing built on their removal was
        acknowledged, so the caller simply cuts them again) or the new one. Because the cut
        is durable before any later append is written, new records can never sit in front
        of stale bytes that a crash could resurrect.
        """
        self._check_usable()
        if not 0 <= count <= len(self):
            raise ValueError(f"{self.path}: cannot truncate to {count} records; the log holds {len(self)}")
        durable = len(self._offsets)
        if count >= durable:
            del self._staged[count - durable :]
            return
        self._staged = []
        cut = self._offsets[count]
        if self._hwm > count:
            # The mark comes down first, durably: a crash between the two steps then leaves surplus
            # records (cut again by the caller), never a mark above what the file holds.
            self._write_mark(count)
            self._fsync("fsync of the lowered mark before truncate")
        try:
            os.ftruncate(self._fd, cut)
        except OSError as exc:
            self._broken = f"truncate failed: {exc}"
            raise StorageError(f"{self.path}: cannot truncate at byte offset {cut}: {exc}") from None
        self._fsync("fsync after truncate")
        del self._offsets[count:]
        self._end = cut

    def replace_prefix(self, count: int, head: bytes) -> None:
        """Drop the first ``count`` records and put ``head`` first (log compaction), durably when this returns.

        Staged records are flushed first. The new file is written whole into ``<path>.compact``: a
        header whose mark counts every record in it, ``head``, then the bytes of the records kept as
        they are (a record's frame does not depend on where it sits), with one fsync; it then replaces
        the log by rename, and the directory is fsynced. A crash before the rename leaves the whole old
        log (the copy is removed on the next open); after it, the new one. The cost is one read and one
        write of the records kept, and two syncs; the records kept were checked when they were read on
        open or framed here, so the new file is not read back.
        """
        self._check_usable()
        if not 0 <= count <= len(self):
            raise ValueError(f"{self.path}: cannot drop {count} records; the log holds {len(self)}")
        self.flush()
        tmp = self.path + _COMPACT_SUFFIX
        if os.path.exists(tmp):
            os.unlink(tmp)
        offsets, end = self._offsets, self._end
        start = offsets[count] if count < len(offsets) else end
        kept = os.pread(self._fd, end - start, start) if end > start else b""
        if len(kept) != end - start:
            raise StorageError(f"{self.path}: read {len(kept)} of the {end - start} bytes of the records kept")
        framed_head, _ = frame_records([bytes(head)], _HEADER_SIZE)
        records = 1 + len(offsets) - count
        data = _LOG_MAGIC + bytes(_SLOT_SIZE) + _slot(1, records, self.dir_id) + framed_head + kept
        try:
            write_synced(tmp, data)
        except OSError as exc:
            raise StorageError(f"{tmp}: cannot write the compacted copy of the log: {exc}") from None
        try:
            os.replace(tmp, self.path)
            _fsync_dir(os.path.dirname(os.path.abspath(self.path)))
        except OSError as exc:
            self._broken = f"replacing the log with its compacted copy failed: {exc}"
            raise StorageError(f"{self.path}: cannot replace the log with its compacted copy: {exc}") from None
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDWR)
        shift = start - _HEADER_SIZE - len(framed_head)
        self._offsets = [_HEADER_SIZE, *(off - shift for off in offsets[count:])]
        self._end = len(data)
        self._staged, self.torn = [], None
        self._seq, self._hwm = 1, records

    def crash(self) -> None:
        """Close the file as a crash would leave it: nothing staged written, nothing sealed (for tests)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def close(self) -> None:
        """Flush what is staged, seal, and close the file."""
        if self._fd < 0:
            return
        try:
            if self._broken is None:
                self.flush()
                self.seal()
        finally:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "RecordLog":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._fd < 0:
            raise StorageError(f"{self.path}: the record log is closed")
        if self._broken is not None:
            raise StorageError(f"{self.path}: an earlier {self._broken}; reopen the log to find what is on disk")

    def _write_at(self, data: bytes, offset: int) -> None:
        view = memoryview(data)
        try:
            while view:
                n = os.pwrite(self._fd, view, offset)
                view = view[n:]
                offset += n
        except OSError as exc:
            self._broken = f"write failed: {exc}"
            raise StorageError(f"{self.path}: cannot write at byte offset {offset}: {exc}") from None

    def _fsync(self, what: str, sync: Any = os.fsync) -> None:
        """fsync (or ``sync``: fdatasync, which also writes the new file size an append needs, not timestamps)."""
        try:
            sync(self._fd)
        except OSError as exc:
            # After a failed fsync the page cache can no longer be trusted (it may claim
            # data that never reached the disk): refuse further use until reopened.
            self._broken = f"{what} failed: {exc}"
            raise StorageError(f"{self.path}: {what} failed: {exc}") from None

    def _write_mark(self, hwm: int) -> None:
        """Write the next header slot: sequence + 1, ``hwm`` and the dir id, with their CRC-32."""
        seq = self._seq + 1
        self._write_at(_slot(seq, hwm, self.dir_id), len(_LOG_MAGIC) + _SLOT_SIZE * (seq % 2))
        self._seq, self._hwm = seq, hwm

    def _read_header(self, data: bytes) -> None:
        """Take the newest valid slot's mark; check the dir id."""
        best = None
        for k in range(2):
            at = len(_LOG_MAGIC) + _SLOT_SIZE * k
            raw = data[at : at + _SLOT_SIZE]
            if len(raw) < _SLOT_SIZE or zlib.crc32(raw[: _SLOT.size]) != struct.unpack_from("<I", raw, _SLOT.size)[0]:
                continue
            seq, hwm, dir_id = _SLOT.unpack_from(raw)
            if seq and (best is None or seq > best[0]):
                best = (seq, hwm, dir_id)
        if best is None:
            raise StorageError(f"{self.path}: both header slots are damaged (byte offsets 8..{_HEADER_SIZE}); "
                               "refusing to start rather than guess how many records were acknowledged")
        self._seq, self._hwm, found = best
        if self.dir_id is None:
            self.dir_id = found
        elif found != self.dir_id:
            raise StorageError(f"{self.path}: belongs to the data dir {found.hex()}, not to this one "
                               f"({self.dir_id.hex()}); it was copied in from elsewhere. Refusing to start.")

    def _open_and_check(self, create: bool) -> int:
        """Validate the whole file, cut a torn tail above the mark, and return the end offset of the last good record."""
        try:
            size = os.fstat(self._fd).st_size
            data = os.pread(self._fd, size, 0) if size else b""
        except OSError as exc:
            raise StorageError(f"{self.path}: cannot read: {exc}") from None
        if data.startswith(_LOG_MAGIC_V1):
            raise StorageError(f"{self.path}: a record log of an older quorumlab (format 1, no high-water mark); "
                               "this version cannot check it. Remove the data dir on purpose, or use that version.")
        if size < _HEADER_SIZE:
            if not (_LOG_MAGIC.startswith(data[: len(_LOG_MAGIC)])):
                raise StorageError(f"{self.path}: not a quorumlab record log (bad header at byte offset 0)")
            if not create:
                raise StorageError(f"{self.path}: the log is empty or cut inside its header ({size} bytes), but it "
                                   "was created here before; refusing to start rather than lose its entries")
            # New file, or a crash while it was being created: no record was ever acknowledged.
            if self.dir_id is None:
                self.dir_id = secrets.token_bytes(8)
            self._write_at(_LOG_MAGIC + bytes(2 * _SLOT_SIZE), 0)
            self._write_mark(0)
            self._fsync("fsync of a new log")
            _fsync_dir(os.path.dirname(os.path.abspath(self.path)))
            return _HEADER_SIZE
        if data[: len(_LOG_MAGIC)] != _LOG_MAGIC:
            raise StorageError(f"{self.path}: not a quorumlab record log (bad magic at byte offset 0)")
        self._read_header(data)
        off = _HEADER_SIZE
        head_size = _REC_HEAD.size
        crc32 = zlib.crc32
        offsets = self._offsets
        damage = None
        while off < size:
            if size - off < head_size:
                break
            length, body_crc, head_crc = _REC_HEAD.unpack_from(data, off)
            if crc32(data[off : off + 8]) != head_crc:
                if data.count(0, off) == size - off:
                    break
                damage = f"damaged header of record #{len(offsets)} at byte offset {off}"
                break
            if off + head_size + length > size:
                break
            if crc32(data[off + head_size : off + head_size + length]) != body_crc:
                damage = f"checksum mismatch in record #{len(offsets)} at byte offset {off}"
                break
            offsets.append(off)
            off += head_size + length
        if damage is not None:
            raise StorageError(f"{self.path}: {damage}; refusing to start rather than lose log entries")
        if len(offsets) < self._hwm:
            where = "is cut inside" if off < size else "ends before"
            raise StorageError(
                f"{self.path}: the log {where} record #{len(offsets)} (byte offset {off}), but its header says "
                f"{self._hwm} records were durable: records {len(offsets)}..{self._hwm - 1} are gone, and they may "
                "have been acknowledged. This is damage (a cut or lost file tail), not a crash; refusing to start. "
                "Restore the file, or remove the data dir on purpose."
            )
        if off < size:
            self.torn = TornTail(off, size - off, _count_torn(data, off), len(offsets))
            try:
                os.ftruncate(self._fd, off)
            except OSError as exc:
                raise StorageError(f"{self.path}: cannot cut the torn tail at byte offset {off}: {exc}") from None
            self._fsync("fsync after cutting a torn tail")
        return off


def _slot(seq: int, hwm: int, dir_id: bytes) -> bytes:
    """A header slot as written: sequence, mark and dir id, their CRC-32, padding (slot ``seq % 2``)."""
    body = _SLOT.pack(seq, hwm, dir_id)
    return body + struct.pack("<I4x", zlib.crc32(body))


def _count_torn(data: bytes, off: int) -> int:
    """How many records a torn tail starting at ``off`` began: whole headers that check, plus the broken last one."""
    count, size = 0, len(data)
    while off < size:
        count += 1
        if size - off < _REC_HEAD.size:
            break
        length, _, head_crc = _REC_HEAD.unpack_from(data, off)
        if zlib.crc32(data[off : off + 8]) != head_crc:
            break
        off += _REC_HEAD.size + length
    return count
