"""Algorithm traffic over ZeroMQ: one bound ROUTER in, one DEALER per peer out, monitored.

Properties the runtime relies on:
  * a send never blocks: DEALERs are written with NOBLOCK, and ``IMMEDIATE``
    queues only to a peer whose handshake completed, so a message to a peer
    that is down is refused at once (counted as unreachable) instead of waiting
    to be delivered stale when it returns;
  * the queue to a live but stuck peer is bounded (``SEND_HWM`` messages plus the
    kernel's socket buffers), and a peer that stops answering ZMTP heartbeats
    for ``HEARTBEAT_TIMEOUT_MS`` is disconnected, which drops that queue;
  * a peer that restarts is reconnected automatically (every
    ``RECONNECT_IVL_MS``..``RECONNECT_IVL_MAX_MS``);
  * each DEALER's socket monitor reports handshake success / disconnect, which
    ``on_monitor`` turns into peer up / down transitions for the algorithm's hints.
Messages carry their sender in the codec header. With keys (quorumlab.core.runtime.auth)
the ROUTER is a CURVE server that accepts only members' keys, each DEALER a
CURVE client of its peer's key, and every message arrives with the User-Id of
its connection (``node:<id>``), which the node checks against the claimed
sender. Without keys (plain mode) anyone who can reach the port can claim to be
a member.
"""
from __future__ import annotations

from typing import Iterable

import zmq
from zmq.utils.monitor import recv_monitor_message


from quorumlab.core.keys import KeyPair
from quorumlab.core.limits import CURVE_OVERHEAD_BYTES, MAX_FRAME_BYTES
from quorumlab.core.runtime.auth import PEER_DOMAIN, connect_securely, serve_securely

SEND_HWM = 64
RECV_HWM = 10_000
RECONNECT_IVL_MS = 20
RECONNECT_IVL_MAX_MS = 200
HEARTBEAT_IVL_MS = 500
HEARTBEAT_TIMEOUT_MS = 2000
HANDSHAKE_IVL_MS = 2000

_UP_EVENTS = zmq.EVENT_HANDSHAKE_SUCCEEDED
_DOWN_EVENTS = (
    zmq.EVENT_DISCONNECTED
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)


