"""The control socket protocol: JSON requests to a node's ROUTER, JSON replies.

A request is one JSON object ``{"cmd": ...}`` in the last frame; the node
replies with the same envelope frames (so both REQ and DEALER clients work)
and one JSON object: ``{"ok": true, "result": ...}`` or ``{"ok": false,
"error": "..."}``. Commands:

  status                      -> the node's status (role, term, leader, pid, counters, algorithm status)
  partition {"peers": [ids]}  -> drop all traffic to and from exactly these peers (replaces the previous set)
  heal                        -> stop dropping
  fire {"timer": name}        -> fire that algorithm timer now (bench's forced-contention scenario)
  stop                        -> stop the node cleanly, as SIGTERM does (a leader hands its leadership over first)
  transfer {"to": id | null}  -> hand leadership to node ``id`` (null: the best placed one) -> {"to": id}; refused
                                 with a "code" when not leader, for a node not in the cluster, or while another
                                 transfer runs
  member {"change": [ops]}    -> change the membership (raft; the leader only): ops are {"op": "add_voter" |
                                 "add_learner" | "promote" | "remove", "node": id, "address": tcp://...} (an
                                 address for every node new to the cluster) or [{"op": "leave_joint"}] ->
                                 {"index", "term"} of the configuration entry, proposed (poll status until
                                 commit_index reaches it); refused with a "code" as a propose is
  propose {"data": base64}    -> a client command for the replicated state machine; the reply comes once it
                                 is applied: {"index", "result": base64}, or an error with a "code" (below),
                                 and "leader" and "leader_address" when the node knows who leads
  propose {"batch": [base64]} -> many commands, one reply once all are applied: {"results": [base64, ...]}
  state_machine               -> the node's state machine contents (for checks after a run)

Commands for the state machine also have a binary form, which is what
``KVClient`` and ``bench throughput`` use (no JSON, no base64): the request is
the envelope frames, the marker frame ``PROPOSE``, then one frame holding the
commands as a blob list (quorumlab.core.framing.pack_blobs); the reply is the envelope,
then ``REPLY_OK`` and one blob-list frame of results, one per command (empty
when the entry has no result), or ``REPLY_ERROR`` and one JSON frame {"error",
"leader", "leader_address"}. Each command is still its own log entry. (One
frame per command would cost about a microsecond each in pyzmq.)

Every error reply to a propose carries a ``code``, so a client can tell what
happened to its commands: ``not_leader``, ``busy`` (retry later), ``invalid``,
``no_log`` and ``forbidden`` mean they were certainly not applied;
``leadership_lost`` and ``internal`` mean some may have been (a retry with the
same sequence numbers is still applied at most once); ``reply_too_large``
means all were applied but their results could not be sent.

``ControlClient`` is the harness side: one DEALER per node, request ids in an
envelope frame so a late reply to a timed-out request is recognised and
discarded, and fan-out of one command to many nodes at once. A request that
gets no reply in time has its socket closed (LINGER 0), so it is never
delivered to a node that comes back later. (The DEALERs do not use
``IMMEDIATE``: with it, libzmq discards a reply not yet read when the node
closes the connection right after sending it, as it does after ``stop``.)
"""
from __future__ import annotations

import itertools
import json
import time
from typing import TYPE_CHECKING, Any

import zmq

from quorumlab.core.errors import CodecError
from quorumlab.core.framing import pack_blobs, unpack_blobs

if TYPE_CHECKING:
    from quorumlab.core.runtime.auth import ClientAuth

COMMANDS = ("status", "partition", "heal", "fire", "stop", "propose", "state_machine", "transfer", "member")
PROPOSE = b"\xffpropose"
"""Marker frame of a binary propose request; the next frame is the blob list of commands."""
READ = b"\xffread"
"""Marker frame of a binary read request; then a frame naming the consistency (``linearizable``, ``lease`` or
``stale``), then the blob list of queries (read-only commands, for the state machine's ``read``)."""
READ_CONSISTENCIES = (b"linearizable", b"lease", b"stale")
REPLY_OK = b"\xffok"
"""First frame of a binary propose reply whose commands were all applied; the blob list of results follows."""
REPLY_ERROR = b"\xfferror"
"""First frame of a binary propose reply that failed; one JSON frame follows."""


