"""Message schemas: each algorithm declares its message types; the codec is driven by them.

Every message shares a header (protocol version on the wire, algorithm id,
message type, cluster id, source, destination, term) followed by the fields
its type declares, each of one of a few wire kinds. ``message_type`` builds a
small slotted class per type and registers its schema so any runtime can
decode a frame without knowing which algorithm sent it.

Algorithms declare their messages as annotated classes, which type checkers can
read::

    @message(ALGO_ID, 1)
    class RequestVote(Message):
        '''A candidate asks for a vote in its term.'''
        last_log_index: UInt64
        last_log_term: UInt64

The decorator hands the fields to ``message_type`` and returns the class it builds.
"""
from __future__ import annotations

import keyword
import sys
from typing import Annotated, Callable, ClassVar, Sequence, TypeVar

PROTOCOL_VERSION = 1

HEADER_FIELDS = ("cluster", "src", "dst", "term")

# Wire kinds. The numeric codes are what the codec twins switch on.
U8, BOOL, U32, U64, I64, BYTES, U64LIST, ENTRIES = range(8)
KIND_CODES = {
    "u8": U8,
    "bool": BOOL,
    "u32": U32,
    "u64": U64,
    "i64": I64,
    "bytes": BYTES,
    "u64list": U64LIST,
    "entries": ENTRIES,  # list of (term: u64, index: u64, data: bytes) tuples
}
_DEFAULTS = {U8: "0", BOOL: "False", U32: "0", U64: "0", I64: "0", BYTES: "b''", U64LIST: "None", ENTRIES: "None"}

SCHEMAS: dict[int, type["Message"]] = {}
"""(algo_id << 8 | type_id) -> message class, for every registered message type."""


UInt8 = Annotated[int, "u8"]
UInt32 = Annotated[int, "u32"]
UInt64 = Annotated[int, "u64"]
Int64 = Annotated[int, "i64"]
Flag = Annotated[bool, "bool"]
Blob = Annotated[bytes, "bytes"]
UInt64List = Annotated[list[int], "u64list"]
Entries = Annotated[list[tuple[int, int, bytes]], "entries"]
"""The wire kinds as annotations for ``@message`` classes (the second argument is the kind)."""


class Message:
    """Base of generated message classes. Header fields first, then the type's own fields."""

    __slots__ = HEADER_FIELDS
    name: ClassVar[str] = "Message"
    algo_id: ClassVar[int] = 0
    type_id: ClassVar[int] = 0
    fields: ClassVar[tuple[str, ...]] = ()
    kinds: ClassVar[tuple[int, ...]] = ()
    markers: ClassVar[tuple[str, ...]] = ()

    def values(self) -> tuple:
        """The type's own field values, in declaration order."""
        return tuple(getattr(self, f) for f in self.fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, s) == getattr(other, s) for s in HEADER_FIELDS + self.fields)

    __hash__ = None  # type: ignore[assignment]  # mutable records that compare by value: not hashable (as dataclasses)

    def __repr__(self) -> str:
        parts = [f"{s}={getattr(self, s)!r}" for s in HEADER_FIELDS + self.fields]
        return f"{self.name}({', '.join(parts)})"


def message_type(name: str, algo_id: int, type_id: int, fields: Sequence[tuple[str, str]]) -> type[Message]:
    """Declare and register a message type: ``fields`` is a list of (field name, wire kind)."""
    if not (1 <= algo_id <= 0xFFFF):
        raise ValueError(f"algo_id must be 1..65535, got {algo_id}")
    if not (0 <= type_id <= 0xFF):
        raise ValueError(f"type_id must be 0..255, got {type_id}")
    if not name.isidentifier():
        raise ValueError(f"message type name {name!r} is not an identifier")
    names = tuple(f for f, _ in fields)
    for fname, kind in fields:
        if kind not in KIND_CODES:
            raise ValueError(f"{name}.{fname}: unknown wire kind {kind!r}; known: {', '.join(KIND_CODES)}")
        if not isinstance(fname, str) or not fname.isidentifier() or keyword.iskeyword(fname) or fname in HEADER_FIELDS:
            raise ValueError(f"{name}: bad field name {fname!r} (must be an identifier, not a keyword or header field)")
    if len(set(names)) != len(names):
        raise ValueError(f"{name}: a field name appears twice in {list(names)}")
    key = (algo_id << 8) | type_id
    existing = SCHEMAS.get(key)
    kinds = tuple(KIND_CODES[k] for _, k in fields)
    if existing is not None:
        if existing.name == name and existing.fields == names and existing.kinds == kinds:
            return existing
        raise ValueError(f"message id {algo_id}/{type_id} is already taken by {existing.name}")

    # A generated __init__ (positional or keyword) keeps construction cheap on hot paths.
    params = ", ".join(f"{h}=0" for h in HEADER_FIELDS)
    body = [f"    self.{h} = {h}" for h in HEADER_FIELDS]
    for fname, code in zip(names, kinds):
        params += f", {fname}={_DEFAULTS[code]}"
        if code in (U64LIST, ENTRIES):
            body.append(f"    self.{fname} = [] if {fname} is None else {fname}")
        else:
            body.append(f"    self.{fname} = {fname}")
    src = f"def __init__(self, {params}):\n" + "\n".join(body) + "\n"
    namespace: dict = {}
    exec(src, {}, namespace)  # noqa: S102 - generated from validated identifiers only
    cls = type(
        name,
        (Message,),
        {
            "__slots__": names,
            "__init__": namespace["__init__"],
            "name": name,
            "algo_id": algo_id,
            "type_id": type_id,
            "fields": names,
            "kinds": kinds,
        },
    )
    SCHEMAS[key] = cls
    return cls


M = TypeVar("M", bound=type)


def message(algo_id: int, type_id: int) -> Callable[[M], M]:
    """Declare a message type from an annotated class (its fields, in order, with ``UInt64`` and the other wire
    kinds); returns the registered class ``message_type`` builds, with the declaration's docstring and its
    ``markers`` (flags that mark a rare case: scenario traces show them only when set)."""

    def declare(cls: M) -> M:
        namespace = vars(sys.modules[cls.__module__])
        fields = []
        for fname, hint in cls.__dict__.get("__annotations__", {}).items():
            if isinstance(hint, str):  # postponed annotations: the module's names say what it means
                hint = eval(hint, namespace)  # noqa: S307 - the declaring module's own annotation
            kinds = getattr(hint, "__metadata__", ())
            if not kinds or kinds[0] not in KIND_CODES:
                raise ValueError(f"{cls.__name__}.{fname}: annotate it with a wire kind (UInt64, Flag, Entries, ...)")
            fields.append((fname, kinds[0]))
        made = message_type(cls.__name__, algo_id, type_id, fields)
        markers = tuple(cls.__dict__.get("markers", ()))
        unknown = [m for m in markers if m not in made.fields]
        if unknown:
            raise ValueError(f"{cls.__name__}.markers names {unknown}, which are not its fields")
        made.markers = markers
        made.__doc__ = cls.__doc__
        made.__module__ = cls.__module__
        made.__qualname__ = cls.__qualname__
        return made  # type: ignore[return-value]

    return declare
