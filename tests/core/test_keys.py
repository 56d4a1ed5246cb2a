"""Keyrings: key pairs made, kept secret, found by public key; the ZAP handler accepts exactly the right keys."""
from __future__ import annotations

import json
import os
import stat

import pytest
import zmq

from quorumlab.core.keys import ALLOWED, ROLES, Keyring, KeyringError, add_client, add_node, create_keyring
from quorumlab.core.runtime.auth import CONTROL_DOMAIN, EVENTS_DOMAIN, PEER_DOMAIN, ZapHandler, member_of, raw_key, role_of


def test_a_new_keyring_has_a_pair_per_node_and_per_client_with_secrets_readable_by_the_owner_only(tmp_path):
    ring = create_keyring(tmp_path, [1, 2, 3])
    assert sorted(ring.nodes) == [1, 2, 3]
    assert {c.name: c.role for c in ring.clients.values()} == {"admin": "admin", "client": "client", "reader": "read"}
    for name in os.listdir(tmp_path / "secret"):
        assert stat.S_IMODE(os.stat(tmp_path / "secret" / name).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "secret").st_mode) == 0o700
    pair = ring.node_keys(2)
    assert pair.public == ring.nodes[2] and zmq.curve_public(pair.secret) == pair.public
    assert "secret" not in (tmp_path / "keyring.json").read_text()


def test_keys_are_found_by_their_raw_public_key(tmp_path):
    ring = create_keyring(tmp_path, [1, 2])
    assert ring.node_of(raw_key(ring.nodes[2])) == 2
    assert ring.client_of(raw_key(ring.clients["reader"].public)).role == "read"
    assert ring.node_of(raw_key(ring.clients["admin"].public)) is None


def test_roles_grow_from_read_to_client_to_admin():
    assert ROLES == ("read", "client", "admin")
    assert ALLOWED["read"] < ALLOWED["client"] < ALLOWED["admin"]
    assert "propose" not in ALLOWED["read"] and "stop" not in ALLOWED["client"]


def test_adding_keys_and_the_errors_that_say_what_to_do(tmp_path):
    create_keyring(tmp_path, [1])
    add_node(tmp_path, 4)
    ring = add_client(tmp_path, "ops", "admin")
    assert 4 in ring.nodes and ring.clients["ops"].role == "admin"
    with pytest.raises(KeyringError, match="already exists"):
        create_keyring(tmp_path, [1])
    with pytest.raises(KeyringError, match="no key for node 9.*bench keys add-node"):
        ring.node_keys(9)
    with pytest.raises(KeyringError, match="not one of read, client, admin"):
        add_client(tmp_path, "x", "root")
    with pytest.raises(KeyringError, match="no keyring here"):
        Keyring(tmp_path / "elsewhere")


def test_a_secret_that_does_not_match_the_keyring_is_refused(tmp_path):
    create_keyring(tmp_path / "a", [1])
    create_keyring(tmp_path / "b", [1])
    os.replace(tmp_path / "b" / "secret" / "node-1.key", tmp_path / "a" / "secret" / "node-1.key")
    with pytest.raises(KeyringError, match="do not belong together"):
        Keyring(tmp_path / "a").node_keys(1)


def test_a_missing_secret_says_it_is_not_on_this_machine(tmp_path):
    create_keyring(tmp_path, [1, 2])
    os.remove(tmp_path / "secret" / "node-2.key")
    with pytest.raises(KeyringError, match="not on this machine"):
        Keyring(tmp_path).node_keys(2)


def _zap(handler: ZapHandler, ctx: zmq.Context, domain: bytes, key: bytes, mechanism: bytes = b"CURVE") -> list[bytes]:
    req = ctx.socket(zmq.REQ)
    req.connect("inproc://zeromq.zap.01")
    req.send_multipart([b"1.0", b"7", domain, b"127.0.0.1", b"", mechanism, key])
    assert handler.sock.poll(2000)
    handler.handle()
    reply = req.recv_multipart()
    req.close(linger=0)
    return reply


def test_the_zap_handler_gives_members_and_clients_their_user_ids_and_refuses_the_rest(tmp_path):
    ring = create_keyring(tmp_path, [1, 2])
    ctx = zmq.Context()
    handler = ZapHandler(ctx, ring)
    try:
        node2, reader = raw_key(ring.nodes[2]), raw_key(ring.clients["reader"].public)
        stranger = raw_key(zmq.curve_keypair()[0])
        assert _zap(handler, ctx, PEER_DOMAIN, node2)[2:5] == [b"200", b"OK", b"node:2"]
        assert _zap(handler, ctx, CONTROL_DOMAIN, reader)[4] == b"read:reader"
        assert _zap(handler, ctx, EVENTS_DOMAIN, reader)[2] == b"200"
        assert _zap(handler, ctx, PEER_DOMAIN, reader)[2] == b"400", "a client key may not speak as a member"
        assert _zap(handler, ctx, CONTROL_DOMAIN, node2)[2] == b"400", "a node key is no client key"
        assert _zap(handler, ctx, PEER_DOMAIN, stranger)[2] == b"400"
        assert _zap(handler, ctx, PEER_DOMAIN, b"", mechanism=b"NULL")[2] == b"400"
        assert (handler.accepted, handler.refused) == (3, 4)
    finally:
        handler.close()
        ctx.destroy(linger=0)


def test_user_ids_parse_back_into_member_and_role():
    assert member_of("node:12") == 12 and member_of("admin:ops") is None and member_of(None) is None
    assert role_of("read:reader") == "read" and role_of("") is None and role_of(None) is None


def test_the_keyring_file_lists_public_keys_only(tmp_path):
    create_keyring(tmp_path, [1])
    doc = json.loads((tmp_path / "keyring.json").read_text())
    assert set(doc) == {"format", "nodes", "clients"} and set(doc["clients"]["admin"]) == {"key", "role"}
