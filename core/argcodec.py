"""The declared format of replicated calls' arguments and results: a small tagged binary encoding.

Only these types travel, each by its exact type (a subclass such as an IntEnum
is refused, not silently narrowed): ``None``, ``bool``, ``int`` (|n| < 2**128),
``float``, ``str``, ``bytes``, ``list`` and ``tuple`` (both decode as list), and
``dict`` with ``str`` or ``int`` keys. Nothing is ever executed or imported while
decoding, unlike pickle: a log entry is data written by whoever could propose
(any client with the ``client`` role), so decoding treats it as untrusted input.
A malformed, truncated, too deep or trailing-garbage input raises CodecError and
nothing else; lengths are checked against the bytes that remain before anything
is allocated.

Layout: one tag byte per value, then ``None``/``False``/``True`` nothing; an int
its magnitude as an unsigned LEB128 varint (negative ints a separate tag and
``-n - 1``); a float 8 bytes, IEEE 754 big-endian; str and bytes a varint length
and the bytes (str as UTF-8); list a varint count and the items; dict a varint
count and key, value pairs (a repeated key is refused).
"""
from __future__ import annotations

import struct
from typing import Any

from quorumlab.core.errors import CodecError

NONE, FALSE, TRUE, INT, NEG_INT, FLOAT, STR, BYTES, LIST, DICT = range(10)
MAX_DEPTH = 32
"""Lists and dicts nest at most this deep (decoding is recursive)."""
INT_LIMIT = 1 << 128
"""Ints travel when -INT_LIMIT < n < INT_LIMIT."""
MAX_VARINT_BYTES = 19  # ceil(128 / 7)
_FLOAT = struct.Struct(">d")


def encode(value: Any) -> bytes:
    """``value`` in the declared format; TypeError naming the first value of an undeclared type."""
    out = bytearray()
    _encode(value, out, 0)
    return bytes(out)


def _varint(n: int, out: bytearray) -> None:
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _encode(value: Any, out: bytearray, depth: int) -> None:
    t = type(value)
    if value is None:
        out.append(NONE)
    elif t is bool:
        out.append(TRUE if value else FALSE)
    elif t is int:
        if not -INT_LIMIT < value < INT_LIMIT:
            raise TypeError(f"int {value} is out of the declared range (|n| < 2**128)")
        if value >= 0:
            out.append(INT)
            _varint(value, out)
        else:
            out.append(NEG_INT)
            _varint(-value - 1, out)
    elif t is float:
        out.append(FLOAT)
        out += _FLOAT.pack(value)
    elif t is str:
        data = value.encode("utf-8", "surrogatepass")
        out.append(STR)
        _varint(len(data), out)
        out += data
    elif t is bytes or t is bytearray or t is memoryview:
        data = bytes(value)
        out.append(BYTES)
        _varint(len(data), out)
        out += data
    elif t is list or t is tuple:
        if depth >= MAX_DEPTH:
            raise TypeError(f"nested deeper than {MAX_DEPTH} levels")
        out.append(LIST)
        _varint(len(value), out)
        for item in value:
            _encode(item, out, depth + 1)
    elif t is dict:
        if depth >= MAX_DEPTH:
            raise TypeError(f"nested deeper than {MAX_DEPTH} levels")
        out.append(DICT)
        _varint(len(value), out)
        for key, item in value.items():
            if type(key) is not str and type(key) is not int:
                raise TypeError(f"dict keys must be str or int, not {type(key).__name__}")
            _encode(key, out, depth + 1)
            _encode(item, out, depth + 1)
    else:
        raise TypeError(f"{t.__name__} is not a declared type (None, bool, int, float, str, bytes, list, tuple, "
                        "dict with str or int keys)")


def decode(data: bytes) -> Any:
    """The value ``data`` encodes; CodecError when it is not exactly one well-formed value."""
    data = bytes(data)
    value, pos = _decode(data, 0, 0)
    if pos != len(data):
        raise CodecError(f"{len(data) - pos} bytes after the value")
    return value


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    for k in range(MAX_VARINT_BYTES):
        if pos >= len(data):
            raise CodecError("truncated varint")
        byte = data[pos]
        pos += 1
        n |= (byte & 0x7F) << shift
        if byte < 0x80:
            if k and byte == 0:
                raise CodecError("varint with a redundant zero byte")
            return n, pos
        shift += 7
    raise CodecError(f"varint longer than {MAX_VARINT_BYTES} bytes")


def _length(data: bytes, pos: int, per_item: int) -> tuple[int, int]:
    n, pos = _read_varint(data, pos)
    if n * per_item > len(data) - pos:
        raise CodecError(f"a length of {n} at byte {pos} is more than the {len(data) - pos} bytes left")
    return n, pos


def _decode(data: bytes, pos: int, depth: int) -> tuple[Any, int]:
    if pos >= len(data):
        raise CodecError("truncated value")
    tag = data[pos]
    pos += 1
    if tag == NONE:
        return None, pos
    if tag == FALSE:
        return False, pos
    if tag == TRUE:
        return True, pos
    if tag == INT or tag == NEG_INT:
        n, pos = _read_varint(data, pos)
        if n >= INT_LIMIT:
            raise CodecError("int out of the declared range")
        return (n if tag == INT else -n - 1), pos
    if tag == FLOAT:
        if pos + 8 > len(data):
            raise CodecError("truncated float")
        return _FLOAT.unpack_from(data, pos)[0], pos + 8
    if tag == STR or tag == BYTES:
        n, pos = _length(data, pos, 1)
        raw = data[pos:pos + n]
        if tag == BYTES:
            return raw, pos + n
        try:
            return raw.decode("utf-8", "surrogatepass"), pos + n
        except UnicodeDecodeError as exc:
            raise CodecError(f"a str that is not UTF-8: {exc}") from None
    if tag == LIST or tag == DICT:
        if depth >= MAX_DEPTH:
            raise CodecError(f"nested deeper than {MAX_DEPTH} levels")
        if tag == LIST:
            n, pos = _length(data, pos, 1)
            items = []
            for _ in range(n):
                item, pos = _decode(data, pos, depth + 1)
                items.append(item)
            return items, pos
        n, pos = _length(data, pos, 2)
        result: dict = {}
        for _ in range(n):
            key, pos = _decode(data, pos, depth + 1)
            if type(key) is not str and type(key) is not int:
                raise CodecError(f"a dict key of type {type(key).__name__}")
            if key in result:
                raise CodecError(f"the dict key {key!r} is repeated")
            result[key], pos = _decode(data, pos, depth + 1)
        return result, pos
    raise CodecError(f"unknown tag {tag} at byte {pos - 1}")
