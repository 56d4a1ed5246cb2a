"""Whose a data dir is: ``identity.json`` names the cluster, node and algorithm it was made for.

A node's data dir holds state its safety depends on (term, vote, log). Started
on the wrong directory - another cluster's, another node's, another
algorithm's - a node would bring that history into a cluster that never agreed
to it; started on a directory whose files were partly deleted, it would forget
a vote or acknowledged entries. So the directory says what it is:

* ``identity.json`` is written once, when the directory is created: cluster id,
  node id, algorithm, a random ``dir_id``, and the names of the record logs
  made in it since. It is checksummed and replaced atomically.
* A node refuses a directory whose identity names another cluster, node or
  algorithm, with an error that names both.
* Once the identity exists, the state file (``state.bin``, quorumlab.core.statefile) must exist, and so must
  every log
  it lists; each log's header carries the same ``dir_id`` (quorumlab.core.storage.RecordLog),
  so a file copied in from another directory is refused too.
* Durable files without an identity (from an older quorumlab, or with
  identity.json deleted) are refused rather than adopted.

Snapshot files (quorumlab.core.snapshots) are not listed: each is checked in full by its own
checksums when the directory is opened, and the one image a node cannot start
without is named by its log's base record (index and term), so a missing or
damaged one already stops the node. A list would cost an identity rewrite per
snapshot, and a crash between an image's rename and that rewrite leaves an
unlisted image that must be adopted anyway (docs/raft.md, "Snapshots").

``Identity`` with ``cluster_id``/``node_id``/``algo`` of None (tests, tools)
checks only the structure, not whose the directory is.
"""
from __future__ import annotations

import json
import os
import secrets
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from quorumlab.core.errors import StorageError

IDENTITY_FILE = "identity.json"
_MAGIC = "quorumlab-identity-v1"


@dataclass(frozen=True)
class Identity:
    """What a data dir belongs to: None leaves that part unchecked (and unrecorded)."""

    cluster_id: int | None = None
    node_id: int | None = None
    algo: str | None = None

    def describe(self) -> str:
        parts = []
        if self.cluster_id is not None:
            parts.append(f"cluster {self.cluster_id}")
        if self.node_id is not None:
            parts.append(f"node {self.node_id}")
        if self.algo is not None:
            parts.append(f"algorithm {self.algo}")
        return ", ".join(parts) or "an unnamed node"


@dataclass
class DirIdentity:
    """The identity record as stored: who the directory is for, its random id, the logs made in it."""

    identity: Identity
    dir_id: bytes
    logs: list[str] = field(default_factory=list)
    created: float = 0.0


def fsync_dir(path: str) -> None:
    """Make a directory's entries (a rename, a new file) durable."""
    dfd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def write_synced(path: str, data: bytes) -> None:
    """Create (or truncate) ``path``, write all of ``data`` and fsync it; not yet durable under its name until
    the directory is fsynced (``write_atomically`` does both, for a temp file renamed over the target)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: str, data: bytes) -> None:
    """Replace ``path`` with ``data``: temp file, fsync, rename, fsync of the directory."""
    tmp = path + ".tmp"
    write_synced(tmp, data)
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(os.path.abspath(path)))


def checksummed(magic: str, body: Any) -> bytes:
    """``body`` wrapped with its magic and the CRC-32 of its canonical JSON (identity.json, and the state.json of
    data dirs made before state.bin)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return json.dumps({"magic": magic, "crc32": zlib.crc32(canonical.encode()), "state": body}, sort_keys=True).encode()


def read_checksummed(path: str, magic: str, what: str) -> Any:
    """The body of a file written by ``checksummed``; StorageError naming the file when it is damaged."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise StorageError(f"{path}: cannot read: {exc}") from None
    try:
        doc = json.loads(raw)
        body, stored, found = doc["state"], doc["crc32"], doc["magic"]
    except (ValueError, KeyError, TypeError):
        raise StorageError(
            f"{path}: damaged {what} (not a quorumlab record); refusing to start. "
            "Restore it, or remove the data dir on purpose."
        ) from None
    if found != magic:
        raise StorageError(f"{path}: unknown format {found!r} (expected {magic!r})")
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    if zlib.crc32(canonical) != stored:
        raise StorageError(f"{path}: checksum mismatch; the {what} is damaged. Refusing to start.")
    return body


def load_identity(data_dir: str) -> DirIdentity | None:
    """The directory's identity record, None when it has none; StorageError when it is damaged."""
    path = os.path.join(data_dir, IDENTITY_FILE)
    if not os.path.exists(path):
        return None
    body = read_checksummed(path, _MAGIC, "identity file")
    try:
        ident = Identity(body["cluster_id"], body["node_id"], body["algo"])
        dir_id = bytes.fromhex(body["dir_id"])
        logs = [str(name) for name in body["logs"]]
        created = float(body.get("created", 0.0))
    except (KeyError, TypeError, ValueError):
        raise StorageError(f"{path}: identity record lacks a field; refusing to start") from None
    if len(dir_id) != 8:
        raise StorageError(f"{path}: dir_id must be 8 bytes, found {len(dir_id)}")
    return DirIdentity(ident, dir_id, logs, created)


def save_identity(data_dir: str, record: DirIdentity) -> None:
    """Write the identity record atomically."""
    i = record.identity
    body = {
        "cluster_id": i.cluster_id,
        "node_id": i.node_id,
        "algo": i.algo,
        "dir_id": record.dir_id.hex(),
        "logs": sorted(record.logs),
        "created": record.created,
    }
    write_atomically(os.path.join(data_dir, IDENTITY_FILE), checksummed(_MAGIC, body))


def check_owner(data_dir: str, found: Identity, wanted: Identity) -> None:
    """StorageError naming both when the directory was made for another cluster, node or algorithm."""
    mismatched = [
        name for name in ("cluster_id", "node_id", "algo")
        if getattr(wanted, name) is not None and getattr(found, name) is not None
        and getattr(wanted, name) != getattr(found, name)
    ]
    if mismatched:
        raise StorageError(
            f"{data_dir}: this data dir belongs to {found.describe()}; refusing to start {wanted.describe()} on it "
            f"({', '.join(mismatched)} differ). Point --data-dir at this node's own directory, or at a new one."
        )


def new_identity(identity: Identity) -> DirIdentity:
    """A fresh identity record with a random directory id."""
    return DirIdentity(identity, secrets.token_bytes(8), [], time.time())
