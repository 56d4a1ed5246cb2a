"""Fuzz target: the parsers of the control protocol (``quorumlab.core.runtime.control``), node side and client side.

The input is one request body for ``parse_request`` and ``_unwrap`` (the JSON reply
parser), and, read as a blob list of frames, a frame list for ``find_propose`` and
``parse_propose_reply``. Rules: ``parse_request`` returns a request with a known command or
raises ``ControlError``; ``find_propose`` points at a ``PROPOSE`` marker among the first
frames after the envelope, or says -1; ``parse_propose_reply`` and ``_unwrap`` never raise,
and a reply dict has the shape the clients read (results as bytes, or an error string with
an int leader and a string address when given).
"""
from __future__ import annotations

import base64
import json

from quorumlab.core.framing import pack_blobs
from quorumlab.core.kv import PUT, Command
from quorumlab.core.runtime.control import (
    COMMANDS,
    PROPOSE,
    READ,
    REPLY_ERROR,
    REPLY_OK,
    ControlError,
    _unwrap,
    find_propose,
    parse_propose_reply,
    parse_request,
)
from tests.fuzz.target import Target, outcome, split

TIMERS = ("election", "heartbeat", "flush", "commit_notify", "check_quorum", "detect", "round", "renew", "lease",
          "coordinator_silence", "answer_wait", "coordinator_wait", "quorum_lease", "no such timer")
"""Timer names of the registered algorithms (and one that none has), for the seeds and hypothesis."""
COMMAND = Command(1, 1, PUT, b"k", b"v").encode()


def run(data: bytes) -> None:
    request = outcome(lambda: parse_request(data), ControlError)
    if not isinstance(request, ControlError):
        assert isinstance(request, dict) and request["cmd"] in COMMANDS, f"parse_request passed {request!r}"
    _unwrap(data)
    frames = split(data)
    k = find_propose(frames)
    markers = (PROPOSE, READ)
    assert k == -1 or (1 <= k < 4 and frames[k] in markers and not set(markers) & set(frames[1:k])), f"marker at {k}"
    assert k >= 0 or not set(markers) & set(frames[1:4]), "find_propose missed the marker"
    check_propose_reply(parse_propose_reply(frames))


def check_propose_reply(reply: object) -> None:
    """A parsed binary propose reply has the shape ``KVClient`` reads."""
    assert isinstance(reply, dict) and reply.get("ok") in (True, False), f"reply {reply!r}"
    if reply["ok"]:
        assert all(type(r) is bytes for r in reply["results"]), f"results {reply!r}"
        return
    assert isinstance(reply.get("error"), str), f"error {reply!r}"
    leader, address = reply.get("leader"), reply.get("leader_address")
    assert leader is None or type(leader) is int, f"leader {leader!r}"
    assert address is None or isinstance(address, str), f"leader_address {address!r}"


def seeds() -> list[bytes]:
    data = base64.b64encode(COMMAND).decode()
    bodies = [{"cmd": "status"}, {"cmd": "heal"}, {"cmd": "stop"}, {"cmd": "state_machine"},
              {"cmd": "partition", "peers": [2, 3]}, {"cmd": "fire", "timer": "election"},
              {"cmd": "propose", "data": data}, {"cmd": "propose", "batch": [data, data]},
              {"ok": True, "result": {"role": "leader"}}, {"ok": False, "error": "not leader"}]
    frame_lists = [[b"rid", PROPOSE, pack_blobs([COMMAND])], [REPLY_OK, pack_blobs([b"\x00\x00"])],
                   [REPLY_ERROR, b'{"error": "not leader", "leader": 2, "leader_address": "tcp://127.0.0.1:7102"}']]
    return [json.dumps(b).encode() for b in bodies] + [pack_blobs(f) for f in frame_lists]


def json_values():
    """Any JSON document, small."""
    from hypothesis import strategies as st

    scalars = st.none() | st.booleans() | st.integers(-3, 1 << 70) | st.floats(allow_nan=False) | st.text(max_size=6)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                        max_leaves=6)


def requests():
    """Control requests as frame lists (after the ROUTER's identity frame): JSON commands and binary proposals."""
    from hypothesis import strategies as st

    b64 = st.binary(max_size=30).map(lambda b: base64.b64encode(b).decode())
    args = {"peers": st.lists(st.integers(0, 4), max_size=3) | json_values(), "timer": st.sampled_from(TIMERS) | json_values(),
            "data": b64 | st.just(base64.b64encode(COMMAND).decode()) | json_values(), "batch": st.lists(b64, max_size=4) | json_values()}
    json_body = st.fixed_dictionaries({"cmd": st.sampled_from(COMMANDS) | json_values()}, optional=args)
    json_request = st.tuples(st.lists(st.binary(max_size=4), max_size=2), json_body).map(
        lambda ed: [*ed[0], json.dumps(ed[1]).encode()])
    commands = st.lists(st.just(COMMAND) | st.binary(max_size=24), max_size=4)
    binary_request = st.tuples(st.lists(st.binary(max_size=4), max_size=2), commands).map(
        lambda ec: [*ec[0], PROPOSE, pack_blobs(ec[1])])
    return json_request | binary_request


def structured():
    from hypothesis import strategies as st

    from tests.fuzz.mutate import damaged

    reply_error = st.fixed_dictionaries({}, optional={"error": json_values(), "leader": json_values(),
                                                      "leader_address": json_values()})
    replies = (st.lists(st.binary(max_size=6), max_size=4).map(lambda r: [REPLY_OK, pack_blobs(r)])
               | reply_error.map(lambda d: [REPLY_ERROR, json.dumps(d).encode()]))
    bodies = requests().map(lambda frames: frames[-1])
    return damaged(bodies | (requests() | replies).map(pack_blobs))


TARGET = Target(run, seeds, structured)
