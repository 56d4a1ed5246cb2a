"""Fuzz target: whole control requests through a real ``Node``'s request handling, without sockets.

The first byte picks the algorithm and the cluster size (1 or 3 voters: alone, a raft node
commits on its own flush, so requests get answered from applied entries); the rest is a blob
list of requests, each a blob list of frames (anything else is one frame: a JSON body).
``Node._on_control`` reads them from an in-memory stand-in for its control ROUTER, identity
frame first as libzmq delivers them. Rules: the node never raises; every request gets
exactly one reply, or still waits for its entries (or for a leader to be known: held); a reply goes to its request's envelope,
in the form of the request (JSON, or binary that ``parse_propose_reply`` reads).
"""
from __future__ import annotations

import base64
import collections
import json
import os
import random
import tempfile

import zmq

from quorumlab.core import registry
from quorumlab.core.framing import pack_blobs
from quorumlab.core.limits import MAX_ENVELOPE_BYTES, MAX_ENVELOPE_FRAMES
from quorumlab.core.runtime.control import REPLY_ERROR, REPLY_OK, find_propose, parse_propose_reply
from quorumlab.core.runtime.eventlog import EVENTS_FILE, EventLog
from quorumlab.core.runtime.node import Node, mono_ms
from quorumlab.core.storage import MemoryStorage
from quorumlab.core.interpret import TimerTable
from quorumlab.core.timerwheel import TimerWheel
from tests.fuzz.fuzz_control import COMMAND, check_propose_reply
from tests.fuzz.target import Target, split

ALGORITHMS = [registry.load(name) for name in ("raft", "paxos", "bully")]
_SCRATCH = tempfile.TemporaryDirectory(prefix="quorumlab-fuzz-node-")


class Frame(bytes):
    """A received frame as pyzmq gives it with ``copy=False`` (``.bytes``; no User-Id: plain mode)."""

    @property
    def bytes(self) -> bytes:
        return bytes(self)


class ControlSocket:
    """The node's control ROUTER, in memory: hands out the queued requests, keeps the replies."""

    def __init__(self, requests: list[list[bytes]]) -> None:
        self.inbox = collections.deque(requests)
        self.sent: list[list[bytes]] = []

    def recv_multipart(self, flags: int = 0, copy: bool = True) -> list:
        if not self.inbox:
            raise zmq.Again()
        frames = self.inbox.popleft()
        return frames if copy else [Frame(f) for f in frames]

    def send_multipart(self, frames: list[bytes], flags: int = 0) -> None:
        self.sent.append(list(frames))


class NoPeers:
    """The transport of a node whose peers are all down: every send fails, as to a dead peer."""

    def __init__(self) -> None:
        self.up: set[int] = set()

    def send(self, peer: int, data: bytes) -> bool:
        return False


def socketless_node(cls: type, voters: int, control: ControlSocket) -> Node:
    """A started node 1 of algorithm ``cls`` with in-memory storage, dead peers and ``control``, as ``Node.open`` and
    ``Node._boot`` would set it up (its events go to a scratch file)."""
    node = Node(cls, 1, {i: f"tcp://127.0.0.1:{7100 + i}" for i in range(1, voters + 1)}, _SCRATCH.name, seed=0)
    node.storage = MemoryStorage()
    node.algo = cls(1, sorted(node.addresses), node.config, node.storage, random.Random(0), node.cluster_id)
    node.state_machine = cls.StateMachine() if cls.StateMachine is not None else None
    node.transport = NoPeers()
    node._control = control
    node._log = EventLog(_SCRATCH.name, 1)
    node._started_ms = now = mono_ms()
    node._wheel = TimerWheel(now)
    node._timers = TimerTable(node._wheel)
    node._dispatch(node.algo.start, now)
    return node


