"""Message codec, pure-Python twin of ``quorumlab.core._codec`` (same API, byte-identical output).

Wire format, little-endian, version 1:
  header  u8 version, u16 algo_id, u8 type_id, u32 cluster, u32 src, u32 dst, u64 term  (24 bytes)
  fields  in declaration order: u8/bool 1 byte, u32 4, u64/i64 8,
          bytes = u32 length + data, u64list = u32 count + 8*count,
          entries = u32 count + count * (u64 term, u64 index, u32 length, data)
Decoding checks every length against the bytes left and rejects trailing bytes.
"""
from __future__ import annotations

import struct

from quorumlab.core.errors import CodecError
from quorumlab.core.messages import BOOL, BYTES, ENTRIES, I64, PROTOCOL_VERSION, SCHEMAS, U8, U32, U64, U64LIST, Message

_HEADER = struct.Struct("<BHBIIIQ")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")
_ENTRY_HEAD = struct.Struct("<QQI")
HEADER_SIZE = _HEADER.size


def _as_bytes(v: object, what: str) -> bytes:
    """bytes as they are; bytearray and memoryview copied; anything else is not a bytes field."""
    if type(v) is bytes:
        return v
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    raise CodecError(f"{what} must be bytes, got {type(v).__name__}")


def encode(msg: Message) -> bytes:
    """Encode a message of a registered type to bytes. Values out of range raise CodecError."""
    if not isinstance(msg, Message):
        raise CodecError(f"cannot encode {type(msg).__name__}: not a Message")
    try:
        out = [_HEADER.pack(PROTOCOL_VERSION, msg.algo_id, msg.type_id, msg.cluster, msg.src, msg.dst, msg.term)]
        for name, code in zip(msg.fields, msg.kinds):
            v = getattr(msg, name)
            if code == U64:
                out.append(_U64.pack(v))
            elif code == BYTES:
                v = _as_bytes(v, name)
                out.append(_U32.pack(len(v)))
                out.append(v)
            elif code == BOOL:
                if v is not True and v is not False:
                    raise CodecError(f"{msg.name}.{name} must be a bool, got {v!r}")
                out.append(b"\x01" if v else b"\x00")
            elif code == U32:
                out.append(_U32.pack(v))
            elif code == I64:
                out.append(_I64.pack(v))
            elif code == U8:
                out.append(struct.pack("<B", v))
            elif code == U64LIST:
                if not isinstance(v, (list, tuple)):
                    raise CodecError(f"{msg.name}.{name} must be a list of u64, got {type(v).__name__}")
                out.append(_U32.pack(len(v)))
                out.append(struct.pack(f"<{len(v)}Q", *v))
            elif code == ENTRIES:
                if not isinstance(v, (list, tuple)):
                    raise CodecError(f"{msg.name}.{name} must be a list of (term, index, data), got {type(v).__name__}")
                out.append(_U32.pack(len(v)))
                for entry in v:
                    if not isinstance(entry, (list, tuple)) or len(entry) != 3:
                        raise CodecError(f"{msg.name}.{name}: an entry must be (term, index, data), got {entry!r}")
                    data = _as_bytes(entry[2], name)
                    out.append(_ENTRY_HEAD.pack(entry[0], entry[1], len(data)))
                    out.append(data)
            else:
                raise CodecError(f"{msg.name}.{name}: unknown wire kind {code!r}")
    except struct.error as exc:
        raise CodecError(f"{msg.name}: value out of range: {exc}") from None
    except (TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, CodecError):
            raise
        raise CodecError(f"{msg.name}: cannot encode: {exc}") from None
    return b"".join(out)


def decode(data: bytes) -> Message:
    """Decode bytes into a message. Anything malformed raises CodecError, nothing else."""
    try:
        view = memoryview(data).cast("B")
    except (TypeError, ValueError):
        raise CodecError(f"expected bytes, got {type(data).__name__}") from None
    n = len(view)
    if n < HEADER_SIZE:
        raise CodecError(f"frame of {n} bytes is shorter than the {HEADER_SIZE}-byte header")
    version, algo_id, type_id, cluster, src, dst, term = _HEADER.unpack_from(view, 0)
    if version != PROTOCOL_VERSION:
        raise CodecError(f"protocol version {version} is not {PROTOCOL_VERSION}")
    cls = SCHEMAS.get((algo_id << 8) | type_id)
    if cls is None:
        raise CodecError(f"unknown message type {algo_id}/{type_id}")
    pos = HEADER_SIZE
    values = []
    for code in cls.kinds:
        if code == U64 or code == I64:
            if pos + 8 > n:
                raise CodecError(f"{cls.name}: truncated at byte {pos}")
            values.append((_U64 if code == U64 else _I64).unpack_from(view, pos)[0])
            pos += 8
        elif code == BYTES:
            if pos + 4 > n:
                raise CodecError(f"{cls.name}: truncated at byte {pos}")
            length = _U32.unpack_from(view, pos)[0]
            pos += 4
            if pos + length > n:
                raise CodecError(f"{cls.name}: bytes field of {length} runs past the end")
            values.append(bytes(view[pos : pos + length]))
            pos += length
        elif code == BOOL or code == U8:
            if pos + 1 > n:
                raise CodecError(f"{cls.name}: truncated at byte {pos}")
            b = view[pos]
            pos += 1
            if code == BOOL:
                if b > 1:
                    raise CodecError(f"{cls.name}: bool byte {b} is not 0 or 1")
                values.append(b == 1)
            else:
                values.append(b)
        elif code == U32:
            if pos + 4 > n:
                raise CodecError(f"{cls.name}: truncated at byte {pos}")
            values.append(_U32.unpack_from(view, pos)[0])
            pos += 4
        elif code == U64LIST:
            if pos + 4 > n:
                raise CodecError(f"{cls.name}: truncated at byte {pos}")
            count = _U32.unpack_from(view, pos)[0]
            pos += 4
            if pos + 8 * count > n:
                raise CodecError(f"{cls.name}: list of {count} runs past the end")
            values.append(list(struct.unpack_from(f"<{count}Q", view, pos)))
            pos += 8 * count
        elif code == ENTRIES:
            if pos + 4 > n:
                raise CodecError(f"{cls.name}: truncated at byte {pos}")
            count = _U32.unpack_from(view, pos)[0]
            pos += 4
            if pos + 20 * count > n:
                raise CodecError(f"{cls.name}: {count} entries run past the end")
            entries = []
            for _ in range(count):
                if pos + 20 > n:
                    raise CodecError(f"{cls.name}: truncated entry at byte {pos}")
                eterm, eindex, length = _ENTRY_HEAD.unpack_from(view, pos)
                pos += 20
                if pos + length > n:
                    raise CodecError(f"{cls.name}: entry data of {length} runs past the end")
                entries.append((eterm, eindex, bytes(view[pos : pos + length])))
                pos += length
            values.append(entries)
    if pos != n:
        raise CodecError(f"{cls.name}: {n - pos} trailing bytes")
    return cls(cluster, src, dst, term, *values)
