"""One node inside the application's process: the runtime's loop on a background thread.

``EmbeddedNode`` (``quorumlab.Node``) opens a ``quorumlab.core.runtime.node.Node`` (the loop
``bench node`` runs: same transport, storage, CurveZMQ checks, event log and
control socket) and runs it on a thread of its own. The application talks to it
through the runtime's in-process channel (``submit_local`` / ``call_local``), so
commands from any thread reach the loop's thread safely and take the control
socket's own path to the log. What the loop reports (role, term and leader, with
every event it records) is mirrored here, so ``is_leader``, ``leader`` and
``term`` are plain reads; callbacks run on a notifier thread of their own, never
on the loop's (a slow callback must not delay heartbeats).

Threads: the loop (``quorumlab-node-<id>``) owns the algorithm, the sockets and
the state machine; the completer (``quorumlab-done-<id>``) completes the futures
of ``submit`` (so their waiters and done-callbacks never run on the loop's
thread); the notifier (``quorumlab-notify-<id>``) runs the application's
leadership callbacks in order. ``close()`` stops all three and waits for them;
the runtime closes every socket and its ZeroMQ context before the loop ends.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import queue
import threading
from typing import Any, Callable, Mapping

from quorumlab.core.algorithm import ElectionAlgorithm, Role
from quorumlab.core.config import AlgorithmConfig
from quorumlab.core.errors import QuorumlabError
from quorumlab.core.keys import Keyring
from quorumlab.core.leadership import Lease, Leadership, LeadershipLost
from quorumlab.core.replicated import ReplicatedObject
from quorumlab.core.runtime.addresses import parse_cluster
from quorumlab.core.runtime.control import APPLIED, NOT_APPLIED
from quorumlab.core.runtime.loader import load_algorithm
from quorumlab.core.runtime.node import Node as RuntimeNode

log = logging.getLogger("quorumlab.embedded")

CLOSE_TIMEOUT_S = 10.0
"""How long ``close()`` waits for the loop thread to finish its step, flush and close its sockets."""


_FAIL_THE_REST = object()
"""Put on the completion queue when the loop ends: every command still pending after it fails (``closed``)."""


class NodeError(QuorumlabError):
    """The embedded node could not do what was asked (it is closed, or its loop stopped on an error)."""


class SubmitError(QuorumlabError):
    """A command was not completed. ``code`` is the control protocol's (quorumlab.core.runtime.control): ``not_leader``,
    ``busy``, ``invalid``, ``no_log``, ``leadership_lost``, ``internal``, ``closed``; ``applied`` says what became
    of it (False: certainly not applied; None: it may have been, at most once); ``leader`` and
    ``leader_address`` name the leader when the node knows it."""

    def __init__(self, message: str, code: str, applied: bool | None, leader: int | None = None,
                 leader_address: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.applied = applied
        self.leader = leader
        self.leader_address = leader_address


class NotLeader(SubmitError):
    """This node does not lead; ``leader`` is the one it follows, if any (the command was not applied)."""


def submit_error(doc: dict[str, Any]) -> SubmitError:
    """The exception for one error answer of the runtime ({"code", "error", "leader", "leader_address"})."""
    code = doc.get("code") or "internal"
    applied = False if code in NOT_APPLIED else True if code in APPLIED else None
    cls = NotLeader if code == "not_leader" else SubmitError
    return cls(doc.get("error") or code, code, applied, doc.get("leader"), doc.get("leader_address"))


class EmbeddedNode:
    """A member of a cluster that runs inside this process; see the module docstring and docs/embedding.md.

    ``algo``: a registered name ("raft", "paxos", "bully", a plugin's) or an ElectionAlgorithm class.
    ``cluster``: every member's address, as a dict id -> "tcp://host:port" or a spec "1=tcp://...,2=...".
    ``keys``: the cluster's keyring (a directory made by ``bench keys create``, or a Keyring); without one,
    pass ``insecure=True`` (plain mode: anyone who reaches the ports can speak as a member).
    ``state_machine``: what committed entries are applied to (an object with ``apply(index, data)``, e.g. a
    ``ReplicatedObject``); by default the algorithm's own (raft's key-value store), which is what ``bench
    node`` members of the same cluster apply too. ``config``: the algorithm's config, or a dict of overrides.
    """

    def __init__(
        self,
        algo: str | type[ElectionAlgorithm],
        *,
        id: int,
        cluster: Mapping[int, str] | str,
        data_dir: str | os.PathLike,
        state_machine: Any = None,
        config: AlgorithmConfig | Mapping[str, Any] | None = None,
        keys: str | os.PathLike | Keyring | None = None,
        insecure: bool = False,
        cluster_id: int = 1,
        seed: int | None = None,
        bind: str | None = None,
        control: str | None = None,
        events: str | None = None,
    ) -> None:
        if keys is None and not insecure:
            raise ValueError("pass keys= (the cluster's keyring, see `bench keys create`) or, for plain mode on a "
                             "trusted machine, insecure=True")
        if keys is not None and insecure:
            raise ValueError("keys= and insecure=True exclude each other")
        algo_cls = load_algorithm(algo) if isinstance(algo, str) else algo
        addresses = parse_cluster(cluster) if isinstance(cluster, str) else {int(i): str(a) for i, a in cluster.items()}
        if config is None or isinstance(config, AlgorithmConfig):
            cfg = config
        else:
            cfg = algo_cls.Config.from_strings({k: _config_str(v) for k, v in config.items()})
        keyring = keys if isinstance(keys, Keyring) or keys is None else Keyring(keys)
        self.id = id
        self.algo_name = algo_cls.name
        self._role = Role.FOLLOWER
        self._term = 0
        self._leader: int | None = None
        self._reign: Leadership | None = None
        self._changed = threading.Condition()
        self._leader_callbacks: list[Callable[[int | None, int], None]] = []
        self._pending: set[concurrent.futures.Future] = set()
        self._notify: queue.SimpleQueue = queue.SimpleQueue()
        self._completions: queue.SimpleQueue = queue.SimpleQueue()  # bounded by the requests the runtime admits
        self._closed = False
        self.error: BaseException | None = None
        self._runtime = RuntimeNode(
            algo_cls, id, addresses, os.fspath(data_dir), cfg,
            cluster_id=cluster_id, seed=seed, bind=bind, control=control, events=events,
            keyring=keyring, state_machine=state_machine, listener=self._on_event,
        )
        self._runtime.open()  # a busy port or a damaged data dir raises here, in the caller's thread
        self.state_machine = self._runtime.state_machine
        if isinstance(state_machine, ReplicatedObject):
            state_machine.attach(self)
        self._notifier = threading.Thread(target=self._run_notifier, name=f"quorumlab-notify-{id}", daemon=True)
        self._completer = threading.Thread(target=self._run_completer, name=f"quorumlab-done-{id}", daemon=True)
        self._completer.start()
        self._loop = threading.Thread(target=self._run_loop, name=f"quorumlab-node-{id}", daemon=True)
        self._notifier.start()
        self._loop.start()

    # -- what the loop reports ----------------------------------------------------------

    @property
    def role(self) -> Role:
        return self._role

    @property
    def is_leader(self) -> bool:
        """Whether this node believes it leads now. A belief, not a guarantee: see ``leadership()`` and fencing."""
        return self._role == Role.LEADER and not self._closed

    @property
    def leader(self) -> int | None:
        """The member this node believes leads (itself included), or None."""
        return self._leader

    @property
    def term(self) -> int:
        """The algorithm's term (raft's term, paxos's ballot round, bully's epoch) as this node knows it."""
        return self._term

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called or the loop stopped on an error (``error`` says which)."""
        return self._closed or self.error is not None

    @property
    def addresses(self) -> dict[int, str]:
        return dict(self._runtime.addresses)

    def on_leader_change(self, callback: Callable[[int | None, int], None]) -> Callable[[], None]:
        """Call ``callback(leader, term)`` on the notifier thread whenever this node's view of the leader changes;
        returns a function that unsubscribes it. An exception in a callback is logged, never raised here."""
        self._leader_callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self._leader_callbacks:
                self._leader_callbacks.remove(callback)

        return unsubscribe

    def wait_for_leader(self, timeout: float | None = None) -> int:
        """Block until some member is known to lead; its id. TimeoutError after ``timeout`` seconds."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._leader is not None or self._closed, timeout):
                raise TimeoutError(f"node {self.id}: no leader known within {timeout}s")
        self._check_open()
        return self._leader

    # -- commands -----------------------------------------------------------------------

    def submit(self, command: bytes) -> concurrent.futures.Future:
        """Propose one command; the Future's result is the state machine's answer (bytes, ``b""`` for none)
        once the entry is applied here, or a SubmitError (NotLeader on a follower)."""
        command = _as_bytes(command, "submit")
        if isinstance(command, TypeError):
            return _failed(command)
        return self._submit([command], True)

    def submit_with_callback(self, command: bytes, callback: Callable[[bytes | None, BaseException | None], Any]
                             ) -> None:
        """Propose one command and call ``callback(result, None)`` once it is applied here, or
        ``callback(None, error)`` (a SubmitError; NotLeader on a follower), exactly once, on the node's completer
        thread (at once, in this thread, when the node is closed or busy or the command is not bytes; an exception
        the callback raises is logged, never passed on). What ``submit``
        does without a Future: the form for an application that submits many commands from one thread (PySyncObj's
        ``callback=``); a Future costs a Condition and a lock per command."""
        command = _as_bytes(command, "submit_with_callback")
        if isinstance(command, TypeError):
            callback(None, command)
            return
        self._submit([command], True, _Callback(callback, self.id))

    def submit_many(self, commands: list[bytes]) -> concurrent.futures.Future:
        """Propose several commands as one request (one log entry each, appended together); the Future's result
        is the list of their answers, in order."""
        if not commands or not all(isinstance(c, (bytes, bytearray, memoryview)) for c in commands):
            return _failed(TypeError("submit_many takes a non-empty list of bytes (one command per log entry)"))
        return self._submit([bytes(c) for c in commands], False)

    def _submit(self, commands: list[bytes], one: bool, answer: "_Callback | None" = None) -> Any:
        future: Any = concurrent.futures.Future() if answer is None else answer
        if self._closed or self.error is not None:
            future.set_exception(self._closed_error())
            return future
        self._pending.add(future)
        if self._closed or self.error is not None:  # closed meanwhile: the completer may have failed the rest
            self._pending.discard(future)
            future.set_exception(self._closed_error())
            return future
        put = self._completions.put

        def done(results: list[bytes] | None, error: dict | None) -> None:  # on the loop's thread: hand it over
            put((future, results, error, one))

        if not self._runtime.submit_local(commands, done):
            self._pending.discard(future)
            future.set_exception(submit_error({"code": "busy", "error": f"busy: node {self.id} has too many "
                                                                         "commands queued; retry"}))
        return future

    async def submit_async(self, command: bytes) -> bytes:
        """``submit`` for asyncio: ``await node.submit_async(b"...")``."""
        return await asyncio.wrap_future(self.submit(command))

    def status(self, timeout: float = 5.0) -> dict[str, Any]:
        """The node's status, as ``bench status`` shows it (taken on the loop's thread)."""
        future = self.call(self._runtime.status)
        return future.result(timeout)

    def call(self, fn: Callable[[], Any]) -> concurrent.futures.Future:
        """Run ``fn()`` on the loop's thread (where the state machine is applied); a Future of its result. For
        reading a state machine's fields consistently; ``fn`` must be quick (it holds the loop up)."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        if self._closed or self.error is not None:
            future.set_exception(self._closed_error())
            return future
        self._pending.add(future)

        def run() -> None:
            self._pending.discard(future)
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, never raised in the loop
                future.set_exception(exc)

        if not self._runtime.call_local(run):
            self._pending.discard(future)
            future.set_exception(SubmitError(f"busy: node {self.id} has too much work queued; retry", "busy", False))
        return future

    # -- leadership (quorumlab.core.leadership) -----------------------------------------------------

    def leadership(self, timeout: float | None = None) -> "_LeadershipContext":
        """A context manager: ``with node.leadership() as lease:`` blocks until this node leads (TimeoutError after
        ``timeout`` s) and yields a Lease whose ``token`` fences the work done under it."""
        return _LeadershipContext(self, timeout)

    def wait_for_leadership(self, timeout: float | None = None) -> Lease:
        """Block until this node leads; a Lease of this reign (its fencing token, its ``lost`` event)."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._reign is not None or self._closed or self.error is not None,
                                          timeout):
                raise TimeoutError(f"node {self.id} did not become leader within {timeout}s")
            reign = self._reign  # read once: the loop may end the reign at any moment
            if self._closed or self.error is not None or reign is None:
                raise LeadershipLost(f"node {self.id} is closed" if reign is not None or self.closed
                                     else f"node {self.id} lost leadership as it was granted") from self.error
            return reign.lease()

    def run_as_leader(self, func: Callable[..., Any], *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        """Wait until this node leads, then return ``func(lease, *args, **kwargs)``. ``func`` should pass
        ``lease.token`` with every write it makes elsewhere and stop when ``lease.lost`` is set (or
        ``lease.check()`` raises): see docs/embedding.md, "Fencing"."""
        with self.leadership(timeout) as lease:
            return func(lease, *args, **kwargs)

    # -- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        """Stop the loop (it finishes its step, flushes storage and the event log, closes every socket), stop
        the notifier, and fail every command still waiting (code ``closed``: it may have been applied)."""
        if self._closed:
            return
        self._closed = True
        self._runtime.request_stop("closed by the application")
        if self._loop is not threading.current_thread():
            self._loop.join(CLOSE_TIMEOUT_S)
            if self._loop.is_alive():
                raise NodeError(f"node {self.id}: the loop did not stop within {CLOSE_TIMEOUT_S}s")
        self._end_reign()
        with self._changed:
            self._changed.notify_all()
        self._completions.put(None)
        self._notify.put(None)
        for thread in (self._completer, self._notifier):
            if thread is not threading.current_thread():
                thread.join(CLOSE_TIMEOUT_S)
        self._fail_pending()

    def __enter__(self) -> "EmbeddedNode":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else str(self._role)
        return f"<quorumlab.Node {self.algo_name} id={self.id} {state} term={self._term} leader={self._leader}>"

    # -- threads ------------------------------------------------------------------------

    def _run_loop(self) -> None:
        try:
            self._runtime.run()
        except BaseException as exc:  # noqa: BLE001 - kept for the application: status and submit report it
            self.error = exc
            log.error("node %d: the loop stopped on an error: %r", self.id, exc)
        finally:
            self._role = Role.FOLLOWER
            self._end_reign()
            self._completions.put(_FAIL_THE_REST)  # after every answer the loop gave: those stand
            with self._changed:
                self._changed.notify_all()

    def _run_completer(self) -> None:
        """Complete submit futures off the loop's thread: setting a Future wakes its waiters and runs its
        callbacks (the application's too), which must not hold up heartbeats."""
        get = self._completions.get
        pending = self._pending
        while True:
            item = get()
            if item is None:
                return
            if item is _FAIL_THE_REST:
                self._fail_pending()
                continue
            future, results, error, one = item
            pending.discard(future)
            try:
                if error is None:
                    future.set_result(results[0] if one else results)
                else:
                    future.set_exception(submit_error(error))
            except concurrent.futures.InvalidStateError:
                pass  # the caller cancelled it
            except Exception:  # noqa: BLE001 - a done-callback of the application raised
                log.exception("node %d: a future's callback raised", self.id)

    def _run_notifier(self) -> None:
        while True:
            item = self._notify.get()
            if item is None:
                return
            fn, args = item
            try:
                fn(*args)
            except Exception:  # noqa: BLE001 - an application callback's failure is its own
                log.exception("node %d: a callback raised", self.id)

    def _on_event(self, event: dict[str, Any]) -> None:
        """The runtime's listener (the loop's thread): mirror role, term and leader; start and end reigns."""
        kind = event["kind"]
        if kind == "term":
            self._term = event["to"]
        elif kind == "leader":
            self._leader = event["leader"]
            self._term = max(self._term, event["term"])
            for callback in list(self._leader_callbacks):
                self._notify.put((callback, (event["leader"], event["term"])))
            with self._changed:
                self._changed.notify_all()
        elif kind == "role":
            self._role = Role[event["to"].upper()]
            if self._role == Role.LEADER:
                status = self._runtime.algo.status()
                token = status.get("fencing_token")
                self._reign = Leadership(event["term"], token if token is not None else event["term"],
                                         self._notify_soon)
            else:
                self._end_reign()
            with self._changed:
                self._changed.notify_all()

    def _notify_soon(self, fn: Callable[[], Any]) -> None:
        self._notify.put((fn, ()))

    def _end_reign(self) -> None:
        reign, self._reign = self._reign, None
        if reign is not None:
            reign.end()

    def _fail_pending(self) -> None:
        for future in list(self._pending):
            self._pending.discard(future)
            if not future.done():
                try:
                    future.set_exception(self._closed_error())
                except concurrent.futures.InvalidStateError:
                    pass

    def _closed_error(self) -> SubmitError:
        why = f"its loop stopped on an error: {self.error!r}" if self.error is not None else "it is closed"
        return SubmitError(f"node {self.id}: {why} (a command sent before may have been applied)", "closed", None)

    def _check_open(self) -> None:
        if self._closed or self.error is not None:
            raise self._closed_error()


_CALLBACK_LOCK = threading.Lock()


class _Callback:
    """A ``submit_with_callback`` answer: what the completer and ``_fail_pending`` use of a Future, calling the
    application's function exactly once instead."""

    __slots__ = ("fn", "called", "node_id")

    def __init__(self, fn: Callable[[Any, BaseException | None], Any], node_id: int) -> None:
        self.fn = fn
        self.called = False
        self.node_id = node_id

    def done(self) -> bool:
        return self.called

    def set_result(self, result: Any) -> None:
        self._call(result, None)

    def set_exception(self, exc: BaseException) -> None:
        self._call(None, exc)

    def _call(self, result: Any, exc: BaseException | None) -> None:
        with _CALLBACK_LOCK:  # the completer and a close() that gave up waiting for it may both try
            if self.called:
                raise concurrent.futures.InvalidStateError("answered already")
            self.called = True
        try:
            self.fn(result, exc)
        except Exception:  # noqa: BLE001 - the application's; it must not stop the other answers
            log.exception("node %d: a submit_with_callback callback raised", self.node_id)


class _LeadershipContext:
    """``with node.leadership() as lease:``; leaving the block forgets the lease (leadership itself stays)."""

    def __init__(self, node: EmbeddedNode, timeout: float | None) -> None:
        self._node = node
        self._timeout = timeout
        self._lease: Lease | None = None

    def __enter__(self) -> Lease:
        self._lease = self._node.wait_for_leadership(self._timeout)
        return self._lease

    def __exit__(self, *exc: object) -> None:
        if self._lease is not None:
            self._lease.release()


def _as_bytes(command: Any, what: str) -> bytes | TypeError:
    """``command`` as bytes (copied from a bytearray or memoryview), or the TypeError to answer with."""
    if type(command) is bytes:
        return command
    if isinstance(command, (bytearray, memoryview)):
        return bytes(command)
    return TypeError(f"{what} takes bytes, not {type(command).__name__}")


def _failed(exc: BaseException) -> concurrent.futures.Future:
    future: concurrent.futures.Future = concurrent.futures.Future()
    future.set_exception(exc)
    return future


def _config_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
