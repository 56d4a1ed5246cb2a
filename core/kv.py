"""The replicated key-value store: the reference state machine behind Raft's log (put, get, delete, cas).

Every command carries the client's id and a sequence number (section 8 of the
paper): the store remembers, per client, the results of its recent sequence
numbers, so a command a client retries after a timeout or a leader change is
applied at most once and answered with the first result. Reads go through the
log too, so they are linearizable. Commands and results are small binary
records (struct-packed), the same bytes on every node.
"""
from __future__ import annotations

import struct
from collections import OrderedDict
from dataclasses import dataclass

PUT, GET, DELETE, CAS = 1, 2, 3, 4
OPS = {"put": PUT, "get": GET, "delete": DELETE, "cas": CAS}
OK, NOT_FOUND, CAS_MISMATCH, STALE = 0, 1, 2, 3
"""Result statuses: done; no such key; cas saw another value; sequence number older than the remembered window."""
SESSION_WINDOW = 4096
"""Results remembered per client: a client may have this many commands outstanding and still retry safely."""

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


class KVStore:
    """The state machine: a dict of bytes, plus per-client sessions for at-most-once application."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.sessions: dict[int, OrderedDict[int, bytes]] = {}
        self.floor: dict[int, int] = {}
        self.applied_index = 0

    def apply(self, index: int, data: bytes) -> bytes | None:
        """Apply the log entry at ``index``; returns the encoded result, or None for a no-op or foreign entry."""
        if index <= self.applied_index:
            raise ValueError(f"entry {index} applied after entry {self.applied_index}: apply is in order, once")
        self.applied_index = index
        if not data:
            return None
        try:
            cmd = Command.decode(data)
        except CommandError:
            return None
        session = self.sessions.setdefault(cmd.client, OrderedDict())
        earlier = session.get(cmd.seq)
        if earlier is not None:
            return earlier
        if cmd.seq <= self.floor.get(cmd.client, 0):
            return Result(STALE).encode()
        result = self._execute(cmd).encode()
        session[cmd.seq] = result
        if len(session) > SESSION_WINDOW:
            seq, _ = session.popitem(last=False)
            self.floor[cmd.client] = max(self.floor.get(cmd.client, 0), seq)
        return result

    def _execute(self, cmd: Command) -> Result:
        data = self.data
        old = data.get(cmd.key)
        if cmd.op == PUT:
            data[cmd.key] = cmd.value
            return Result(OK, old)
        if cmd.op == GET:
            return Result(OK, old) if old is not None else Result(NOT_FOUND)
        if cmd.op == DELETE:
            if old is None:
                return Result(NOT_FOUND)
            del data[cmd.key]
            return Result(OK, old)
        if old != cmd.expected:
            return Result(CAS_MISMATCH, old)
        data[cmd.key] = cmd.value
        return Result(OK, old)

    def snapshot(self) -> dict:
        """The store's contents, JSON-friendly (hex keys and values), for checks after a run."""
        return {
            "applied_index": self.applied_index,
            "keys": len(self.data),
            "data": {k.hex(): v.hex() for k, v in self.data.items()},
        }
