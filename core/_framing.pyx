# cython: language_level=3
"""Framing of byte strings, compiled (twin: quorumlab.core.framing_py, whose docstring describes the formats)."""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint8_t, uint32_t
from libc.string cimport memcpy

from zlib import crc32 as _zlib_crc32

from quorumlab.core.errors import CodecError

MAX_BLOBS = 1 << 24
cdef Py_ssize_t _TABLE_UP_TO = 24  # bytes: up to this the table loop beats a call into zlib's crc32

cdef uint32_t _TABLE[256]


cdef void _init_table() noexcept:
    cdef uint32_t c, n, k
    for n in range(256):
        c = n
        for k in range(8):
            c = (0xEDB88320 ^ (c >> 1)) if (c & 1) else (c >> 1)
        _TABLE[n] = c


_init_table()


cdef inline uint32_t _crc(const uint8_t* p, Py_ssize_t n) noexcept:
    cdef uint32_t c = 0xFFFFFFFF
    cdef Py_ssize_t i
    for i in range(n):
        c = _TABLE[(c ^ p[i]) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


cdef inline void _put32(char* p, uint32_t v) noexcept:
    p[0] = <char>(v & 0xFF)
    p[1] = <char>((v >> 8) & 0xFF)
    p[2] = <char>((v >> 16) & 0xFF)
    p[3] = <char>((v >> 24) & 0xFF)


cdef inline uint32_t _get32(const uint8_t* p) noexcept:
    return p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16) | (<uint32_t>p[3] << 24)


cdef bytes _as_bytes(object b):
    if type(b) is bytes:
        return <bytes>b
    if isinstance(b, (bytearray, memoryview)):
        return bytes(b)
    raise CodecError(f"a blob must be bytes, got {type(b).__name__}")


def crc32(data) -> int:
    """CRC-32 as zlib computes it."""
    cdef bytes b = _as_bytes(data)
    return _crc(<const uint8_t*>PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b))


def pack_blobs(blobs) -> bytes:
    """Count, then each blob with its length."""
    cdef list items = [_as_bytes(x) for x in blobs]
    cdef Py_ssize_t n = len(items), total = 4, size
    cdef bytes b
    for b in items:
        total += 4 + PyBytes_GET_SIZE(b)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, total)
    cdef char* p = PyBytes_AS_STRING(out)
    _put32(p, <uint32_t>n)
    p += 4
    for b in items:
        size = PyBytes_GET_SIZE(b)
        _put32(p, <uint32_t>size)
        memcpy(p + 4, PyBytes_AS_STRING(b), size)
        p += 4 + size
    return out


def unpack_blobs(data) -> list:
    """The blobs of ``pack_blobs``; CodecError when a length runs past the end or bytes are left over."""
    cdef bytes b = _as_bytes(data)
    cdef const uint8_t* p = <const uint8_t*>PyBytes_AS_STRING(b)
    cdef Py_ssize_t end = PyBytes_GET_SIZE(b), pos = 4, i
    cdef uint32_t count, n
    if end < 4:
        raise CodecError(f"a blob list needs at least 4 bytes, got {end}")
    count = _get32(p)
    if count > MAX_BLOBS or <Py_ssize_t>count * 4 > end - 4:
        raise CodecError(f"a blob list of {end} bytes cannot hold {count} blobs")
    cdef list out = []
    for i in range(count):
        if pos + 4 > end:
            raise CodecError(f"blob list cut short at byte {pos}")
        n = _get32(p + pos)
        pos += 4
        if pos + <Py_ssize_t>n > end:
            raise CodecError(f"blob of {n} bytes at byte {pos} runs past the end ({end})")
        out.append(PyBytes_FromStringAndSize(<const char*>(p + pos), n))
        pos += n
    if pos != end:
        raise CodecError(f"{end - pos} bytes after the last blob")
    return out


def frame_records(bodies, Py_ssize_t offset):
    """The bytes of ``bodies`` framed as log records, and where each record starts when written at ``offset``."""
    if offset < 0:
        raise ValueError(f"a record offset cannot be negative, got {offset}")
    cdef Py_ssize_t total = 0, size
    cdef list items = [_as_bytes(x) for x in bodies]
    cdef bytes b
    for b in items:
        total += 12 + PyBytes_GET_SIZE(b)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, total)
    cdef char* p = PyBytes_AS_STRING(out)
    cdef list offsets = []
    for b in items:
        size = PyBytes_GET_SIZE(b)
        _put32(p, <uint32_t>size)
        if size <= _TABLE_UP_TO:
            _put32(p + 4, _crc(<const uint8_t*>PyBytes_AS_STRING(b), size))
        else:
            _put32(p + 4, <uint32_t>_zlib_crc32(b))
        _put32(p + 8, _crc(<const uint8_t*>p, 8))
        memcpy(p + 12, PyBytes_AS_STRING(b), size)
        offsets.append(offset)
        offset += 12 + size
        p += 12 + size
    return out, offsets
