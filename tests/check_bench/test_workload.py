"""The workload's calls and how answers and errors become history outcomes."""
from __future__ import annotations

import pytest

from quorumlab.bench.check.workload import Call, ClientWorkload, answer, command, outcome_of
from quorumlab.core.check import FAIL, INFO, OK
from quorumlab.core.client import ClientError, CommandFailed, Timeout
from quorumlab.core.kv import CAS, CAS_MISMATCH, NOT_FOUND, REUSED, STALE, Command, KVStore, Result


def calls(client: int, seed: int, n: int = 200) -> list[Call]:
    work = ClientWorkload(client, seed, keys=5)
    return [work.next() for _ in range(n)]


def test_a_seed_fixes_every_call_of_every_client():
    assert calls(1, 7) == calls(1, 7)
    assert calls(1, 7) != calls(2, 7)
    assert calls(1, 7) != calls(1, 8)


def test_every_written_value_is_unique_across_clients():
    written = [c.args[-1] for client in (1, 2, 3) for c in calls(client, 0) if c.op in ("put", "cas")]
    assert len(written) == len(set(written))


def test_every_kind_of_call_is_drawn_over_the_given_keys():
    drawn = calls(1, 0, 500)
    assert {c.op for c in drawn} == {"get", "put", "cas", "delete"}
    assert {c.key for c in drawn} == {f"k{i}" for i in range(5)}


def test_a_cas_expects_what_its_client_last_saw_on_that_key():
    work = ClientWorkload(1, 0, keys=1)
    work.saw(Call("put", "k0", ("1.1",)), None)
    cas = next(c for c in iter(work.next, None) if c.op == "cas")
    assert cas.args[0] == "1.1"
    work.saw(Call("delete", "k0"), True)
    cas = next(c for c in iter(work.next, None) if c.op == "cas")
    assert cas.args[0] is None


@pytest.mark.parametrize("error, outcome", [
    (ClientError("refused", applied=False), FAIL),
    (CommandFailed("node 2 refused the request: invalid", applied=False), FAIL),
    (Timeout("not applied within 2.0s"), INFO),
    (CommandFailed("leadership lost", applied=None), INFO),
    (CommandFailed("applied, reply too large", applied=True), INFO),
    (OSError("connection reset"), INFO),
    (RuntimeError("anything unexpected"), INFO),
])
def test_only_a_command_certainly_not_applied_is_recorded_as_failed(error, outcome):
    assert outcome_of(error) == outcome


def test_commands_are_what_kvclient_sends_and_answers_read_as_kvclient_reads_them():
    store = KVStore()
    put = Call("put", "k", ("1.1",))
    assert answer(put, store.apply(1, command(put, 9, 1))) == (OK, None)
    get = Call("get", "k")
    assert answer(get, store.apply(2, command(get, 9, 2))) == (OK, b"1.1")
    cas = Call("cas", "k", ("nope", "1.3"))
    assert answer(cas, store.apply(3, command(cas, 9, 3))) == (OK, False)
    assert Command.decode(command(cas, 9, 3)).op == CAS
    delete = Call("delete", "k")
    assert answer(delete, store.apply(4, command(delete, 9, 4))) == (OK, True)
    assert answer(delete, store.apply(5, command(delete, 9, 5))) == (OK, False)
    assert answer(get, Result(NOT_FOUND).encode()) == (OK, None)
    assert answer(cas, Result(CAS_MISMATCH, b"x").encode()) == (OK, False)


def test_a_reused_sequence_number_fails_and_a_forgotten_one_is_indeterminate():
    get = Call("get", "k")
    assert answer(get, Result(REUSED).encode()) == (FAIL, None)
    assert answer(get, Result(STALE).encode()) == (INFO, None)
