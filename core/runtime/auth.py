"""Who is on the other end of a socket: CurveZMQ keys and the node's ZAP handler.

With a keyring (quorumlab.core.keys), every socket of a node is a CURVE server
(encrypted, and only keys the handler accepts complete the handshake):

=================  ====================  ==============================================
socket             ZAP domain            accepted keys, and the User-Id they get
=================  ====================  ==============================================
peer ROUTER        ``quorumlab-peer``    member nodes' keys -> ``node:<id>``
control ROUTER     ``quorumlab-control`` clients' keys -> ``<role>:<name>``
events PUB         ``quorumlab-events``  clients' keys -> ``<role>:<name>``
=================  ====================  ==============================================

libzmq asks the handler (RFC 27, ZAP) once per connection, during the
handshake; the node answers from its own loop. Each message then carries the
User-Id of the connection it came on: the runtime checks that a peer message's
claimed sender is the member whose key made the connection, and that a control
request's command is allowed to that client's role (quorumlab.core.keys.ALLOWED).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import zmq
from zmq.utils import z85

from quorumlab.core.keys import KeyPair, Keyring, KeyringError

ZAP_ENDPOINT = "inproc://zeromq.zap.01"
PEER_DOMAIN = b"quorumlab-peer"
CONTROL_DOMAIN = b"quorumlab-control"
EVENTS_DOMAIN = b"quorumlab-events"
NODE_PREFIX = "node:"


def serve_securely(sock: zmq.Socket, pair: KeyPair, domain: bytes) -> None:
    """Make ``sock`` a CURVE server that asks the ZAP handler about every client (before it binds)."""
    sock.curve_secretkey = pair.secret
    sock.curve_publickey = pair.public
    sock.zap_domain = domain
    sock.curve_server = True


def connect_securely(sock: zmq.Socket, pair: KeyPair, server_public: bytes) -> None:
    """Make ``sock`` a CURVE client of the server whose public key is ``server_public`` (before it connects)."""
    sock.curve_secretkey = pair.secret
    sock.curve_publickey = pair.public
    sock.curve_serverkey = server_public


@dataclass(frozen=True)
class Refusal:
    """A handshake the handler refused: from where, on which socket, and why."""

    address: str
    domain: str
    reason: str


class ZapHandler:
    """Answers the ZAP requests of one context's CURVE sockets from a keyring (bind it before those sockets)."""

    def __init__(self, ctx: zmq.Context, keyring: Keyring) -> None:
        self.keyring = keyring
        self.sock = ctx.socket(zmq.REP)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(ZAP_ENDPOINT)
        self.accepted = 0
        self.refused = 0

    def handle(self) -> list[Refusal]:
        """Answer every waiting request; returns the refusals (for the node to count and report)."""
        refusals: list[Refusal] = []
        while True:
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return refusals
            reply, refusal = self._decide(frames)
            self.sock.send_multipart(reply)
            if refusal is None:
                self.accepted += 1
            else:
                self.refused += 1
                refusals.append(refusal)

    def _decide(self, frames: list[bytes]) -> tuple[list[bytes], Refusal | None]:
        if len(frames) < 6:
            version, request_id = (frames + [b"1.0", b""])[:2]
            return [version, request_id, b"500", b"malformed ZAP request", b"", b""], Refusal("?", "?", "malformed")
        version, request_id, domain, address, _identity, mechanism, *credentials = frames
        where = address.decode(errors="replace")
        what = domain.decode(errors="replace")

        def no(reason: str) -> tuple[list[bytes], Refusal]:
            return [version, request_id, b"400", reason.encode(), b"", b""], Refusal(where, what, reason)

        if mechanism != b"CURVE" or len(credentials) != 1 or len(credentials[0]) != 32:
            return no(f"mechanism {mechanism.decode(errors='replace')} is not accepted: CURVE keys are required")
        key = credentials[0]
        if domain == PEER_DOMAIN:
            node = self.keyring.node_of(key)
            if node is None:
                return no("not a member's key")
            user = f"{NODE_PREFIX}{node}"
        elif domain in (CONTROL_DOMAIN, EVENTS_DOMAIN):
            client = self.keyring.client_of(key)
            if client is None:
                return no("not a client's key")
            user = f"{client.role}:{client.name}"
        else:
            return no("unknown domain")
        return [version, request_id, b"200", b"OK", user.encode(), b""], None

    def close(self) -> None:
        self.sock.close(linger=0)


def member_of(user_id: str | None) -> int | None:
    """The node id in a peer connection's User-Id (``node:<id>``), or None."""
    if user_id is None or not user_id.startswith(NODE_PREFIX):
        return None
    try:
        return int(user_id[len(NODE_PREFIX):])
    except ValueError:
        return None


def role_of(user_id: str | None) -> str | None:
    """The role in a control connection's User-Id (``<role>:<name>``), or None."""
    if not user_id or ":" not in user_id:
        return None
    return user_id.split(":", 1)[0]


def user_id(frame: zmq.Frame) -> str | None:
    """The User-Id libzmq attached to a received message (None on a plain socket)."""
    try:
        return frame.get("User-Id")
    except (zmq.ZMQError, TypeError, AttributeError):
        return None


@dataclass
class ClientAuth:
    """A client's key pair and the public key of every endpoint it may connect to (address -> key)."""

    pair: KeyPair
    role: str
    servers: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def from_keyring(cls, keyring: Keyring, name: str, endpoints: dict[int, Iterable[str]]) -> "ClientAuth":
        """Client ``name``'s keys, for the endpoints of each node (node id -> its control/events addresses)."""
        pair, role = keyring.client_keys(name)
        servers: dict[str, bytes] = {}
        for node, addresses in endpoints.items():
            if node not in keyring.nodes:
                raise KeyringError(f"{keyring.path}: the keyring has no key for node {node}")
            for address in addresses:
                servers[address] = keyring.nodes[node]
        return cls(pair, role, servers)

    def secure(self, sock: zmq.Socket, address: str) -> None:
        """Make ``sock`` a CURVE client of the node at ``address`` (before it connects)."""
        server = self.servers.get(address)
        if server is None:
            raise KeyringError(f"no node key is known for {address}; is it a node of this keyring's cluster?")
        connect_securely(sock, self.pair, server)


def raw_key(z85_key: bytes) -> bytes:
    """The 32 bytes of a Z85 key (what ZAP requests carry)."""
    return z85.decode(z85_key)
