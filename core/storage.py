"""Durable state for algorithms: what a reply depends on is flushed before the reply leaves.

The algorithm stages its small durable state with ``write(dict)``; the runtime
calls ``flush()`` when it executes the ``Persist`` effect, before any later
send. ``read()`` returns the last flushed state ({} for a new node).

``MemoryStorage`` is the simulator's disk: a simulated crash (``crash()``)
loses what was staged but not flushed, and keeps what was flushed.
``FileStorage`` writes the state atomically (temp file, fsync, rename, fsync
of the directory) with a CRC32; a damaged file raises StorageError naming the
file and is never reset. ``RecordLog`` is an append-only file of checksummed
records (Raft's log): a record torn by a crash mid-write is cut off on open,
damage anywhere else raises StorageError naming the file and the byte offset.
"""
from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from core.errors import StorageError
from core.framing import frame_records

STATE_FILE = "state.json"
_MAGIC = "quorumlab-state-v1"


class MemoryStorage:
    """In-memory storage that models a disk: staged writes are lost by ``crash()``, flushed ones are not."""

    def __init__(self) -> None:
        self._durable: dict[str, Any] = {}
        self._staged: dict[str, Any] | None = None
        self._attached: dict[str, Any] = {}
        self.flushes = 0

    def attach(self, name: str, log: Any) -> Any:
        """Keep ``log`` (anything with ``flush()``) under ``name`` and flush it with this storage from now on."""
        self._attached[name] = log
        return log

    def attached(self, name: str) -> Any:
        """The log attached under ``name``, or None: it outlives a simulated crash, as a file would."""
        return self._attached.get(name)

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
        """Forget whatever was not flushed, as a power cut would."""
        self._staged = None

    def durable(self) -> dict[str, Any]:
        """What survives a crash right now (for tests and observers)."""
        return dict(self._durable)

    def close(self) -> None:
        self.flush()


