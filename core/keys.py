"""A cluster's keys: who may speak as a member, and who may use the control socket with which rights.

Every node has a CurveZMQ key pair; so does every client. A *keyring*
directory holds them::

    keyring.json            public keys only: node id -> key, client name -> key and role
    secret/node-<id>.key    that node's key pair (mode 0600)
    secret/client-<name>.key

``keyring.json`` is the cluster's membership of keys: copy it to every machine.
Each node needs only its own ``secret/node-<id>.key``; each client only its own
``secret/client-<name>.key``. Keys are Z85 text, as CurveZMQ writes them.

Client roles, from least to most (``ROLES``):

=========  ==============================================================
``read``   ``status``, ``state_machine``, reads, and subscribing to events
``client`` what ``read`` may, and ``propose`` (write to the state machine)
``admin``  everything: ``stop``, ``partition``, ``heal``, ``fire``, ``transfer`` too
=========  ==============================================================
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Iterable

import zmq
from zmq.utils import z85

from quorumlab.core.errors import QuorumlabError

KEYRING_FILE = "keyring.json"
SECRET_DIR = "secret"
ROLES = ("read", "client", "admin")
ALLOWED: dict[str, frozenset[str]] = {
    "read": frozenset({"status", "state_machine", "read"}),
    "client": frozenset({"status", "state_machine", "read", "propose"}),
    "admin": frozenset({"status", "state_machine", "read", "propose", "stop", "partition", "heal", "fire",
                        "transfer", "member"}),
}
"""Control commands each role may send."""
DEFAULT_CLIENTS = {"admin": "admin", "client": "client", "reader": "read"}
"""The clients ``create_keyring`` makes unless told otherwise."""
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class KeyringError(QuorumlabError):
    """A keyring that is missing, damaged, or lacks the key asked for; the message says which file and what to do."""


@dataclass(frozen=True)
class KeyPair:
    """A CurveZMQ key pair, Z85 text (40 characters each)."""

    public: bytes
    secret: bytes


@dataclass(frozen=True)
class ClientKey:
    """A client's public key and role."""

    name: str
    public: bytes
    role: str


class Keyring:
    """The public keys of a cluster (``keyring.json``) and access to the secret keys kept beside them."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.path.abspath(os.fspath(path))
        file = os.path.join(self.path, KEYRING_FILE)
        try:
            with open(file, "rb") as fh:
                doc = json.load(fh)
        except FileNotFoundError:
            raise KeyringError(f"{file}: no keyring here; create one with `bench keys create {self.path} --nodes N`") from None
        except (OSError, ValueError) as exc:
            raise KeyringError(f"{file}: cannot read the keyring: {exc}") from None
        try:
            self.nodes: dict[int, bytes] = {int(i): _key(k, file) for i, k in doc["nodes"].items()}
            self.clients: dict[str, ClientKey] = {
                name: ClientKey(name, _key(c["key"], file), _role(c["role"], file)) for name, c in doc["clients"].items()
            }
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise KeyringError(f"{file}: not a quorumlab keyring ({exc})") from None
        self._node_of = {z85.decode(k): i for i, k in self.nodes.items()}
        self._client_of = {z85.decode(c.public): c for c in self.clients.values()}

    def learn_node(self, node_id: int, public: bytes) -> None:
        """Know member ``node_id``'s public key (Z85) without it being in the file: a member added at run time whose
        key came in the cluster's configuration. A different key already held for that id is refused."""
        _key(public.decode() if isinstance(public, bytes) else public, "the configuration")
        public = public if isinstance(public, bytes) else public.encode()
        held = self.nodes.get(node_id)
        if held is not None and held != public:
            raise KeyringError(f"{self.path}: node {node_id} already has another key here; the configuration's key "
                               "for it is refused")
        self.nodes[node_id] = public
        self._node_of[z85.decode(public)] = node_id

    # -- who is this key? (the node's ZAP handler asks, with the raw 32-byte key) --------

    def node_of(self, raw_key: bytes) -> int | None:
        """The member id whose public key this is, or None."""
        return self._node_of.get(raw_key)

    def client_of(self, raw_key: bytes) -> ClientKey | None:
        """The client whose public key this is, or None."""
        return self._client_of.get(raw_key)

    # -- secrets --------------------------------------------------------------------------

    def node_keys(self, node_id: int) -> KeyPair:
        """Node ``node_id``'s key pair; KeyringError when its secret file is not here."""
        if node_id not in self.nodes:
            raise KeyringError(f"{self.path}: the keyring has no key for node {node_id} (nodes: {sorted(self.nodes)}); "
                               f"add one with `bench keys add-node {self.path} {node_id}`")
        return self._secret(f"node-{node_id}.key", self.nodes[node_id])

    def client_keys(self, name: str) -> tuple[KeyPair, str]:
        """Client ``name``'s key pair and role."""
        client = self.clients.get(name)
        if client is None:
            raise KeyringError(f"{self.path}: the keyring has no client {name!r} (clients: {sorted(self.clients)}); "
                               f"add one with `bench keys add-client {self.path} {name} --role client`")
        return self._secret(f"client-{name}.key", client.public), client.role

    def _secret(self, filename: str, public: bytes) -> KeyPair:
        file = os.path.join(self.path, SECRET_DIR, filename)
        try:
            with open(file, "rb") as fh:
                doc = json.load(fh)
            pair = KeyPair(_key(doc["public"], file), _key(doc["secret"], file))
        except FileNotFoundError:
            raise KeyringError(f"{file}: the secret key is not on this machine") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyringError(f"{file}: cannot read the secret key: {exc}") from None
        if pair.public != public:
            raise KeyringError(f"{file}: its public key is not the one {KEYRING_FILE} lists; the files do not belong together")
        if zmq.curve_public(pair.secret) != pair.public:
            raise KeyringError(f"{file}: the secret key does not match its public key")
        return pair


