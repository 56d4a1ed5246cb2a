"""Snapshot images and where they are kept: a state machine's whole state at one log position, checksummed.

A snapshot is one *image*, the same bytes on disk, in the simulator's memory and
on the wire (InstallSnapshot carries the image in chunks, so the receiver checks
exactly what the sender wrote)::

    magic      8 bytes   b"QLSNAP1\\n"
    head      32 bytes   last included index, its term, body size, CRC-32 of the body, meta length (u64 u64 u64 u32 u32)
    head crc   4 bytes   CRC-32 of head + meta
    meta                 JSON: what the algorithm records beside the state (Raft: the voters at that index)
    body                 the state machine's ``write_snapshot`` output

``FileSnapshots`` keeps the images of one data dir as ``snapshot-<index>.snap``,
each written durably (temp file, fsync, rename, fsync of the directory) and
checked in full when the directory is opened: a damaged one is listed in
``damaged`` (file and reason) and never offered; the algorithm decides whether an
older one will do or the node must stop. ``MemorySnapshots`` is the simulator's:
what was saved survives a simulated crash, a transfer being received does not.
The newest ``KEEP`` images are kept, older ones deleted once a newer one is saved.
"""
from __future__ import annotations

import io
import json
import os
import re
import stat
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable

from quorumlab.core.datadir import fsync_dir
from quorumlab.core.errors import StorageError

MAGIC = b"QLSNAP1\n"
_HEAD = struct.Struct("<QQQII")  # index, term, body size, body crc32, meta length
_CRC = struct.Struct("<I")
PREFIX_SIZE = len(MAGIC) + _HEAD.size + _CRC.size
MAX_META_BYTES = 1 << 20
KEEP = 2
"""Images kept: the newest, and the one before it to fall back on while the log still covers the gap."""
_PIECE = 1 << 20
_NAME = re.compile(r"^snapshot-(\d{20})\.snap$")


class SnapshotDamaged(StorageError):
    """An image that fails its checks (the message names the file or the transfer)."""


@dataclass(frozen=True)
class SnapshotInfo:
    """One checked image: the log position it stands for, its size in bytes (the whole image), its meta, its name."""

    index: int
    term: int
    size: int
    meta: dict = field(default_factory=dict, compare=False)
    name: str = field(default="", compare=False)


def image_prefix(index: int, term: int, body_size: int, body_crc: int, meta: dict) -> bytes:
    """Everything of an image before its body."""
    raw_meta = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
    head = _HEAD.pack(index, term, body_size, body_crc, len(raw_meta))
    return MAGIC + head + _CRC.pack(zlib.crc32(head + raw_meta)) + raw_meta


def check_image(stream: BinaryIO, size: int, name: str) -> tuple[SnapshotInfo, int]:
    """Check a whole image read from ``stream`` (``size`` bytes long); returns its info and where its body starts.

    Raises SnapshotDamaged naming ``name`` for a bad magic, a head or body checksum mismatch, or a size that
    disagrees with the head (an image cut short or with bytes after it)."""
    prefix = stream.read(len(MAGIC) + _HEAD.size + _CRC.size)
    if len(prefix) < PREFIX_SIZE or prefix[: len(MAGIC)] != MAGIC:
        raise SnapshotDamaged(f"{name}: not a quorumlab snapshot (bad magic or cut inside its header)")
    head = prefix[len(MAGIC) : len(MAGIC) + _HEAD.size]
    index, term, body_size, body_crc, meta_len = _HEAD.unpack(head)
    (head_crc,) = _CRC.unpack_from(prefix, len(MAGIC) + _HEAD.size)
    if meta_len > MAX_META_BYTES:
        raise SnapshotDamaged(f"{name}: damaged snapshot header (meta of {meta_len} bytes)")
    raw_meta = stream.read(meta_len)
    if zlib.crc32(head + raw_meta) != head_crc:
        raise SnapshotDamaged(f"{name}: snapshot header checksum mismatch")
    start = PREFIX_SIZE + meta_len
    if start + body_size != size:
        raise SnapshotDamaged(f"{name}: the snapshot is {size} bytes but its header says {start + body_size}")
    crc, left = 0, body_size
    while left:
        piece = stream.read(min(left, _PIECE))
        if not piece:
            raise SnapshotDamaged(f"{name}: the snapshot is cut short")
        crc = zlib.crc32(piece, crc)
        left -= len(piece)
    if crc != body_crc:
        raise SnapshotDamaged(f"{name}: snapshot body checksum mismatch (the state it holds is damaged)")
    try:
        meta = json.loads(raw_meta)
    except ValueError:
        raise SnapshotDamaged(f"{name}: the snapshot's meta is not JSON") from None
    return SnapshotInfo(index, term, size, meta if isinstance(meta, dict) else {}, name), start