def run(data: bytes) -> None:
    choice = data[0] if data else 0
    requests = [[b"\x00id%d" % i, *(split(r) or [b""])] for i, r in enumerate(split(data[1:]))]
    control = ControlSocket(requests)
    node = socketless_node(ALGORITHMS[choice % 3], 1 if choice & 4 == 0 else 3, control)
    try:
        while control.inbox:
            node._on_control()
    finally:
        node._log.close()
        os.remove(os.path.join(_SCRATCH.name, EVENTS_FILE))
    waiting = [req.envelope[0] for req in node._waiting] + [req.envelope[0] for _, req, _ in node._held]
    for frames in requests:
        replies = [r for r in control.sent if r[0] == frames[0]]
        if _oversized_envelope(frames):
            assert not replies and frames[0] not in waiting, f"{frames!r}: an oversized envelope was served"
            continue
        assert len(replies) + waiting.count(frames[0]) == 1, f"{frames!r}: {len(replies)} replies, waiting {waiting}"
        if replies:
            _check_reply(frames, replies[0])


def _oversized_envelope(frames: list[bytes]) -> bool:
    """Is this a request the node drops unanswered (quorumlab.core.limits: envelope frames and bytes)?"""
    k = find_propose(frames)
    envelope = frames[:k] if k >= 0 else frames[:-1]
    return (len(frames) > MAX_ENVELOPE_FRAMES + 2 or any(len(f) > MAX_ENVELOPE_BYTES for f in frames[:-1])
            or len(envelope) > MAX_ENVELOPE_FRAMES or sum(map(len, envelope)) > MAX_ENVELOPE_BYTES)


def _check_reply(request: list[bytes], reply: list[bytes]) -> None:
    """The reply goes back to the request's envelope, in the request's form."""
    k = find_propose(request)
    envelope = request[:k] if k >= 0 else request[:-1]
    assert reply[: len(envelope)] == envelope, f"reply {reply!r} to {request!r} lost its envelope"
    body = reply[len(envelope) :]
    if k >= 0:
        assert body and body[0] in (REPLY_OK, REPLY_ERROR), f"binary request answered {body!r}"
        parsed = parse_propose_reply(body)
        check_propose_reply(parsed)
        assert not parsed.get("error", "").startswith("malformed propose reply"), f"the node's reply {body!r} is malformed"
        return
    assert len(body) == 1, f"JSON request answered {body!r}"
    doc = json.loads(body[0])
    assert isinstance(doc, dict) and doc.get("ok") in (True, False) and (doc["ok"] or isinstance(doc.get("error"), str))


def seeds() -> list[bytes]:
    data = base64.b64encode(COMMAND).decode()
    script = [[json.dumps({"cmd": "fire", "timer": "election"}).encode()],
              [b"rid", b"\xffpropose", pack_blobs([COMMAND, COMMAND])],
              [json.dumps({"cmd": "propose", "data": data}).encode()],
              [json.dumps({"cmd": "propose", "batch": [data]}).encode()],
              [json.dumps({"cmd": "fire", "timer": "flush"}).encode()],
              [json.dumps({"cmd": "status"}).encode()],
              [json.dumps({"cmd": "state_machine"}).encode()],
              [json.dumps({"cmd": "partition", "peers": [2]}).encode()],
              [json.dumps({"cmd": "heal"}).encode()],
              [json.dumps({"cmd": "stop"}).encode()]]
    body = pack_blobs([pack_blobs(frames) for frames in script])
    return [bytes([choice]) + body for choice in range(8)]


def structured():
    from hypothesis import strategies as st

    from tests.fuzz.fuzz_control import requests
    from tests.fuzz.mutate import damaged

    timers = st.sampled_from(("election", "detect", "coordinator_silence", "flush"))
    elect = timers.map(lambda t: [json.dumps({"cmd": "fire", "timer": t}).encode()])
    script = st.lists(requests() | elect, max_size=6).map(lambda rs: pack_blobs([pack_blobs(r) for r in rs]))
    return st.tuples(st.integers(0, 7), damaged(script)).map(lambda cs: bytes([cs[0]]) + cs[1])


TARGET = Target(run, seeds, structured)
