"""Replicated objects: methods marked ``@replicated`` run through the log, in order, on every node.

A ``ReplicatedObject`` is the state machine of an embedded node
(``quorumlab.Node(..., state_machine=obj)``). Calling a ``@replicated`` method
does not run it: the call (method name and arguments, in the declared format of
quorumlab.core.argcodec, never pickle) is proposed as one log entry, and once the entry is
committed every node's copy runs the method on its loop thread, in log order.
The proposing node returns that run's result, or raises what it raised (as
``ReplicatedCallError``). A method must therefore be deterministic: it may only
depend on the object's state and its arguments (no clock, no randomness, no I/O).

::

    class Counter(ReplicatedObject):
        def __init__(self) -> None:
            self.value = 0

        @replicated
        def add(self, n: int) -> int:
            self.value += n
            return self.value

    counter.add(5)                 # blocks until applied here; returns the new value
    counter.add.submit(5)          # a concurrent.futures.Future of it
    await counter.add.submit_async(5)

Calls go to the leader's log; one made on a follower is forwarded there (raft's
Propose message) and returns once the follower's own copy has run it, with that
copy's result. Without a leader a call waits up to 300 ms for one, then raises
``NotLeader``, and nothing is applied. Reads of plain attributes see this node's
copy, which may lag the leader (``node.call(lambda: counter.value)`` reads it on
the loop's thread).

A log entry that is not a replicated call (written by another client, damaged,
naming an undeclared method) is answered with an error result on every node alike
and changes nothing.

Snapshots (raft's ``snapshot_entries`` / ``snapshot_bytes`` in the node's config):
the image is ``state()`` (by default the object's public attributes) and the
index of the last entry applied, in the same declared format as the calls, so
the state must consist of those types (tuples come back as lists, and a
snapshot of anything else fails, naming the value). ``load_state(state)`` puts
an image's state back (by default: the public attributes are replaced by the
image's). Override both together to keep a state of other types (build it from
declared types in ``load_state``). A restart restores the newest image into the
object and applies only the entries after it; a follower far behind gets the
leader's image.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from typing import TYPE_CHECKING, Any, Callable

from quorumlab.core import argcodec
from quorumlab.core.errors import CodecError, QuorumlabError

if TYPE_CHECKING:
    from quorumlab.core.embedded import EmbeddedNode

CALL_MARK = b"\xa5qlcall1"
"""Every replicated call's log entry starts with these bytes (a version of the format)."""
IMAGE_MARK = b"\xa5qlobj1\n"
"""A replicated object's snapshot image starts with these bytes; then [last applied index, state()] encoded."""
OK, RAISED = 1, 0


class ReplicatedCallError(QuorumlabError):
    """The replicated method raised on the nodes (``error_type`` names its exception class), or the entry was
    not a call this class declares. The same happened on every node."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type


class NotAttached(QuorumlabError):
    """The object is not the state machine of a running node yet (pass it as ``state_machine=``)."""


def encode_call(name: str, args: tuple, kwargs: dict[str, Any]) -> bytes:
    """The log entry of a call: CALL_MARK, then [name, args, kwargs] in quorumlab.core.argcodec's format."""
    return CALL_MARK + argcodec.encode([name, list(args), kwargs])


def decode_call(data: bytes) -> tuple[str, list, dict[str, Any]]:
    """(name, args, kwargs) of a log entry; CodecError when it is not a well-formed call."""
    if not data.startswith(CALL_MARK):
        raise CodecError("not a replicated call (no call mark)")
    doc = argcodec.decode(data[len(CALL_MARK):])
    if (not isinstance(doc, list) or len(doc) != 3 or type(doc[0]) is not str or type(doc[1]) is not list
            or type(doc[2]) is not dict or not all(type(k) is str for k in doc[2])):
        raise CodecError("a replicated call is [name, args, kwargs]")
    return doc[0], doc[1], doc[2]


def decode_result(data: bytes) -> Any:
    """The value a call's result entry carries, or ReplicatedCallError for what it raised."""
    try:
        doc = argcodec.decode(data)
    except CodecError as exc:
        raise ReplicatedCallError("CodecError", f"malformed result ({exc})") from None
    if isinstance(doc, list) and len(doc) == 2 and doc[0] == OK:
        return doc[1]
    if isinstance(doc, list) and len(doc) == 3 and doc[0] == RAISED:
        raise ReplicatedCallError(str(doc[1]), str(doc[2]))
    raise ReplicatedCallError("CodecError", "malformed result")