class _Summing(io.RawIOBase):
    """A write-only stream that passes bytes on and keeps their count and CRC-32 (the body as it is written)."""

    def __init__(self, write: Callable[[bytes], Any]) -> None:
        self._write = write
        self.size = 0
        self.crc = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        data = bytes(data)
        self._write(data)
        self.size += len(data)
        self.crc = zlib.crc32(data, self.crc)
        return len(data)


class _Incoming:
    """An image being received chunk by chunk (InstallSnapshot): where it is going and how far it got."""

    __slots__ = ("index", "term", "size", "received", "sink")

    def __init__(self, index: int, term: int, size: int, sink: Any) -> None:
        self.index, self.term, self.size, self.received, self.sink = index, term, size, 0, sink


class _Snapshots:
    """What both stores share: the incoming transfer's bookkeeping and the public API."""

    def __init__(self) -> None:
        self.damaged: list[tuple[str, str]] = []
        self._incoming: _Incoming | None = None

    # -- what a subclass provides -------------------------------------------------------

    def _infos(self) -> list[SnapshotInfo]:  # newest first, checked
        raise NotImplementedError

    def _open(self, info: SnapshotInfo) -> BinaryIO:
        raise NotImplementedError

    # -- reading --------------------------------------------------------------------------

    def writing(self) -> int | None:
        """The index of an image being written in the background, None when none is (it was kept, or failed)."""
        return None

    def usable(self) -> list[SnapshotInfo]:
        """Every checked image, newest first (damaged ones are in ``damaged`` instead)."""
        return list(self._infos())

    def latest(self) -> SnapshotInfo | None:
        infos = self._infos()
        return infos[0] if infos else None

    def find(self, index: int) -> SnapshotInfo | None:
        return next((i for i in self._infos() if i.index == index), None)

    def read_image(self, info: SnapshotInfo, offset: int, n: int) -> bytes:
        """Up to ``n`` bytes of the image from ``offset`` (what one InstallSnapshot chunk carries)."""
        with self._open(info) as fh:
            fh.seek(offset)
            return fh.read(n)

    def body(self, info: SnapshotInfo) -> BinaryIO:
        """A stream positioned at the image's body (the state machine's ``restore`` reads it to the end)."""
        fh = self._open(info)
        prefix = fh.read(PREFIX_SIZE)
        meta_len = _HEAD.unpack_from(prefix, len(MAGIC))[4]
        fh.seek(PREFIX_SIZE + meta_len)
        return fh

    # -- receiving (InstallSnapshot) ------------------------------------------------------

    def receiving(self) -> tuple[int, int, int] | None:
        """(index, term, bytes received) of the transfer in progress, or None."""
        inc = self._incoming
        return None if inc is None else (inc.index, inc.term, inc.received)

    def receive(self, index: int, term: int, size: int, offset: int, data: bytes) -> int:
        """Take one chunk of the image of (index, term), ``size`` bytes in all, at ``offset``; returns how many bytes
        of it are held now (the offset the sender should go on from). A chunk at offset 0 starts the transfer
        anew; one for another image or at any other offset than the next expected is not taken."""
        inc = self._incoming
        if offset == 0:
            self.abandon()
            inc = self._incoming = _Incoming(index, term, size, self._new_sink())
        elif inc is None or (inc.index, inc.term, inc.size) != (index, term, size) or offset != inc.received:
            return 0 if inc is None or (inc.index, inc.term) != (index, term) else inc.received
        if inc.received + len(data) > size:
            self.abandon()
            return 0
        self._sink_write(inc.sink, data)
        inc.received += len(data)
        return inc.received

    def complete(self) -> SnapshotInfo:
        """The transfer is whole: check it, make it durable under its name, and return its info. SnapshotDamaged
        (and the transfer dropped) when it fails a check or is not the image announced."""
        inc = self._incoming
        if inc is None or inc.received != inc.size:
            raise SnapshotDamaged("incoming snapshot: not whole yet")
        self._incoming = None
        try:
            info = self._finish(inc)
        except SnapshotDamaged:
            self._drop_sink(inc.sink)
            raise
        if (info.index, info.term) != (inc.index, inc.term):
            self._remove(info)
            raise SnapshotDamaged(f"{info.name}: the image holds index {info.index} term {info.term}, "
                                  f"not the announced {inc.index} term {inc.term}")
        self._prune()
        return info

    def abandon(self) -> None:
        """Forget the transfer in progress, if any."""
        if self._incoming is not None:
            self._drop_sink(self._incoming.sink)
            self._incoming = None

    # -- internals a subclass provides ------------------------------------------------------

    def _new_sink(self) -> Any:
        raise NotImplementedError

    def _sink_write(self, sink: Any, data: bytes) -> None:
        raise NotImplementedError

    def _drop_sink(self, sink: Any) -> None:
        raise NotImplementedError

    def _finish(self, inc: _Incoming) -> SnapshotInfo:
        raise NotImplementedError

    def _remove(self, info: SnapshotInfo) -> None:
        raise NotImplementedError

    def _prune(self) -> None:
        for old in self._infos()[KEEP:]:
            self._remove(old)


