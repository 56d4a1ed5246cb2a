"""The key-value state machine: operations, at-most-once application of retried commands, command encoding."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quorumlab.algorithms.raft import Raft
from quorumlab.core.kv import (
    CAS,
    CAS_MISMATCH,
    DELETE,
    GET,
    NOT_FOUND,
    OK,
    PUT,
    REUSED,
    SESSION_WINDOW,
    STALE,
    Command,
    CommandError,
    KVStore,
    Result,
)
from quorumlab.core.sim import Simulation


def run(store: KVStore, *commands: Command) -> list[Result]:
    out = []
    for c in commands:
        out.append(Result.decode(store.apply(store.applied_index + 1, c.encode())))
    return out


def test_put_get_delete_cas():
    s = KVStore()
    put, get, cas_ok, cas_bad, delete, get_gone, delete_gone = run(
        s,
        Command(1, 1, PUT, b"k", b"v1"),
        Command(1, 2, GET, b"k"),
        Command(1, 3, CAS, b"k", b"v2", b"v1"),
        Command(1, 4, CAS, b"k", b"v3", b"v1"),
        Command(1, 5, DELETE, b"k"),
        Command(1, 6, GET, b"k"),
        Command(1, 7, DELETE, b"k"),
    )
    assert put == Result(OK, None) and get == Result(OK, b"v1")
    assert cas_ok == Result(OK, b"v1") and cas_bad == Result(CAS_MISMATCH, b"v2")
    assert delete == Result(OK, b"v2") and get_gone == Result(NOT_FOUND) and delete_gone == Result(NOT_FOUND)


def test_cas_with_no_expected_value_creates_only_an_absent_key():
    s = KVStore()
    first, second = run(s, Command(1, 1, CAS, b"k", b"a", None), Command(1, 2, CAS, b"k", b"b", None))
    assert first.ok and second.status == CAS_MISMATCH and s.data == {b"k": b"a"}


def test_a_retried_command_is_applied_once_and_answered_with_its_first_result():
    s = KVStore()
    inc = Command(9, 1, CAS, b"n", b"1", None)
    first, retry = run(s, inc, inc)
    assert first.ok and retry == first  # not CAS_MISMATCH: the retry was recognised, not re-executed
    run(s, Command(9, 2, PUT, b"n", b"2"))
    (late,) = run(s, inc)
    assert late == first and s.data[b"n"] == b"2"


def test_sequence_numbers_older_than_the_session_window_are_refused():
    s = KVStore()
    run(s, *[Command(3, q, PUT, b"k", b"%d" % q) for q in range(1, SESSION_WINDOW + 3)])
    (old,) = run(s, Command(3, 1, PUT, b"k", b"again"))
    assert old.status == STALE and s.data[b"k"] != b"again"


def test_a_different_command_under_a_used_client_and_seq_is_refused_not_answered_with_the_first_result():
    # Two clients that share an id (or one restarted with its sequence reset): the second command with
    # the same (client, seq) must not get the first one's cached answer as if it had been applied.
    s = KVStore()
    (first,) = run(s, Command(5, 1, PUT, b"a", b"1"))
    (second,) = run(s, Command(5, 1, PUT, b"b", b"2"))
    assert first.ok and second.status == REUSED
    assert s.data == {b"a": b"1"}


def test_a_large_command_is_told_apart_from_a_retry_by_its_digest():
    s = KVStore()
    big = Command(5, 1, PUT, b"k", b"x" * 1000)
    (first, retry) = run(s, big, big)
    (other,) = run(s, Command(5, 1, PUT, b"k", b"y" * 1000))
    assert first.ok and retry == first and other.status == REUSED and s.data[b"k"] == b"x" * 1000


def test_sessions_are_bounded_and_the_least_recently_active_client_is_forgotten_first():
    s = KVStore(max_sessions=3)
    run(s, *[Command(c, 1, PUT, b"k%d" % c, b"v") for c in (1, 2, 3)])
    run(s, Command(1, 2, GET, b"k1"))  # client 1 is active again: client 2 is now the oldest
    run(s, Command(4, 1, PUT, b"k4", b"v"))
    assert list(s.sessions) == [3, 1, 4]


def test_no_op_and_foreign_entries_change_nothing_and_apply_is_in_order():
    s = KVStore()
    assert s.apply(1, b"") is None and s.apply(2, b"not a kv command") is None and s.data == {}
    with pytest.raises(ValueError, match="in order, once"):
        s.apply(2, Command(1, 1, PUT, b"k", b"v").encode())


@given(
    st.integers(0, 2**63 - 1), st.integers(0, 2**63 - 1), st.sampled_from([PUT, GET, DELETE, CAS]),
    st.binary(max_size=40), st.binary(max_size=40), st.one_of(st.none(), st.binary(max_size=40)),
)
def test_commands_round_trip_through_their_encoding(client, seq, op, key, value, expected):
    cmd = Command(client, seq, op, key, value if op in (PUT, CAS) else b"", expected if op == CAS else None)
    assert Command.decode(cmd.encode()) == cmd


@given(st.binary(max_size=60))
def test_garbage_is_never_mistaken_for_a_command_silently(data):
    try:
        cmd = Command.decode(data)
    except CommandError:
        return
    assert cmd.encode() == data


def test_a_cas_whose_expected_flag_is_neither_0_nor_1_is_not_a_command():
    """One command, one encoding: decode and apply both refuse a flag byte other than 0 or 1 (found by fuzzing)."""
    good = Command(1, 1, CAS, b"k", b"v2", b"v1").encode()
    flag = len(good) - len(b"v1") - 5
    assert good[flag] == 1
    for byte in (2, 0x3B, 0xFF):
        forged = good[:flag] + bytes([byte]) + good[flag + 1 :]
        with pytest.raises(CommandError, match="cas flag"):
            Command.decode(forged)
        store = KVStore()
        assert store.apply(1, forged) is None and store.data == {} and store.sessions == {}


def _slow_apply(store: dict, data: bytes) -> Result | None:
    """The store's rules spelled out with Command.decode (what KVStore.apply's in-place parse must match)."""
    try:
        cmd = Command.decode(data)
    except CommandError:
        return None
    old = store.get(cmd.key)
    if cmd.op == PUT:
        store[cmd.key] = cmd.value
        return Result(OK, old)
    if cmd.op == GET:
        return Result(OK, old) if old is not None else Result(NOT_FOUND)
    if cmd.op == DELETE:
        return Result(NOT_FOUND) if old is None else Result(OK, store.pop(cmd.key))
    if old != cmd.expected:
        return Result(CAS_MISMATCH, old)
    store[cmd.key] = cmd.value
    return Result(OK, old)


command_or_garbage = st.one_of(
    st.tuples(
        st.sampled_from([PUT, GET, DELETE, CAS, 9]), st.sampled_from([b"a", b"b", b""]), st.binary(max_size=3),
        st.one_of(st.none(), st.binary(max_size=3)), st.integers(-3, 0),
    ),
    st.binary(max_size=40),
)


@given(st.lists(command_or_garbage, max_size=30))
def test_fast_in_place_apply_agrees_with_the_decoded_rules(items):
    """Well-formed commands (each with a new sequence number), cut-off ones, unknown ops and random bytes."""
    store, model = KVStore(), {}
    for i, item in enumerate(items, start=1):
        if isinstance(item, tuple):
            op, key, value, expected, cut = item
            cmd = Command(7, i, op, key, value if op in (PUT, CAS) else b"", expected if op == CAS else None)
            data = cmd.encode()[: cut or None]
        else:
            data = item
        expected_result = _slow_apply(model, data)
        got = store.apply(i, data)
        if expected_result is None:
            assert got is None, f"{data!r} is not a command but was applied"
        else:
            assert Result.decode(got) == expected_result
    assert store.data == model


def test_every_node_of_a_simulated_cluster_builds_the_same_store():
    sim = Simulation(Raft, 3, seed=6)
    assert sim.run_until(lambda s: s.leader() is not None, 3_000)
    commands = [Command(1, q, PUT, b"k%d" % (q % 4), b"v%d" % q) for q in range(1, 30)]
    commands += [Command(1, 5, PUT, b"k1", b"retry")]  # a retry of seq 5: must not apply
    subs = [sim.submit(c.encode()) for c in commands]
    assert sim.run_until(lambda s: all(x.done for x in subs), 2_000)
    sim.run_for(300)
    stores = []
    for i in sim.ids:
        store = KVStore()
        for index, data in enumerate(sim.applied(i), start=1):
            store.apply(index, data)
        stores.append(store.data)
    assert stores[0] == stores[1] == stores[2]
    assert b"retry" not in stores[0].values() and stores[0][b"k1"] == b"v29"
