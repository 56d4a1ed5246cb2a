"""Durable state for algorithms: what a reply depends on is flushed before the reply leaves.

The algorithm stages its small durable state with ``write(dict)``; the runtime
calls ``flush()`` when it executes the ``Persist`` effect, before any later
send. ``read()`` returns the last flushed state ({} for a new node).

``MemoryStorage`` is the simulator's disk: a simulated crash (``crash()``)
loses what was staged but not flushed, and keeps what was flushed.
``FileStorage`` writes the state atomically (temp file, fsync, rename, fsync
of the directory) with a CRC32; a damaged file raises StorageError naming the
file and is never reset.
"""
from __future__ import annotations

import json
import os
import zlib
from typing import Any

from core.errors import StorageError

STATE_FILE = "state.json"
_MAGIC = "quorumlab-state-v1"


class MemoryStorage:
    """In-memory storage that models a disk: staged writes are lost by ``crash()``, flushed ones are not."""

    def __init__(self) -> None:
        self._durable: dict[str, Any] = {}
        self._staged: dict[str, Any] | None = None
        self.flushes = 0

    def read(self) -> dict[str, Any]:
        return dict(self._durable if self._staged is None else self._staged)

    def write(self, state: dict[str, Any]) -> None:
        self._staged = dict(state)

    def flush(self) -> None:
        if self._staged is not None:
            self._durable = self._staged
            self._staged = None
            self.flushes += 1

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
        self.flushes = 0

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
        """Make the staged state durable: temp file + fsync + rename + fsync(dir)."""
        if not self._dirty:
            return
        canonical = json.dumps(self._state, sort_keys=True, separators=(",", ":"))
        doc = json.dumps({"magic": _MAGIC, "crc32": zlib.crc32(canonical.encode()), "state": self._state}, sort_keys=True)
        tmp = self.path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, doc.encode())
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