class MemorySnapshots(_Snapshots):
    """The simulator's snapshot store: saved images survive ``crash()``; a transfer being received does not."""

    def __init__(self) -> None:
        super().__init__()
        self._images: dict[int, bytes] = {}

    def save(self, index: int, term: int, meta: dict, write: Callable[[BinaryIO], None]) -> SnapshotInfo:
        """Write an image of (index, term) whose body ``write`` produces; kept at once (durable in the model)."""
        buf = io.BytesIO()
        summing = _Summing(buf.write)
        write(summing)  # type: ignore[arg-type]
        image = image_prefix(index, term, summing.size, summing.crc, meta) + buf.getvalue()
        self._images[index] = image
        self._prune()
        return self._info(index)

    def crash(self) -> None:
        self._incoming = None

    def damage(self, index: int, at: int = -1) -> None:
        """Flip one byte of the image at ``index`` (tests of damaged snapshots)."""
        image = bytearray(self._images[index])
        image[at] ^= 0xFF
        self._images[index] = bytes(image)

    def where(self, index: int) -> str:
        """Where the image of ``index`` is kept (for errors that name it)."""
        return f"memory:snapshot-{index}"

    def _info(self, index: int) -> SnapshotInfo:
        image = self._images[index]
        return check_image(io.BytesIO(image), len(image), f"memory:snapshot-{index}")[0]

    def _infos(self) -> list[SnapshotInfo]:
        self.damaged = []
        out = []
        for index in sorted(self._images, reverse=True):
            try:
                out.append(self._info(index))
            except SnapshotDamaged as exc:
                self.damaged.append((f"memory:snapshot-{index}", str(exc)))
        return out

    def _open(self, info: SnapshotInfo) -> BinaryIO:
        return io.BytesIO(self._images[info.index])

    def _new_sink(self) -> bytearray:
        return bytearray()

    def _sink_write(self, sink: bytearray, data: bytes) -> None:
        sink += data

    def _drop_sink(self, sink: bytearray) -> None:
        sink.clear()

    def _finish(self, inc: _Incoming) -> SnapshotInfo:
        image = bytes(inc.sink)
        info = check_image(io.BytesIO(image), len(image), "incoming snapshot")[0]
        self._images[info.index] = image
        return self._info(info.index)

    def _remove(self, info: SnapshotInfo) -> None:
        self._images.pop(info.index, None)


