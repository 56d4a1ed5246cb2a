"""The replicated key-value store: the reference state machine behind Raft's log (put, get, delete, cas).

Every command carries the client's id and a sequence number (section 8 of the
paper): the store remembers, per client, the results of its recent sequence
numbers, so a command a client retries after a timeout or a leader change is
applied at most once and answered with the first result. It also remembers what
each of those commands was (the command itself when small, a 16-byte BLAKE2b
digest when not), so a *different* command arriving under a (client, seq) already
used - two clients that share an id, a client restarted with its sequence reset -
is refused with ``REUSED`` instead of being answered with another command's
result. Sessions are bounded: at most ``MAX_SESSIONS`` clients are remembered,
the least recently active one forgotten first (by log order, so every node
forgets the same one). Reads go through the log too, so they are linearizable. Commands and results are small binary
records (struct-packed), the same bytes on every node.
"""
from __future__ import annotations

import hashlib
import struct
from collections import OrderedDict
from dataclasses import dataclass
from typing import BinaryIO

PUT, GET, DELETE, CAS = 1, 2, 3, 4
OPS = {"put": PUT, "get": GET, "delete": DELETE, "cas": CAS}
OK, NOT_FOUND, CAS_MISMATCH, STALE, REUSED, NOT_A_READ = 0, 1, 2, 3, 4, 5
"""Result statuses: done; no such key; cas saw another value; sequence number older than the remembered window;
sequence number already used by this client for a different command (nothing was applied); a read that is not a
well-formed get."""
SESSION_WINDOW = 4096
"""Results remembered per client: a client may have this many commands outstanding and still retry safely."""
MAX_SESSIONS = 65_536
"""Clients remembered at once; the least recently active is forgotten first (its retries are then applied anew)."""
FINGERPRINT_INLINE = 256
"""Commands up to this size are remembered as they are (the log's own bytes object: no copy, exact comparison);
larger ones by a 16-byte BLAKE2b digest."""

_MAGIC = b"K"
_HEAD = struct.Struct("<cQQB")  # magic, client id, sequence, op
_LEN = struct.Struct("<I")
_RESULT = struct.Struct("<BB")  # status, value present


class CommandError(ValueError):
    """Bytes that are not a well-formed key-value command."""


@dataclass(frozen=True)
class Command:
    """One client command: who sent it (client, seq), the operation and its arguments."""

    client: int
    seq: int
    op: int
    key: bytes
    value: bytes = b""
    expected: bytes | None = None

    def encode(self) -> bytes:
        parts = [_HEAD.pack(_MAGIC, self.client, self.seq, self.op), _LEN.pack(len(self.key)), self.key]
        if self.op in (PUT, CAS):
            parts += [_LEN.pack(len(self.value)), self.value]
        if self.op == CAS:
            if self.expected is None:
                parts.append(b"\x00")
            else:
                parts += [b"\x01", _LEN.pack(len(self.expected)), self.expected]
        return b"".join(parts)

    @classmethod
    def decode(cls, data: bytes) -> "Command":
        try:
            magic, client, seq, op = _HEAD.unpack_from(data)
            if magic != _MAGIC or op not in (PUT, GET, DELETE, CAS):
                raise CommandError(f"not a key-value command (magic {magic!r}, op {op})")
            pos = _HEAD.size
            key, pos = _field(data, pos)
            value, expected = b"", None
            if op in (PUT, CAS):
                value, pos = _field(data, pos)
            if op == CAS:
                present = data[pos]
                pos += 1
                if present > 1:
                    raise CommandError(f"cas flag {present} is not 0 (no expected value) or 1")
                if present:
                    expected, pos = _field(data, pos)
        except (struct.error, IndexError):
            raise CommandError(f"truncated key-value command ({len(data)} bytes)") from None
        if pos != len(data):
            raise CommandError(f"{len(data) - pos} bytes after the end of a key-value command")
        return cls(client, seq, op, key, value, expected)


def _field(data: bytes, pos: int) -> tuple[bytes, int]:
    (n,) = _LEN.unpack_from(data, pos)
    pos += _LEN.size
    if pos + n > len(data):
        raise IndexError
    return bytes(data[pos : pos + n]), pos + n


@dataclass(frozen=True)
class Result:
    """The answer to a command: status and, for get/cas/put, the value (the previous one for put and cas)."""

    status: int
    value: bytes | None = None

    @property
    def ok(self) -> bool:
        return self.status == OK

    def encode(self) -> bytes:
        if self.value is None:
            return _RESULT.pack(self.status, 0)
        return _RESULT.pack(self.status, 1) + self.value

    @classmethod
    def decode(cls, data: bytes) -> "Result":
        status, present = _RESULT.unpack_from(data)
        return cls(status, bytes(data[_RESULT.size :]) if present else None)


