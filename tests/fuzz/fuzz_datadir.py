"""Fuzz target: a node's data dir loader (quorumlab.core.storage.FileStorage and quorumlab.core.datadir) on files of any bytes.

The input is a blob list of up to four files: identity.json, state.bin, the raft log and the
state.json of data dirs made before state.bin (a missing or empty blob: the file is absent). Rules: opening the directory as node 1 of cluster 1
(raft) and then its log either succeeds or raises ``StorageError``, never another error;
when it succeeds, the state is a JSON object, the identity names this node (or nobody), and
the log holds at least as many records as its mark says were durable. A directory that
opened is reopened the same way (what a restart would find).
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile

from quorumlab.core.datadir import IDENTITY_FILE, Identity
from quorumlab.core.errors import StorageError
from quorumlab.core.framing import pack_blobs
from quorumlab.core.datadir import checksummed
from quorumlab.core.storage import LEGACY_STATE_FILE, STATE_FILE, FileStorage
from tests.fuzz.target import Target, split

_SCRATCH = tempfile.TemporaryDirectory(prefix="quorumlab-fuzz-datadir-")
DIR = os.path.join(_SCRATCH.name, "node")
LOG = "raft-log"
FILES = (IDENTITY_FILE, STATE_FILE, LOG, LEGACY_STATE_FILE)
ME = Identity(cluster_id=1, node_id=1, algo="raft")


def _open() -> None:
    storage = FileStorage(DIR, ME)
    try:
        assert isinstance(storage.read(), dict)
        assert storage.identity in (ME, Identity()) or storage.identity.node_id in (None, 1)
        log = storage.open_log(LOG)
        assert len(log) >= log.high_water_mark
    finally:
        storage.close()


def run(data: bytes) -> None:
    shutil.rmtree(DIR, ignore_errors=True)
    os.makedirs(DIR)
    for name, content in zip(FILES, split(data)):
        if content:
            with open(os.path.join(DIR, name), "wb") as fh:
                fh.write(content)
    try:
        _open()
    except StorageError:
        return
    _open()


@functools.cache
def _valid_dir(records: int) -> bytes:
    """The files of a real data dir with ``records`` log records, as a blob list (made once per run: a data dir's
    id is random, and hypothesis needs the same example for the same choices); no state.json."""
    shutil.rmtree(DIR, ignore_errors=True)
    storage = FileStorage(DIR, ME)
    storage.write({"term": 2, "voted_for": 1})
    log = storage.open_log(LOG)
    log.append([b"\x02" + bytes(7) + b"cmd-%d" % i for i in range(records)])
    storage.close()
    files = []
    for name in FILES:
        path = os.path.join(DIR, name)
        with open(path, "rb") if os.path.exists(path) else open(os.devnull, "rb") as fh:
            files.append(fh.read())
    return pack_blobs(files)


@functools.cache
def _legacy_dir() -> bytes:
    """A data dir from before state.bin: its state in state.json (converted when opened)."""
    from quorumlab.core.framing import unpack_blobs

    identity, _, log, _ = unpack_blobs(_valid_dir(2))
    dir_id = json.loads(identity)["state"]["dir_id"]
    legacy = checksummed("quorumlab-state-v2", {"dir": dir_id, "state": {"term": 2, "voted_for": 1}})
    return pack_blobs([identity, b"", log, legacy])


def seeds() -> list[bytes]:
    return [_valid_dir(0), _valid_dir(3), _legacy_dir(), pack_blobs([b"", b"", b""])]


def structured():
    from hypothesis import strategies as st

    from tests.fuzz.mutate import damaged

    valid = [_valid_dir(n) for n in (0, 2)] + [_legacy_dir()]
    return damaged(st.sampled_from(valid))


TARGET = Target(run, seeds, structured, max_len=20_000)  # state.bin alone is 12 KiB: 4 KiB-aligned slots
