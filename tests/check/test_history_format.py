"""The history file: what write_history writes load_history reads back, and every bad line is refused naming line and field."""
from __future__ import annotations

import io
import json

import pytest

from quorumlab.core.check import INFO, KVRegister, Model, check
from quorumlab.core.check.generate import generate
from quorumlab.core.check.history_format import HistoryFormatError, load_history, write_history
from tests.check.ops import H, cas, delete, get, put

HEADER = '{"format": "quorumlab-history", "version": 1, "model": "kv", "time_unit": "ms"}\n'
GOOD = {"client": 1, "op": "put", "key": "x", "args": ["a"], "invoke": 1.5, "complete": 2, "outcome": "ok",
        "result": None}


def load_text(text: str, model: Model | None = None):
    return load_history(io.StringIO(text), model)


def one(**fields) -> str:
    record = {**GOOD, **fields}
    return HEADER + json.dumps({k: v for k, v in record.items() if v is not ...}) + "\n"


def test_a_written_history_reads_back_the_same(tmp_path):
    ops = H(put(1, "x", "a", 0, 1, prev=None), get("c2", "x", 2, 3, "a"), cas(1, 7, None, 5, 4, 5, swapped=False),
            delete(2, "x", 6, 7, found=True), put(3, "x", "é", 8, outcome=INFO), get(3, "x", 9, 10, outcome="fail"))
    path = tmp_path / "h.jsonl"
    write_history(ops, path, time_unit="ms")
    loaded = load_history(path)
    assert loaded.operations() == ops and loaded.time_unit == "ms"
    assert path.read_text(encoding="utf-8").splitlines()[0] == \
        '{"format":"quorumlab-history","version":1,"model":"kv","time_unit":"ms"}'


def test_a_generated_history_survives_the_round_trip_and_checks_the_same(tmp_path):
    ops = generate(2000, keys=3, seed=4)
    write_history(ops, tmp_path / "g.jsonl")
    again = load_history(tmp_path / "g.jsonl").operations()
    assert again == ops
    assert check(again).verdict == check(ops).verdict


def test_blank_lines_are_skipped_and_indexes_count_operation_lines():
    text = HEADER + "\n" + json.dumps(GOOD) + "\n\n" + json.dumps({**GOOD, "invoke": 3, "complete": 4}) + "\n"
    ops = load_text(text).operations()
    assert [op.index for op in ops] == [0, 1]


def test_an_info_operation_may_leave_out_its_completion_time():
    ops = load_text(one(outcome="info", complete=..., result=...)).operations()
    assert ops[0].outcome == INFO and ops[0].complete is None


@pytest.mark.parametrize("text, line, field, message", [
    ("", 1, None, "empty file"),
    ("[1, 2]\n", 1, None, "a JSON object is needed, not list"),
    ('{"format": "other"}\n', 1, "format", "the first line must be the header"),
    ('{"format": "quorumlab-history", "version": 2}\n', 1, "version", "version 2 is not supported"),
    ('{"format": "quorumlab-history", "version": 1, "model": "queue"}\n', 1, "model", "for model 'queue'"),
    ('{"format": "quorumlab-history", "version": 1, "time_unit": "days"}\n', 1, "time_unit", "'days' is not one of"),
    ('{"format": "quorumlab-history", "version": 1, "colour": 1}\n', 1, "colour", "unknown header field"),
    (HEADER + '{"client": 1,\n', 2, None, "not JSON"),
    (one(outcome="maybe"), 2, "outcome", "'maybe' is not one of ok, fail, info"),
    (one(invoke=...), 2, "invoke", "missing"),
    (one(invoke="soon"), 2, "invoke", "is not a finite number"),
    (one(invoke=float("nan")), 2, "invoke", "is not a finite number"),
    (one(complete=1), 2, "complete", "1 is before invoke 1.5"),
    (one(complete=None), 2, "complete", "an ok operation needs a completion time"),
    (one(complete=True), 2, "complete", "is not a finite number or null"),
    (one(result=...), 2, "result", "an ok operation needs its result"),
    (one(outcome="fail", result="a"), 2, "result", "only an ok operation has a result"),
    (one(args="a"), 2, "args", "a list is needed"),
    (one(args=[]), 2, "args", "put takes [value]"),
    (one(args=[True]), 2, "args", "True is not a value for put"),
    (one(op="incr"), 2, "op", "'incr' is not one of put, get, delete, cas"),
    (one(key=[1]), 2, "key", "[1] is not a string or integer"),
    (one(client=None), 2, "client", "None is not a string or integer"),
    (one(op="cas", args=[None, "b"], result="b"), 2, "result", "cas returns true or false"),
    (one(complet=3), 2, "complet", "unknown field"),
])
def test_a_bad_file_is_refused_naming_the_line_and_field(text, line, field, message):
    with pytest.raises(HistoryFormatError) as err:
        load_text(text)
    assert (err.value.line, err.value.field) == (line, field)
    assert message in str(err.value)
    assert str(err.value).startswith(f"<history>, line {line}" + (f", field '{field}'" if field else ""))


def test_the_error_names_the_file_it_read(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text(one(outcome="maybe"), encoding="utf-8")
    with pytest.raises(HistoryFormatError, match=r"broken\.jsonl, line 2, field 'outcome'"):
        load_history(path)


def test_a_history_for_a_plugin_model_is_read_with_that_model():
    class Counter(Model):
        name = "counter"

    text = '{"format": "quorumlab-history", "version": 1, "model": "counter"}\n' + \
        json.dumps({**GOOD, "op": "incr", "args": []}) + "\n"
    assert load_text(text, Counter()).operations()[0].op == "incr"
    with pytest.raises(HistoryFormatError, match="for model 'counter', not 'kv'"):
        load_text(text, KVRegister())


def test_an_unknown_time_unit_is_refused_when_writing():
    with pytest.raises(ValueError, match="time_unit 'days'"):
        write_history([], io.StringIO(), time_unit="days")