LEADERSHIP_LOST = "leadership_lost"
FORBIDDEN = "forbidden"
REPLY_TOO_LARGE = "reply_too_large"
INTERNAL = "internal"
NOT_APPLIED = frozenset({"not_leader", "busy", "invalid", "no_log", FORBIDDEN})
"""Error codes after which the request's commands were certainly not applied (retry, elsewhere or later, or not)."""
MAYBE_APPLIED = frozenset({LEADERSHIP_LOST, INTERNAL})
"""Error codes after which some of the commands may have been applied (a retry is still applied at most once)."""
APPLIED = frozenset({REPLY_TOO_LARGE})
"""Error codes after which every command was applied, though its results could not be returned."""


class ControlError(RuntimeError):
    """A node answered a control request with an error, or not at all."""


def parse_request(body: bytes) -> dict[str, Any]:
    """Decode one request; raises ControlError naming what is wrong."""
    try:
        request = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ControlError("request is not JSON (or is nested too deeply)") from None
    if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
        raise ControlError('request must be a JSON object with a "cmd" string')
    if request["cmd"] not in COMMANDS:
        raise ControlError(f"unknown command {request['cmd']!r}; commands: {', '.join(COMMANDS)}")
    return request


def encode_reply(result: Any = None, error: str | None = None, extra: dict[str, Any] | None = None) -> bytes:
    """The reply frame: ok + result, or not ok + error (plus ``extra`` keys such as a leader hint)."""
    doc = {"ok": False, "error": error} if error is not None else {"ok": True, "result": result}
    if extra:
        doc.update(extra)
    return json.dumps(doc, default=str, separators=(",", ":")).encode()


def find_propose(frames: list) -> int:
    """Where the ``PROPOSE`` or ``READ`` marker sits among a request's first frames (after the envelope), or -1
    (a JSON request)."""
    for k in range(1, min(len(frames), 4)):
        if frames[k] == PROPOSE or frames[k] == READ:
            return k
    return -1


def propose_frames(commands: list[bytes]) -> list[bytes]:
    """The frames of a binary propose request for ``commands`` (after the client's envelope)."""
    return [PROPOSE, pack_blobs(commands)]


def read_frames(queries: list[bytes], consistency: str) -> list[bytes]:
    """The frames of a binary read request for ``queries`` at ``consistency`` (after the client's envelope); the
    reply has the form of a propose reply, one result per query."""
    return [READ, consistency.encode(), pack_blobs(queries)]


def parse_propose_reply(frames: list[bytes]) -> dict[str, Any]:
    """A binary propose reply (without envelope) as a dict: {"ok": True, "results": [bytes]} or
    {"ok": False, "error", "leader", "leader_address"}."""
    if len(frames) == 2 and frames[0] == REPLY_OK:
        try:
            return {"ok": True, "results": unpack_blobs(frames[1])}
        except CodecError as exc:
            return {"ok": False, "error": f"malformed propose reply: {exc}", "code": INTERNAL}
    if len(frames) == 2 and frames[0] == REPLY_ERROR:
        try:
            doc = json.loads(frames[1])
        except (ValueError, RecursionError):
            doc = None
        if _is_error_doc(doc):
            return {**doc, "ok": False}
    return {"ok": False, "error": "malformed propose reply", "code": INTERNAL}


def _is_error_doc(doc: Any) -> bool:
    """Whether ``doc`` is an error as nodes write it: an "error" string, and a leader hint (an int id, a string
    address) when one is known. Clients look the hint up among their nodes, so any other shape is malformed."""
    return (
        isinstance(doc, dict)
        and isinstance(doc.get("error"), str)
        and (doc.get("code") is None or isinstance(doc["code"], str))
        and (doc.get("leader") is None or type(doc["leader"]) is int)
        and (doc.get("leader_address") is None or isinstance(doc["leader_address"], str))
    )


