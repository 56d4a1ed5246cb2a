"""The key-value register model, with the semantics of ``quorumlab.core.kv.KVStore`` and ``quorumlab.core.client.KVClient``.

Each key is an independent register (the checker partitions by key). The
state of a key is its value, None when absent.

- ``put(key, value)`` returns the previous value (None if absent);
- ``get(key)`` returns the value (None if absent);
- ``delete(key)`` returns whether the key existed (a bool, as KVClient does)
  or the previous value (as KVStore's result carries it);
- ``cas(key, expected, new)`` returns True and sets ``new`` iff the value is
  ``expected`` (None: the key is absent), else returns False and changes nothing.

Values are strings or integers (never bools, which are kept for results).
"""
from __future__ import annotations

from array import array
from typing import Any, ClassVar, Hashable, Sequence

from quorumlab.core.check import search_py as codes
from quorumlab.core.check.history import INFO, OK, Operation
from quorumlab.core.check.model import UNKNOWN, Model, OperationError

ARITY = {"put": 1, "get": 0, "delete": 0, "cas": 2}


class _Other:
    """A value none of the operations at hand mention (used when a cut history starts from any state)."""

    def __repr__(self) -> str:
        return "<another value>"


OTHER = _Other()


def _is_value(v: Any) -> bool:
    kind = type(v)
    return v is None or kind is str or kind is int  # not bool, whose type is bool


class KVRegister(Model):
    """put / get / delete / cas on independent keys; the checker runs it in the compiled search."""

    name: ClassVar[str] = "kv"

    def init(self) -> Hashable:
        return None

    def step(self, state: Hashable, op: Operation, output: Any) -> tuple[bool, Hashable]:
        kind = op.op
        if kind == "get":
            return output is UNKNOWN or output == state, state
        if kind == "put":
            return output is UNKNOWN or output == state, op.args[0]
        if kind == "delete":
            if output is UNKNOWN:
                return True, None
            if isinstance(output, bool):
                return output == (state is not None), None
            return output == state, None
        expected, new = op.args
        if state == expected:
            return output is UNKNOWN or output is True, new
        return output is UNKNOWN or output is False, state

    def partition(self, op: Operation) -> Hashable:
        return op.key

    def validate(self, op: Operation) -> None:
        arity = ARITY.get(op.op)
        if arity is None:
            raise OperationError("op", f"{op.op!r} is not one of {', '.join(ARITY)}")
        if type(op.key) is not str and type(op.key) is not int:
            raise OperationError("key", f"{op.key!r} is not a string or integer")
        args = op.args
        if len(args) != arity:
            shape = {"put": "[value]", "get": "[]", "delete": "[]", "cas": "[expected, new]"}[op.op]
            raise OperationError("args", f"{op.op} takes {shape}, got {list(args)!r}")
        for i, arg in enumerate(args):
            if not _is_value(arg) or (arg is None and not (arity == 2 and i == 0)):
                raise OperationError("args", f"{arg!r} is not a value for {op.op}: use a string or integer"
                                     + (" (expected may be null: absent)" if arity == 2 else ""))
        if op.outcome != OK:
            return
        r = op.result
        kind = op.op
        if kind == "cas":
            fine = r is True or r is False
        elif kind == "delete":
            fine = r is True or r is False or _is_value(r)
        else:
            fine = _is_value(r)
        if not fine:
            want = {"get": "the value or null", "put": "the previous value or null", "cas": "true or false",
                    "delete": "true/false (existed) or the previous value or null"}[kind]
            raise OperationError("result", f"{kind} returns {want}, got {r!r}")

    def describe(self, op: Operation) -> str:
        call = f"{op.op}({', '.join(repr(a) for a in (op.key, *op.args))})"
        if op.outcome == OK:
            return f"{call} -> {op.result!r}"
        return f"{call} -> ?" if op.outcome == INFO else f"{call} failed"

    def describe_state(self, state: Hashable) -> str:
        return "absent" if state is None else repr(state)

    def any_states(self, ops: Sequence[Operation]) -> list[Hashable]:
        """Absent, every value the operations mention, and one value none of them mentions."""
        seen: dict[Hashable, None] = {None: None}
        for op in ops:
            for v in op.args:
                seen[v] = None
            if op.outcome == OK and op.op in ("get", "put", "delete") and not isinstance(op.result, bool):
                seen[op.result] = None
        return [*seen, OTHER]


class Encoded:
    """A partition as the search reads it: one small int per field, values interned (0 is absent)."""

    __slots__ = ("code", "a", "b", "out", "values", "ids")

    def __init__(self) -> None:
        self.code = array("q")
        self.a = array("q")
        self.b = array("q")
        self.out = array("q")
        self.values: list[Hashable] = [None]
        self.ids: dict[Hashable, int] = {}

    def intern(self, value: Hashable) -> int:
        """The id of ``value`` (None is 0), allocating one the first time."""
        if value is None:
            return 0
        vid = self.ids.get(value)
        if vid is None:
            vid = self.ids[value] = len(self.values)
            self.values.append(value)
        return vid


_CODE = {"put": codes.PUT, "get": codes.GET, "delete": codes.DELETE, "cas": codes.CAS}


def encode(ops: Sequence[Operation], states: Sequence[Hashable] = ()) -> Encoded:
    """Intern ``ops`` (ok or info; validated) and the extra ``states`` for the compiled search."""
    enc = Encoded()
    intern = enc.intern
    for s in states:
        intern(s)
    for op in ops:
        kind = op.op
        a = b = 0
        known = op.outcome == OK
        r = op.result
        if kind == "put":
            a = intern(op.args[0])
            out = intern(r) if known else codes.ANY
        elif kind == "get":
            out = intern(r) if known else codes.ANY
        elif kind == "delete":
            if not known:
                out = codes.ANY
            elif isinstance(r, bool):
                out = codes.PRESENT if r else 0
            else:
                out = intern(r)
        else:
            a, b = intern(op.args[0]), intern(op.args[1])
            out = (1 if r else 0) if known else codes.ANY
        enc.code.append(_CODE[kind])
        enc.a.append(a)
        enc.b.append(b)
        enc.out.append(out)
    return enc


def constrains(op: Operation) -> bool:
    """False for an info get: it may have read anything and changed nothing, so the search can leave it out."""
    return not (op.outcome == INFO and op.op == "get")