class FileStorage:
    """Small durable state in ``<data_dir>/state.json``, replaced atomically and checksummed."""

    def __init__(self, data_dir: str | os.PathLike) -> None:
        self.dir = os.fspath(data_dir)
        os.makedirs(self.dir, exist_ok=True)
        self.path = os.path.join(self.dir, STATE_FILE)
        self._state = self._load()
        self._dirty = False
        self._attached: dict[str, Any] = {}
        self.flushes = 0

    def attach(self, name: str, log: Any) -> Any:
        """Keep ``log`` (a ``RecordLog`` in this directory) under ``name`` and flush it with this storage."""
        old = self._attached.get(name)
        if old is not None and old is not log:
            old.close()
        self._attached[name] = log
        return log

    def attached(self, name: str) -> Any:
        return self._attached.get(name)

    def _load(self) -> dict[str, Any]:
        if not os.path.exists(self.path):
            return {}
        try:
            with open(self.path, "rb") as fh:
                raw = fh.read()
        except OSError as exc:
            raise StorageError(f"{self.path}: cannot read: {exc}") from None
        try:
            doc = json.loads(raw)
            body = doc["state"]
            stored = doc["crc32"]
            magic = doc["magic"]
        except (ValueError, KeyError, TypeError):
            raise StorageError(
                f"{self.path}: damaged state file (not a quorumlab state record); "
                "refusing to start rather than forget a term or vote. Restore it or remove the data dir on purpose."
            ) from None
        if magic != _MAGIC:
            raise StorageError(f"{self.path}: unknown format {magic!r}")
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        if zlib.crc32(canonical) != stored:
            raise StorageError(
                f"{self.path}: checksum mismatch; the file is damaged. Refusing to start rather than forget a term or vote."
            )
        return body

    def read(self) -> dict[str, Any]:
        return dict(self._state)

    def write(self, state: dict[str, Any]) -> None:
        self._state = dict(state)
        self._dirty = True

    def flush(self) -> None:
        """Make the staged state durable (temp file + fsync + rename + fsync(dir)), then every attached log.

        State first: a crash between the two then leaves a term at least as new as every
        logged entry's (the term an entry was received in is on disk before the entry),
        never a log entry of a term the node's durable state has not reached.
        """
        self._flush_state()
        for log in self._attached.values():
            log.flush()

    def _flush_state(self) -> None:
        if not self._dirty:
            return
        canonical = json.dumps(self._state, sort_keys=True, separators=(",", ":"))
        doc = json.dumps({"magic": _MAGIC, "crc32": zlib.crc32(canonical.encode()), "state": self._state}, sort_keys=True)
        tmp = self.path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            data = memoryview(doc.encode())
            while data:
                data = data[os.write(fd, data):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        self._dirty = False
        self.flushes += 1

    def close(self) -> None:
        self.flush()
        for log in self._attached.values():
            log.close()


_LOG_MAGIC = b"QLRECS1\n"
_REC_HEAD = struct.Struct("<III")  # body length, crc32(body), crc32(the first 8 header bytes); see core.framing
MAX_RECORD = 1 << 30


@dataclass(frozen=True)
class TornTail:
    """What ``RecordLog`` cut off on open: bytes of a record a crash left half-written (never acknowledged)."""

    offset: int
    dropped_bytes: int

    def __str__(self) -> str:
        return f"dropped a torn final record: {self.dropped_bytes} bytes at byte offset {self.offset}"


def _fsync_dir(path: str) -> None:
    dfd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class RecordLog:
    """An append-only file of records, each framed as length + CRC32 of the body + CRC32 of that header.

    ``append(records)`` stages; ``flush()`` writes and fsyncs them, and only then may the
    caller acknowledge them. On open the file is checked from its start. A crash in the
    middle of ``flush`` can leave only the last record incomplete: a header shorter than
    12 bytes, a checked header whose body runs past the end of the file, or a zero-filled
    tail (a file system that grew the file before the data landed). That torn record was
    never acknowledged, so it is cut off and described in ``torn`` for the caller to log.
    Anything else that fails its checksum (a flipped bit, garbage, a damaged header
    followed by more data) may hold an acknowledged record: it raises StorageError naming
    the file and the byte offset, and the file is left as it was.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        self.torn: TornTail | None = None
        self.flushes = 0
        self._offsets: list[int] = []
        self._staged: list[bytes] = []
        self._broken: str | None = None
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            self._end = self._open_and_check()
        except BaseException:
            os.close(self._fd)
            raise

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
        """Write the staged records at the end of the file and fsync it."""
        self._check_usable()
        if not self._staged:
            return
        data, offsets = frame_records(self._staged, self._end)
        off = self._end + len(data)
        self._write_at(data, self._end)
        self._fsync("fdatasync after append", os.fdatasync)
        self._offsets.extend(offsets)
        self._end = off
        self._staged = []
        self.flushes += 1

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
        try:
            os.ftruncate(self._fd, cut)
        except OSError as exc:
            self._broken = f"truncate failed: {exc}"
            raise StorageError(f"{self.path}: cannot truncate at byte offset {cut}: {exc}") from None
        self._fsync("fsync after truncate")
        del self._offsets[count:]
        self._end = cut

    def close(self) -> None:
        """Flush what is staged and close the file."""
        if self._fd < 0:
            return
        try:
            if self._broken is None:
                self.flush()
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

    def _open_and_check(self) -> int:
        """Validate the whole file, cut a torn tail, and return the end offset of the last good record."""
        try:
            size = os.fstat(self._fd).st_size
            data = os.pread(self._fd, size, 0) if size else b""
        except OSError as exc:
            raise StorageError(f"{self.path}: cannot read: {exc}") from None
        magic = _LOG_MAGIC
        if len(data) < len(magic):
            if not magic.startswith(data):
                raise StorageError(f"{self.path}: not a quorumlab record log (bad header at byte offset 0)")
            # New file, or a crash while it was being created: no record was ever acknowledged.
            self._write_at(magic, 0)
            self._fsync("fsync of a new log")
            _fsync_dir(os.path.dirname(os.path.abspath(self.path)))
            return len(magic)
        if data[: len(magic)] != magic:
            raise StorageError(f"{self.path}: not a quorumlab record log (bad magic at byte offset 0)")
        off = len(magic)
        head_size = _REC_HEAD.size
        crc32 = zlib.crc32
        offsets = self._offsets
        while off < size:
            if size - off < head_size:
                break
            length, body_crc, head_crc = _REC_HEAD.unpack_from(data, off)
            if crc32(data[off : off + 8]) != head_crc:
                if data.count(0, off) == size - off:
                    break
                raise StorageError(
                    f"{self.path}: damaged header of record #{len(offsets)} at byte offset {off}; "
                    "refusing to start rather than lose log entries"
                )
            if off + head_size + length > size:
                break
            if crc32(data[off + head_size : off + head_size + length]) != body_crc:
                raise StorageError(
                    f"{self.path}: checksum mismatch in record #{len(offsets)} at byte offset {off}; "
                    "refusing to start rather than lose log entries"
                )
            offsets.append(off)
            off += head_size + length
        if off < size:
            self.torn = TornTail(off, size - off)
            try:
                os.ftruncate(self._fd, off)
            except OSError as exc:
                raise StorageError(f"{self.path}: cannot cut the torn tail at byte offset {off}: {exc}") from None
            self._fsync("fsync after cutting a torn tail")
        return off