class ControlClient:
    """Sends control requests to nodes' control addresses and waits for the replies."""

    def __init__(self, ctx: zmq.Context | None = None, auth: "ClientAuth | None" = None) -> None:
        """``auth``: this client's keys and the nodes' public keys (quorumlab.core.runtime.auth), for a cluster with a keyring."""
        self._ctx = ctx or zmq.Context.instance()
        self.auth = auth
        self._sockets: dict[str, zmq.Socket] = {}
        self._ids = itertools.count(1)

    def _socket(self, address: str) -> zmq.Socket:
        sock = self._sockets.get(address)
        if sock is None:
            sock = self._ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RECONNECT_IVL, 20)
            sock.setsockopt(zmq.RECONNECT_IVL_MAX, 200)
            if self.auth is not None:
                self.auth.secure(sock, address)
            sock.connect(address)
            self._sockets[address] = sock
        return sock

    def request(self, address: str, cmd: str, timeout_s: float = 2.0, **args: Any) -> Any:
        """Send one command and return its result; ControlError on an error reply or no reply in time."""
        reply = self.request_many({0: address}, cmd, timeout_s, **args)[0]
        if isinstance(reply, ControlError):
            raise reply
        return reply

    def request_many(self, addresses: dict[int, str], cmd: str, timeout_s: float = 2.0, **args: Any) -> dict[int, Any]:
        """Send ``cmd`` to every node at once; node id -> result, or a ControlError for that node."""
        body = json.dumps({"cmd": cmd, **args}).encode()
        deadline = time.monotonic() + timeout_s
        to_send: dict[zmq.Socket, tuple[int, bytes]] = {}
        waiting: dict[zmq.Socket, tuple[int, bytes]] = {}
        for node, address in addresses.items():
            to_send[self._socket(address)] = (node, str(next(self._ids)).encode())
        results: dict[int, Any] = {}
        while to_send or waiting:
            for sock, (node, rid) in list(to_send.items()):
                try:
                    sock.send_multipart([rid, body], zmq.NOBLOCK)
                except zmq.Again:
                    continue
                del to_send[sock]
                waiting[sock] = (node, rid)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            poller = zmq.Poller()
            for sock in waiting:
                poller.register(sock, zmq.POLLIN)
            for sock in to_send:
                poller.register(sock, zmq.POLLOUT)
            for sock, _ in poller.poll(max(1, int(remaining * 1000))):
                if sock not in waiting:
                    continue
                node, rid = waiting[sock]
                while True:
                    try:
                        frames = sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    if len(frames) == 2 and frames[0] == rid:
                        results[node] = _unwrap(frames[1])
                        del waiting[sock]
                        break
        hint = "" if self.auth is not None else " (if the cluster has a keyring, pass its keys)"
        for node, _ in list(to_send.values()) + list(waiting.values()):
            results[node] = ControlError(f"no reply from {addresses[node]} within {timeout_s:.1f}s{hint}")
            self.forget(addresses[node])  # discard the queued request: it must not reach a node that comes back later
        return results

    def forget(self, address: str) -> None:
        """Close the socket to ``address`` and discard whatever it still queues; the next request opens a new one."""
        sock = self._sockets.pop(address, None)
        if sock is not None:
            sock.close(linger=0)

    def close(self) -> None:
        for sock in self._sockets.values():
            sock.close(linger=0)
        self._sockets.clear()


def _unwrap(frame: bytes) -> Any:
    try:
        doc = json.loads(frame)
    except (ValueError, RecursionError):
        return ControlError("reply is not JSON (or is nested too deeply)")
    if not isinstance(doc, dict):
        return ControlError("reply is not a JSON object")
    if doc.get("ok"):
        return doc.get("result")
    return ControlError(str(doc.get("error", "error reply without a message")))