class FileSnapshots(_Snapshots):
    """A data dir's snapshot files, ``snapshot-<index, 20 digits>.snap``, each checked in full when first listed.

    Leftover temp files (a crash while one was written or received) are removed when the store opens.
    ``save_in_background`` writes an image from a forked child (the ZeroMQ runtime's way: the node
    goes on serving while the child writes from copy-on-write memory); ``writing`` says whether it
    is still at it, and takes the image in once the child has made it durable.
    """

    INCOMING = "snapshot-incoming.tmp"

    def __init__(self, data_dir: str) -> None:
        super().__init__()
        self.dir = data_dir
        self._checked: dict[str, SnapshotInfo] = {}
        self._child: tuple[int, int] | None = None  # (pid, index) of the child writing an image
        self.failures: list[str] = []  # images a child failed to write, why
        for name in os.listdir(data_dir):
            if name.startswith("snapshot-") and name.endswith(".tmp"):
                os.unlink(os.path.join(data_dir, name))
        self._scan()

    def _path(self, index: int) -> str:
        return os.path.join(self.dir, f"snapshot-{index:020d}.snap")

    def where(self, index: int) -> str:
        """Where the image of ``index`` is kept (for errors that name it)."""
        return self._path(index)

    def _scan(self) -> None:
        """Check every snapshot file not checked yet; the damaged ones go to ``damaged``."""
        damaged = []
        names = sorted((n for n in os.listdir(self.dir) if _NAME.match(n)), reverse=True)
        self._checked = {n: i for n, i in self._checked.items() if n in names}
        for name in names:
            if name in self._checked:
                continue
            path = os.path.join(self.dir, name)
            try:
                with open(path, "rb") as fh:
                    info, _ = check_image(fh, os.fstat(fh.fileno()).st_size, path)
            except SnapshotDamaged as exc:
                damaged.append((path, str(exc)))
                continue
            except OSError as exc:
                damaged.append((path, f"{path}: cannot read: {exc}"))
                continue
            if info.index != int(_NAME.match(name).group(1)):
                damaged.append((path, f"{path}: holds index {info.index}, not the one its name says"))
                continue
            self._checked[name] = info
        self.damaged = damaged

    def _infos(self) -> list[SnapshotInfo]:
        if self._child is not None:
            self.writing()
        return [self._checked[n] for n in sorted(self._checked, reverse=True)]

    def save(self, index: int, term: int, meta: dict, write: Callable[[BinaryIO], None]) -> SnapshotInfo:
        """Write an image of (index, term) whose body ``write`` streams; durable (temp file, fsync, rename, fsync
        of the directory) when this returns."""
        return self._keep(self._write_file(index, term, meta, write))

    def save_in_background(self, index: int, term: int, meta: dict, write: Callable[[BinaryIO], None]) -> None:
        """``save`` in a forked child, returning at once: the child streams ``write``'s output from its copy of the
        memory as it was at the fork (copy-on-write), makes the image durable and exits; ``writing`` takes it in.
        The child touches nothing but the new file (no other file, no cleanup: ``os._exit``), and first closes its
        copies of the node's sockets: a child that outlives a SIGKILLed node then holds none of its ports, and the
        node can start again at once (closing a copy sends nothing; the node's own sockets stay open)."""
        if self.writing() is not None:
            raise StorageError(f"{self.dir}: a snapshot is already being written")
        pid = os.fork()
        if pid == 0:  # the child
            code = 1
            try:
                _close_sockets()
                self._write_file(index, term, meta, write)
                code = 0
            except BaseException as exc:  # noqa: BLE001 - reported through the exit code and stderr
                try:
                    os.write(2, f"snapshot {index}: writing failed: {exc!r}\n".encode())
                except OSError:
                    pass
            finally:
                os._exit(code)
        self._child = (pid, index)

    def writing(self) -> int | None:
        """The index of the image a child is writing, or None: a child that finished is reaped, and its image
        kept (read from its header: the child checked the whole image before renaming it) or its failure listed
        in ``failures``."""
        if self._child is None:
            return None
        pid, index = self._child
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == 0:
            return index
        self._child = None
        code = os.waitstatus_to_exitcode(status)
        path = self._path(index)
        if code == 0 and os.path.exists(path):
            with open(path, "rb") as fh:
                prefix = fh.read(PREFIX_SIZE)
                index_, term, body_size, _, meta_len = _HEAD.unpack_from(prefix, len(MAGIC))
                meta = json.loads(fh.read(meta_len))
            self._keep(SnapshotInfo(index_, term, PREFIX_SIZE + meta_len + body_size, meta, path))
        else:
            self.failures.append(f"{path}: the child writing it exited with code {code}")
        return None

    def _write_file(self, index: int, term: int, meta: dict, write: Callable[[BinaryIO], None]) -> SnapshotInfo:
        """Write, fsync, check, rename and make the rename durable; no bookkeeping (a child runs this too)."""
        path = self._path(index)
        tmp = path + ".tmp"
        with open(tmp, "wb") as fh:
            placeholder = image_prefix(index, term, 0, 0, meta)
            fh.write(placeholder)
            summing = _Summing(fh.write)
            write(summing)  # type: ignore[arg-type]
            fh.seek(0)
            fh.write(image_prefix(index, term, summing.size, summing.crc, meta))
            fh.flush()
            os.fsync(fh.fileno())
        return self._check_and_rename(tmp, path)

    def _check_and_rename(self, tmp: str, path: str) -> SnapshotInfo:
        """Check the image at ``tmp``, rename it to ``path`` and make the rename durable."""
        with open(tmp, "rb") as fh:
            info, _ = check_image(fh, os.fstat(fh.fileno()).st_size, path)
        os.replace(tmp, path)
        fsync_dir(self.dir)
        return info

    def _keep(self, info: SnapshotInfo) -> SnapshotInfo:
        self._checked[os.path.basename(info.name)] = info
        self._prune()
        return info

    def _open(self, info: SnapshotInfo) -> BinaryIO:
        return open(info.name, "rb")

    def _new_sink(self) -> BinaryIO:
        return open(os.path.join(self.dir, self.INCOMING), "wb")

    def _sink_write(self, sink: BinaryIO, data: bytes) -> None:
        sink.write(data)

    def _drop_sink(self, sink: BinaryIO) -> None:
        sink.close()
        try:
            os.unlink(sink.name)
        except FileNotFoundError:
            pass

    def _finish(self, inc: _Incoming) -> SnapshotInfo:
        sink = inc.sink
        sink.flush()
        os.fsync(sink.fileno())
        sink.close()
        with open(sink.name, "rb") as fh:
            info, _ = check_image(fh, os.fstat(fh.fileno()).st_size, "incoming snapshot")
        return self._keep(self._check_and_rename(sink.name, self._path(info.index)))

    def _remove(self, info: SnapshotInfo) -> None:
        self._checked.pop(os.path.basename(info.name), None)
        try:
            os.unlink(info.name)
        except FileNotFoundError:
            pass

    def close(self) -> None:
        """Drop a transfer in progress; wait for a child still writing an image (its work is durable state)."""
        self.abandon()
        if self._child is not None:
            os.waitpid(self._child[0], 0)
            self._child = None