_unpack_head = _HEAD.unpack_from
_unpack_len = _LEN.unpack_from
_OK_NONE = Result(OK).encode()
_OK_VALUE = _RESULT.pack(OK, 1)
_NOT_FOUND = Result(NOT_FOUND).encode()
_CAS_NONE = Result(CAS_MISMATCH).encode()
_CAS_VALUE = _RESULT.pack(CAS_MISMATCH, 1)
_STALE = Result(STALE).encode()
_REUSED = Result(REUSED).encode()
_NOT_A_READ = Result(NOT_A_READ).encode()


def fingerprint(data: bytes) -> bytes:
    """What the store keeps to tell a retried command from a different one under the same (client, seq)."""
    if len(data) <= FINGERPRINT_INLINE:
        return data
    return hashlib.blake2b(data, digest_size=16).digest()


def _parse_args(data: bytes, op: int) -> tuple[bytes, bytes, bytes | None] | None:
    """(key, value, expected) of an encoded command whose header says ``op``; None if malformed."""
    end = len(data)
    pos = _HEAD.size + _LEN.size
    if pos > end:
        return None
    (n,) = _unpack_len(data, _HEAD.size)
    if pos + n > end:
        return None
    key = data[pos : pos + n]
    pos += n
    if op == GET or op == DELETE:
        return (key, b"", None) if pos == end else None
    if op != PUT and op != CAS:
        return None
    if pos + _LEN.size > end:
        return None
    (n,) = _unpack_len(data, pos)
    pos += _LEN.size
    if pos + n > end:
        return None
    value = data[pos : pos + n]
    pos += n
    if op == PUT:
        return (key, value, None) if pos == end else None
    if pos >= end:
        return None
    present = data[pos]
    pos += 1
    if present == 0:
        return (key, value, None) if pos == end else None
    if present != 1 or pos + _LEN.size > end:
        return None
    (n,) = _unpack_len(data, pos)
    pos += _LEN.size
    if pos + n != end:
        return None
    return key, value, data[pos:end]


