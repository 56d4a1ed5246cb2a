"""Framing of byte strings, pure-Python twin of ``quorumlab.core._framing`` (same API, byte-identical output).

Two formats, both little-endian:

* a blob list (``pack_blobs``/``unpack_blobs``): u32 count, then for each blob
  u32 length + bytes. The client protocol carries a request's commands and a
  reply's results this way, one ZeroMQ frame for the lot (a frame per command
  costs about a microsecond each in pyzmq).
* log records (``frame_records``): each body framed as ``quorumlab.core.storage.RecordLog``
  stores it, u32 length, u32 crc32(body), u32 crc32(those 8 header bytes), body,
  concatenated for one write, with the byte offset of each record.

``crc32`` is zlib's CRC-32 (the compiled module computes it itself, so it
needs no zlib headers at build time).
"""
from __future__ import annotations

import operator
import struct
import zlib

from quorumlab.core.errors import CodecError

_U32 = struct.Struct("<I")
_LEN_CRC = struct.Struct("<II")
MAX_BLOBS = 1 << 24
"""Most blobs one list may declare; a larger count is refused before anything is allocated."""


def _as_bytes(b: object) -> bytes:
    if type(b) is bytes:
        return b
    if isinstance(b, (bytearray, memoryview)):
        return bytes(b)
    raise CodecError(f"a blob must be bytes, got {type(b).__name__}")


def crc32(data: bytes) -> int:
    """CRC-32 as zlib computes it."""
    return zlib.crc32(_as_bytes(data))


def pack_blobs(blobs: list[bytes]) -> bytes:
    """Count, then each blob with its length."""
    pack = _U32.pack
    parts = [pack(len(blobs))]
    for b in blobs:
        b = _as_bytes(b)
        parts += (pack(len(b)), b)
    return b"".join(parts)


def unpack_blobs(data: bytes) -> list[bytes]:
    """The blobs of ``pack_blobs``; CodecError when a length runs past the end or bytes are left over."""
    data = _as_bytes(data)
    end = len(data)
    if end < 4:
        raise CodecError(f"a blob list needs at least 4 bytes, got {end}")
    (count,) = _U32.unpack_from(data, 0)
    if count > MAX_BLOBS or count * 4 > end - 4:
        raise CodecError(f"a blob list of {end} bytes cannot hold {count} blobs")
    unpack = _U32.unpack_from
    out = []
    pos = 4
    for _ in range(count):
        if pos + 4 > end:
            raise CodecError(f"blob list cut short at byte {pos}")
        (n,) = unpack(data, pos)
        pos += 4
        if pos + n > end:
            raise CodecError(f"blob of {n} bytes at byte {pos} runs past the end ({end})")
        out.append(data[pos : pos + n])
        pos += n
    if pos != end:
        raise CodecError(f"{end - pos} bytes after the last blob")
    return out


def frame_records(bodies: list[bytes], offset: int) -> tuple[bytes, list[int]]:
    """The bytes of ``bodies`` framed as log records, and where each record starts when written at ``offset``."""
    offset = operator.index(offset)
    if not 0 <= offset < 1 << 63:
        if offset < 0:
            raise ValueError(f"a record offset cannot be negative, got {offset}")
        raise OverflowError(f"record offset {offset} is too large")
    parts = []
    offsets = []
    pack_len_crc, pack_crc = _LEN_CRC.pack, _U32.pack
    for body in bodies:
        body = _as_bytes(body)
        head = pack_len_crc(len(body), zlib.crc32(body))
        parts += (head, pack_crc(zlib.crc32(head)), body)
        offsets.append(offset)
        offset += 12 + len(body)
    return b"".join(parts), offsets
