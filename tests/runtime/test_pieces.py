"""Small parts of the runtime: drop reporting, control protocol frames, event log lines, algorithm loading."""
from __future__ import annotations

import json
import os

import pytest

from quorumlab.core.errors import UnknownAlgorithmError
from quorumlab.core.runtime.control import REPLY_ERROR, ControlError, _unwrap, encode_reply, parse_propose_reply, parse_request
from quorumlab.core.runtime.counters import Counters, DropReporter
from quorumlab.core.runtime.eventlog import EventLog
from quorumlab.core.runtime.loader import algorithm_spec, import_root, load_algorithm
from tests.runtime.algos import Prober


def test_drops_are_reported_at_most_limit_times_a_window_in_all_with_the_suppressed_count():
    # A global limit: a flood that claims a new source id in every frame buys no extra report.
    r = DropReporter(limit=2, every_s=60)
    assert r.should_report(0.0)
    assert r.should_report(1.0)
    assert not r.should_report(10.0)
    assert not r.should_report(59.9)
    assert r.should_report(60.0)
    assert r.take_suppressed() == 2
    assert r.take_suppressed() == 0


def test_counters_snapshot_has_per_type_traffic_and_drop_reasons():
    c = Counters()
    c.on_sent("Vote", 30)
    c.on_sent("Vote", 30)
    c.on_recv("Beat", 12)
    c.on_bad("codec")
    c.dropped_partition += 1
    snap = c.snapshot()
    assert snap["sent"] == {"Vote": 2} and snap["bytes_sent"] == {"Vote": 60}
    assert snap["recv"] == {"Beat": 1} and snap["bytes_recv"] == {"Beat": 12}
    assert snap["dropped_bad"] == 1 and snap["dropped_bad_by_reason"] == {"codec": 1}
    assert snap["dropped_partition"] == 1
    json.dumps(snap)


@pytest.mark.parametrize("body", [b"\xff\xfe", b"null", b'{"cmd": 3}', b'{"cmd": "reboot"}'])
def test_malformed_control_requests_are_refused(body):
    with pytest.raises(ControlError):
        parse_request(body)


def test_control_replies_say_ok_or_carry_the_error():
    assert json.loads(encode_reply({"a": 1})) == {"ok": True, "result": {"a": 1}}
    assert json.loads(encode_reply(error="nope")) == {"ok": False, "error": "nope"}


def test_event_log_starts_a_fresh_line_after_a_torn_one(tmp_path):
    (tmp_path / "events.jsonl").write_bytes(b'{"kind": "started"}\n{"kind": "ro')
    log = EventLog(str(tmp_path), 3)
    log.record("started", {"algo": "x"})
    log.close()
    lines = (tmp_path / "events.jsonl").read_bytes().split(b"\n")
    assert lines[1] == b'{"kind": "ro'
    event = json.loads(lines[2])
    assert (event["node"], event["kind"], event["algo"]) == (3, "started", "x")


def test_algorithms_load_by_registered_name_or_module_and_class():
    assert load_algorithm("tests.runtime.algos:Prober") is Prober
    assert algorithm_spec(Prober) == "tests.runtime.algos:Prober"
    assert algorithm_spec("raft") == "raft"
    root = import_root("tests.runtime.algos:Prober")
    assert root is not None and os.path.isfile(os.path.join(root, "tests", "runtime", "algos.py"))
    with pytest.raises(UnknownAlgorithmError, match="no 'Nope'"):
        load_algorithm("tests.runtime.algos:Nope")
    with pytest.raises(UnknownAlgorithmError, match="not an ElectionAlgorithm"):
        load_algorithm("tests.runtime.algos:ProberConfig")
    with pytest.raises(UnknownAlgorithmError, match="available"):
        load_algorithm("no-such-algorithm")


def test_timer_lateness_is_summarised_for_status():
    c = Counters()
    for late in (0.4, 1.6, 9.0):
        c.on_timer(late)
    assert c.snapshot()["timers"] == {"fired": 3, "late_ms_mean": 3.667, "late_ms_max": 9.0, "late_over_5ms": 1}


def test_a_deeply_nested_control_request_is_refused_not_a_crash():
    from quorumlab.core.runtime.control import ControlError, parse_request

    with pytest.raises(ControlError, match="not JSON"):
        parse_request(b"[" * 200_000)


def test_a_propose_error_reply_keeps_its_error_and_leader_hint():
    doc = {"error": "not leader", "leader": 2, "leader_address": "tcp://127.0.0.1:7102"}
    assert parse_propose_reply([REPLY_ERROR, json.dumps(doc).encode()]) == {**doc, "ok": False}


@pytest.mark.parametrize(
    "body",
    [
        b'{"epror": "not leader", "leader": 2}',
        b'{"error": 5}',
        b'{"error": "not leader", "leader": [2]}',
        b'{"error": "not leader", "leader": true}',
        b'{"error": "not leader", "leader_address": {"a": 1}}',
        b'{"error": "not leader", "code": 3}',
        b"[" * 200_000,
    ],
)
def test_a_propose_error_reply_needs_an_error_string_and_a_leader_hint_clients_can_look_up(body):
    """Such replies went to KVClient as they were, and a list as leader hint crashed it (unhashable; found
    by fuzzing); deep nesting raised RecursionError out of the parser."""
    assert parse_propose_reply([REPLY_ERROR, body]) == {"ok": False, "error": "malformed propose reply",
                                                         "code": "internal"}


def test_a_deeply_nested_control_reply_is_an_error_not_a_crash():
    reply = _unwrap(b"[" * 200_000)
    assert isinstance(reply, ControlError) and "not JSON" in str(reply)


def test_the_node_serves_every_control_command_and_no_other():
    # A command added to the protocol without a handler must not fall through to something else (once: stop).
    from quorumlab.core.runtime.control import COMMANDS
    from quorumlab.core.runtime.node import Node

    node = Node(Prober, 1, {1: "tcp://127.0.0.1:1"}, "/nonexistent")
    assert set(node._commands) == set(COMMANDS) - {"propose"}