class KVStore:
    """The state machine: a dict of bytes, plus per-client sessions for at-most-once application."""

    def __init__(self, max_sessions: int = MAX_SESSIONS) -> None:
        self.data: dict[bytes, bytes] = {}
        self.sessions: dict[int, OrderedDict[int, tuple[bytes, bytes]]] = {}  # in order of last activity
        self.floor: dict[int, int] = {}
        self.applied_index = 0
        self.max_sessions = max_sessions
        self._latest_client: int | None = None  # already the most recent session: no reordering needed

    def apply(self, index: int, data: bytes) -> bytes | None:
        """Apply the log entry at ``index``; returns the encoded result, or None for a no-op or foreign entry.

        This runs once per command on every node, so it parses the command in place instead of
        building a ``Command`` (same checks as ``Command.decode``: anything malformed is foreign).
        """
        if index <= self.applied_index:
            raise ValueError(f"entry {index} applied after entry {self.applied_index}: apply is in order, once")
        self.applied_index = index
        if len(data) < _HEAD.size + _LEN.size:
            return None
        magic, client, seq, op = _unpack_head(data)
        if magic != _MAGIC:
            return None
        parsed = _parse_args(data, op)
        if parsed is None:
            return None
        sessions = self.sessions
        session = sessions.get(client)
        if session is None:
            session = sessions[client] = OrderedDict()
            self._latest_client = client
            if len(sessions) > self.max_sessions:
                gone = next(iter(sessions))
                del sessions[gone]
                self.floor.pop(gone, None)
        elif client != self._latest_client:
            sessions[client] = sessions.pop(client)  # now the most recently active
            self._latest_client = client
        fp = data if len(data) <= FINGERPRINT_INLINE else fingerprint(data)
        earlier = session.get(seq)
        if earlier is not None:
            return earlier[1] if earlier[0] == fp else _REUSED
        if seq <= self.floor.get(client, 0):
            return _STALE
        key, value, expected = parsed
        store = self.data
        old = store.get(key)
        if op == PUT:
            store[key] = value
            result = _OK_NONE if old is None else _OK_VALUE + old
        elif op == GET:
            result = _NOT_FOUND if old is None else _OK_VALUE + old
        elif op == DELETE:
            if old is None:
                result = _NOT_FOUND
            else:
                del store[key]
                result = _OK_VALUE + old
        elif old != expected:
            result = _CAS_NONE if old is None else _CAS_VALUE + old
        else:
            store[key] = value
            result = _OK_NONE if old is None else _OK_VALUE + old
        session[seq] = (fp, result)
        if len(session) > SESSION_WINDOW:
            oldest, _ = session.popitem(last=False)
            self.floor[client] = max(self.floor.get(client, 0), oldest)
        return result

    def read(self, query: bytes) -> bytes:
        """Answer a get from the state as it is, outside the log (no session, no entry): what the runtime calls
        for a read once the algorithm said the state is recent enough (quorumlab.core.effects.ReadReady)."""
        if len(query) >= _HEAD.size + _LEN.size:
            magic, _, _, op = _unpack_head(query)
            parsed = _parse_args(query, op) if magic == _MAGIC and op == GET else None
            if parsed is not None:
                value = self.data.get(parsed[0])
                return _NOT_FOUND if value is None else _OK_VALUE + value
        return _NOT_A_READ

    def contents(self) -> dict:
        """The store's contents, JSON-friendly (hex keys and values), for checks after a run."""
        return {
            "applied_index": self.applied_index,
            "keys": len(self.data),
            "sessions": len(self.sessions),
            "data": {k.hex(): v.hex() for k, v in self.data.items()},
        }

    # -- snapshots (Raft section 7): the whole store, sessions included, as a stream -----------------

    def write_snapshot(self, stream: BinaryIO) -> None:
        """Write the store's image at ``applied_index`` to ``stream``: the data and every client session (its
        results, fingerprints and floor) in their order of activity, so a node restored from it answers a retried
        command exactly as this one would. Written in pieces of about ``_SNAPSHOT_PIECE`` bytes, never as one
        object as large as the store."""
        out: list[bytes] = [_SNAP_HEAD.pack(_SNAP_MAGIC, self.applied_index, len(self.data), len(self.sessions))]
        size = 0
        pack_len = _LEN.pack
        for key, value in self.data.items():
            out += (pack_len(len(key)), key, pack_len(len(value)), value)
            size += len(key) + len(value) + 8
            if size >= _SNAPSHOT_PIECE:
                stream.write(b"".join(out))
                out, size = [], 0
        floor = self.floor
        for client, session in self.sessions.items():
            out.append(_SNAP_SESSION.pack(client, floor.get(client, 0), len(session)))
            for seq, (fp, result) in session.items():
                out += (_SNAP_SEQ.pack(seq, len(fp), len(result)), fp, result)
                size += len(fp) + len(result) + 16
            if size >= _SNAPSHOT_PIECE:
                stream.write(b"".join(out))
                out, size = [], 0
        out.append(_SNAP_END)
        stream.write(b"".join(out))

    def restore(self, stream: BinaryIO) -> None:
        """Replace the whole store with the image ``write_snapshot`` wrote (SnapshotError if it is not one)."""
        read = _Reader(stream)
        magic, applied, keys, sessions = read.unpack(_SNAP_HEAD)
        if magic != _SNAP_MAGIC:
            raise SnapshotError(f"not a key-value store image (magic {magic!r})")
        data: dict[bytes, bytes] = {}
        for _ in range(keys):
            key = read.field()
            data[key] = read.field()
        if len(data) != keys:
            raise SnapshotError("a key appears twice in the image")
        table: dict[int, OrderedDict[int, tuple[bytes, bytes]]] = {}
        floor: dict[int, int] = {}
        for _ in range(sessions):
            client, low, count = read.unpack(_SNAP_SESSION)
            session = table[client] = OrderedDict()
            if low:
                floor[client] = low
            for _ in range(count):
                seq, fp_len, result_len = read.unpack(_SNAP_SEQ)
                session[seq] = (read.exactly(fp_len), read.exactly(result_len))
        if read.exactly(len(_SNAP_END)) != _SNAP_END or stream.read(1):
            raise SnapshotError("the key-value store image does not end where it says")
        if len(table) != sessions:
            raise SnapshotError("a client session appears twice in the image")
        self.data, self.sessions, self.floor, self.applied_index = data, table, floor, applied
        self._latest_client = next(reversed(table)) if table else None


class SnapshotError(ValueError):
    """Bytes that are not a state machine image (a damaged or foreign snapshot)."""


_SNAP_MAGIC = b"QLKV1\n\x00\x00"
_SNAP_HEAD = struct.Struct("<8sQQQ")  # magic, applied index, keys, sessions
_SNAP_SESSION = struct.Struct("<QQI")  # client, floor, remembered results
_SNAP_SEQ = struct.Struct("<QII")  # sequence, fingerprint length, result length
_SNAP_END = b"QLKV-END"
_SNAPSHOT_PIECE = 1 << 16


class _Reader:
    """Exact reads from a stream, a truncated one raising SnapshotError."""

    __slots__ = ("_read",)

    def __init__(self, stream: BinaryIO) -> None:
        self._read = stream.read

    def exactly(self, n: int) -> bytes:
        data = self._read(n) if n <= _SNAPSHOT_PIECE else self._large(n)
        if len(data) != n:
            raise SnapshotError(f"the image is cut short (wanted {n} bytes, found {len(data)})")
        return data

    def _large(self, n: int) -> bytes:
        """Read ``n`` bytes in pieces: a damaged length must not make one read allocate gigabytes up front."""
        parts, left = [], n
        while left:
            part = self._read(min(left, 1 << 20))
            if not part:
                break
            parts.append(part)
            left -= len(part)
        return b"".join(parts)

    def unpack(self, layout: struct.Struct) -> tuple:
        return layout.unpack(self.exactly(layout.size))

    def field(self) -> bytes:
        (n,) = _LEN.unpack(self.exactly(_LEN.size))
        return self.exactly(n)