class Transport:
    """Sockets for one node's algorithm traffic; ``peers`` maps node id -> tcp address."""

    def __init__(
        self,
        ctx: zmq.Context,
        bind: str,
        peers: dict[int, str],
        keys: KeyPair | None = None,
        peer_keys: dict[int, bytes] | None = None,
    ) -> None:
        """``keys`` (this node's pair) and ``peer_keys`` (each peer's public key) make every socket CURVE."""
        self.router = ctx.socket(zmq.ROUTER)
        self._sockets: list[zmq.Socket] = [self.router]
        self._out: dict[int, zmq.Socket] = {}
        self._monitors: dict[zmq.Socket, int] = {}
        self.up: set[int] = set()
        self.refused: set[int] = set()
        """Peers whose server refused our key (libzmq then gives the connection up for good): the runtime dials them
        again later (a member added at run time is refused until the others have read its key)."""
        try:
            self.router.setsockopt(zmq.LINGER, 0)
            self.router.setsockopt(zmq.RCVHWM, RECV_HWM)
            self.router.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES + CURVE_OVERHEAD_BYTES)
            if keys is not None:
                serve_securely(self.router, keys, PEER_DOMAIN)
            self.router.bind(bind)
            self._ctx = ctx
            self._keys = keys
            for peer, address in sorted(peers.items()):
                self.connect(peer, address, (peer_keys or {}).get(peer))
        except BaseException:
            self.close()
            raise

    def connect(self, peer: int, address: str, peer_key: bytes | None = None) -> zmq.Socket:
        """Open the DEALER to ``peer`` (a member added at run time, or one of the start); returns its monitor
        socket, which the caller polls. With keys, ``peer_key`` is the peer's public key."""
        if peer in self._out:
            raise ValueError(f"already connected to node {peer}")
        dealer = self._ctx.socket(zmq.DEALER)
        self._sockets.append(dealer)
        for opt, value in (
            (zmq.LINGER, 0),
            (zmq.SNDHWM, SEND_HWM),
            (zmq.IMMEDIATE, 1),
            (zmq.RECONNECT_IVL, RECONNECT_IVL_MS),
            (zmq.RECONNECT_IVL_MAX, RECONNECT_IVL_MAX_MS),
            (zmq.HEARTBEAT_IVL, HEARTBEAT_IVL_MS),
            (zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS),
            (zmq.HANDSHAKE_IVL, HANDSHAKE_IVL_MS),
        ):
            dealer.setsockopt(opt, value)
        if self._keys is not None:
            if peer_key is None:
                raise ValueError(f"no public key for node {peer}: with CurveZMQ every member needs one")
            connect_securely(dealer, self._keys, peer_key)
        monitor = dealer.get_monitor_socket(_UP_EVENTS | _DOWN_EVENTS)
        self._monitors[monitor] = peer
        dealer.connect(address)
        self._out[peer] = dealer
        return monitor

    def disconnect(self, peer: int) -> zmq.Socket | None:
        """Close the DEALER to ``peer`` (a member removed); returns its monitor socket, closed, for the caller to stop
        polling (None if there was no connection)."""
        dealer = self._out.pop(peer, None)
        if dealer is None:
            return None
        monitor = next(m for m, p in self._monitors.items() if p == peer)
        del self._monitors[monitor]
        try:
            dealer.disable_monitor()
        except zmq.ZMQError:
            pass
        monitor.close(linger=0)
        dealer.close(linger=0)
        self._sockets.remove(dealer)
        self.up.discard(peer)
        self.refused.discard(peer)
        return monitor

    @property
    def monitors(self) -> Iterable[zmq.Socket]:
        return self._monitors.keys()

    def send(self, peer: int, data: bytes) -> bool:
        """Queue ``data`` for ``peer`` without blocking; False when the peer is not connected or its queue is full."""
        try:
            self._out[peer].send(data, zmq.NOBLOCK, copy=len(data) < 4096)
            return True
        except zmq.Again:
            return False

    def recv(self) -> list[zmq.Frame] | None:
        """The next incoming message's frames (routing id first), or None when none is waiting."""
        try:
            return self.router.recv_multipart(zmq.NOBLOCK, copy=False)
        except zmq.Again:
            return None

    def on_monitor(self, monitor: zmq.Socket) -> list[tuple[int, bool]]:
        """Read the monitor's pending events; returns (peer, is_up) for each up/down transition."""
        peer = self._monitors.get(monitor)
        if peer is None:  # disconnected (a removed member) after the poll that reported it
            return []
        changes: list[tuple[int, bool]] = []
        while True:
            try:
                event = recv_monitor_message(monitor, zmq.NOBLOCK)
            except zmq.Again:
                break
            kind = event["event"]
            if kind & _UP_EVENTS and peer not in self.up:
                self.up.add(peer)
                changes.append((peer, True))
            if kind & zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                self.refused.add(peer)
            elif kind & _DOWN_EVENTS and peer in self.up:
                self.up.discard(peer)
                changes.append((peer, False))
        return changes

    def close(self) -> None:
        """Close every socket at once (LINGER 0: nothing is kept for delivery after stop)."""
        for dealer in self._out.values():
            try:
                dealer.disable_monitor()
            except zmq.ZMQError:
                pass
        for monitor in self._monitors:
            monitor.close(linger=0)
        for sock in self._sockets:
            sock.close(linger=0)
        self._monitors.clear()
        self._out.clear()
        self._sockets.clear()


def peer_address(frame: zmq.Frame) -> str:
    """The IP address the frame came from (for drop reports), or '?' when zmq cannot tell."""
    try:
        return frame.get("Peer-Address")
    except (zmq.ZMQError, TypeError, AttributeError):
        return "?"