def _key(text: object, file: str) -> bytes:
    if not isinstance(text, str) or len(text) != 40:
        raise ValueError(f"a key in {file} is not 40 characters of Z85")
    raw = text.encode()
    z85.decode(raw)
    return raw


def _role(role: object, file: str) -> str:
    if role not in ROLES:
        raise ValueError(f"role {role!r} in {file} is not one of {', '.join(ROLES)}")
    return str(role)


def _write_secret(path: str, pair: KeyPair) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"public": pair.public.decode(), "secret": pair.secret.decode()}, fh)
        fh.write("\n")


def _save(path: str, nodes: dict[int, bytes], clients: dict[str, ClientKey]) -> None:
    doc = {
        "format": 1,
        "nodes": {str(i): nodes[i].decode() for i in sorted(nodes)},
        "clients": {n: {"key": c.public.decode(), "role": c.role} for n, c in sorted(clients.items())},
    }
    tmp = os.path.join(path, KEYRING_FILE + ".tmp")
    with open(tmp, "w") as fh:
        json.dump(doc, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, os.path.join(path, KEYRING_FILE))


def _new_pair() -> KeyPair:
    public, secret = zmq.curve_keypair()
    return KeyPair(public, secret)


def create_keyring(path: str | os.PathLike, node_ids: Iterable[int],
                   clients: dict[str, str] | None = None) -> Keyring:
    """A new keyring at ``path`` with a key pair for each node and each client (name -> role)."""
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(os.path.join(path, KEYRING_FILE)):
        raise KeyringError(f"{path}: a keyring already exists here; add keys with `bench keys add-node/add-client`")
    os.makedirs(os.path.join(path, SECRET_DIR), mode=0o700, exist_ok=True)
    os.chmod(os.path.join(path, SECRET_DIR), 0o700)
    nodes: dict[int, bytes] = {}
    for i in sorted(set(node_ids)):
        if not 1 <= i <= 0xFFFFFFFF:
            raise KeyringError(f"node ids are 1..{0xFFFFFFFF}, got {i}")
        pair = _new_pair()
        _write_secret(os.path.join(path, SECRET_DIR, f"node-{i}.key"), pair)
        nodes[i] = pair.public
    made: dict[str, ClientKey] = {}
    for name, role in (DEFAULT_CLIENTS if clients is None else clients).items():
        made[name] = _new_client(path, name, role)
    _save(path, nodes, made)
    return Keyring(path)


def _new_client(path: str, name: str, role: str) -> ClientKey:
    if not _NAME.match(name):
        raise KeyringError(f"client name {name!r}: use 1-64 letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise KeyringError(f"role {role!r} is not one of {', '.join(ROLES)}")
    pair = _new_pair()
    _write_secret(os.path.join(path, SECRET_DIR, f"client-{name}.key"), pair)
    return ClientKey(name, pair.public, role)


def add_node(path: str | os.PathLike, node_id: int) -> Keyring:
    """Add a key pair for node ``node_id`` to the keyring at ``path``."""
    ring = Keyring(path)
    if node_id in ring.nodes:
        raise KeyringError(f"{ring.path}: node {node_id} already has a key")
    pair = _new_pair()
    _write_secret(os.path.join(ring.path, SECRET_DIR, f"node-{node_id}.key"), pair)
    _save(ring.path, {**ring.nodes, node_id: pair.public}, ring.clients)
    return Keyring(ring.path)


def add_client(path: str | os.PathLike, name: str, role: str) -> Keyring:
    """Add a key pair for client ``name`` with ``role`` to the keyring at ``path``."""
    ring = Keyring(path)
    if name in ring.clients:
        raise KeyringError(f"{ring.path}: client {name!r} already has a key")
    client = _new_client(ring.path, name, role)
    _save(ring.path, ring.nodes, {**ring.clients, name: client})
    return Keyring(ring.path)