class replicated:  # noqa: N801 - a decorator, named like one
    """Mark a method of a ReplicatedObject as a replicated call (see the module docstring)."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func
        self.name = func.__name__
        functools.update_wrapper(self, func)

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return BoundCall(obj, self)


class BoundCall:
    """``obj.method``: calling it proposes and waits; ``submit`` returns a Future; ``submit_async`` is awaitable."""

    __slots__ = ("_obj", "_method")

    def __init__(self, obj: "ReplicatedObject", method: replicated) -> None:
        self._obj = obj
        self._method = method

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.submit(*args, **kwargs).result(self._obj.call_timeout)

    def submit(self, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        node = self._obj._ql_node
        if node is None:
            raise NotAttached(f"{type(self._obj).__name__} is not the state machine of a running node: pass it to "
                              "quorumlab.Node(..., state_machine=obj)")
        command = encode_call(self._method.name, args, kwargs)  # TypeError here for an undeclared argument type
        outer: concurrent.futures.Future = concurrent.futures.Future()
        node.submit(command).add_done_callback(functools.partial(_resolve, outer))
        return outer

    async def submit_async(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.wrap_future(self.submit(*args, **kwargs))

    def __repr__(self) -> str:
        return f"<replicated {type(self._obj).__name__}.{self._method.name}>"


def _resolve(outer: concurrent.futures.Future, inner: concurrent.futures.Future) -> None:
    try:
        if inner.cancelled():
            outer.cancel()
            return
        exc = inner.exception()
        if exc is not None:
            outer.set_exception(exc)
            return
        try:
            outer.set_result(decode_result(inner.result()))
        except ReplicatedCallError as err:
            outer.set_exception(err)
    except concurrent.futures.InvalidStateError:
        pass  # the caller cancelled it


class ReplicatedObject:
    """Base class of objects replicated through the log; see the module docstring.

    ``call_timeout``: seconds a plain call waits for its result (then ``TimeoutError``: the call may still be
    applied later). ``last_applied``: the index of the last log entry this copy applied.
    """

    call_timeout: float = 10.0
    _ql_applied: int = 0
    _ql_node: "EmbeddedNode | None" = None
    _ql_methods: dict[str, replicated] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        methods: dict[str, replicated] = {}
        for klass in reversed(cls.__mro__):
            for name, attr in vars(klass).items():
                if isinstance(attr, replicated):
                    methods[name] = attr
                elif name in methods:
                    del methods[name]  # overridden by a plain attribute: no longer a replicated call
        cls._ql_methods = methods

    @property
    def last_applied(self) -> int:
        return self._ql_applied

    @property
    def applied_index(self) -> int:
        """The state machine interface's name for ``last_applied`` (what a snapshot stands at)."""
        return self._ql_applied

    def attach(self, node: "EmbeddedNode") -> None:
        """Called by the embedded node this object is the state machine of."""
        if self._ql_node is not None and self._ql_node is not node:
            raise ValueError(f"this {type(self).__name__} is already the state machine of {self._ql_node!r}")
        self._ql_node = node

    def apply(self, index: int, data: bytes) -> bytes:
        """Run one committed call (on the node's loop thread); the encoded result. Never raises: a bad entry or a
        method's exception becomes an error result, the same on every node."""
        self._ql_applied = index
        try:
            name, args, kwargs = decode_call(data)
        except CodecError as exc:
            return argcodec.encode([RAISED, "CodecError", str(exc)])
        method = self._ql_methods.get(name)
        if method is None:
            return argcodec.encode([RAISED, "AttributeError", f"{type(self).__name__} has no replicated method {name!r}"])
        try:
            value = method.func(self, *args, **kwargs)
            return argcodec.encode([OK, value])
        except Exception as exc:  # noqa: BLE001 - deterministic on every node; the caller gets it
            return argcodec.encode([RAISED, type(exc).__name__, str(exc)])

    def state(self) -> dict[str, Any]:
        """The object's replicated state, what a snapshot saves: by default its public attributes."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def load_state(self, state: dict[str, Any]) -> None:
        """Put a snapshot's ``state()`` back: by default the public attributes become exactly the image's."""
        for name in [k for k in vars(self) if not k.startswith("_")]:
            delattr(self, name)
        for name, value in state.items():
            setattr(self, name, value)

    def write_snapshot(self, stream: Any) -> None:
        """The image: IMAGE_MARK, then [last applied index, state()] in the declared format (quorumlab.core.argcodec)."""
        try:
            body = argcodec.encode([self._ql_applied, self.state()])
        except TypeError as exc:
            raise TypeError(f"{type(self).__name__}.state() cannot be saved in a snapshot: {exc}; keep the state in "
                            "declared types, or override state() and load_state()") from None
        stream.write(IMAGE_MARK)
        stream.write(body)

    def restore(self, stream: Any) -> None:
        """Replace this copy's state with an image's (ValueError, and nothing changed, when it is not one)."""
        raw = stream.read()
        if not raw.startswith(IMAGE_MARK):
            raise ValueError("not a replicated object's image")
        try:
            applied, state = argcodec.decode(raw[len(IMAGE_MARK):])
        except CodecError as exc:
            raise ValueError(f"a damaged replicated object's image: {exc}") from None
        if type(applied) is not int or applied < 0 or not isinstance(state, dict):
            raise ValueError("a replicated object's image without an applied index and a state")
        self.load_state(state)
        self._ql_applied = applied

    def snapshot(self) -> dict[str, Any]:
        """JSON-friendly contents for checks (the control socket's ``state_machine`` command)."""
        return {"class": type(self).__name__, "last_applied": self.last_applied, "state": self.state()}