def _close_sockets() -> None:
    """In a forked child: close every socket descriptor it inherited (where /proc/self/fd lists them)."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return
    for name in names:
        try:
            fd = int(name)
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.close(fd)
        except (OSError, ValueError):
            pass  # the listing's own descriptor, gone by now


def take_snapshot(storage: Any, machine: Any, index: int, term: int, meta: dict,
                  background: bool = False) -> SnapshotInfo | None:
    """What every runtime does for a TakeSnapshot effect: save ``machine``'s image, which must stand at ``index``
    (``background``: from a forked child, returning None at once; the store's ``writing`` follows it)."""
    if machine is None:
        raise StorageError(f"a snapshot at index {index} was asked for, but there is no state machine to write")
    if machine.applied_index != index:
        raise StorageError(f"a snapshot at index {index} was asked for, but the state machine has applied "
                           f"{machine.applied_index}")
    if background:
        storage.snapshots.save_in_background(index, term, meta, machine.write_snapshot)
        return None
    return storage.snapshots.save(index, term, meta, machine.write_snapshot)


def restore_snapshot(storage: Any, factory: Callable[[], Any], index: int) -> Any:
    """What every runtime does for a RestoreSnapshot effect: a new state machine read from the image of ``index``."""
    info = storage.snapshots.find(index)
    if info is None:
        raise StorageError(f"the snapshot of index {index} is not in the snapshot store; cannot restore from it")
    machine = factory()
    with storage.snapshots.body(info) as fh:
        try:
            machine.restore(fh)
        except ValueError as exc:
            raise SnapshotDamaged(f"{info.name}: the state machine refused the image: {exc}") from None
    if machine.applied_index != index:
        raise SnapshotDamaged(f"{info.name}: the image stands at index {machine.applied_index}, not {index}")
    return machine
