"""The history file: JSON lines, version 1. ``load_history`` reads one (errors name the line and field), ``write_history`` writes one.

The first line is a header, every other line one operation::

    {"format": "quorumlab-history", "version": 1, "model": "kv", "time_unit": "ns"}
    {"client": 1, "op": "put", "key": "x", "args": ["a"], "invoke": 1000, "complete": 1800, "outcome": "ok", "result": null}
    {"client": 2, "op": "get", "key": "x", "args": [], "invoke": 1200, "complete": null, "outcome": "info"}

``invoke``/``complete`` are numbers on one monotonic clock in ``time_unit``;
``complete`` is null only for an info operation that never got an answer.
``result`` is present for ok operations only. An operation's index (as in
counterexamples) is its position among the operation lines, from 0.
Blank lines are skipped; unknown fields are refused (a typo must not pass
as an absent field).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

from quorumlab.core.check.history import INFO, OK, OUTCOMES, History, Operation
from quorumlab.core.check.kv_model import KVRegister
from quorumlab.core.check.model import Model, OperationError

FORMAT = "quorumlab-history"
VERSION = 1
TIME_UNITS = ("ns", "us", "ms", "s")
FIELDS = ("client", "op", "key", "args", "invoke", "complete", "outcome", "result")
_REQUIRED = ("client", "op", "key", "args", "invoke", "outcome")


class HistoryFormatError(ValueError):
    """A history file that cannot be read; the message names the file, the line and the field."""

    def __init__(self, source: str, line: int, field: str | None, message: str) -> None:
        where = f"{source}, line {line}" + (f", field '{field}'" if field else "")
        super().__init__(f"{where}: {message}")
        self.source, self.line, self.field, self.message = source, line, field, message


def load_history(source: str | Path | IO[str], model: Model | None = None) -> History:
    """Read a history file (a path or an open text file), validating every operation against ``model`` (kv)."""
    model = model or KVRegister()
    if isinstance(source, (str, Path)):
        with open(source, encoding="utf-8") as f:
            return _read(f, str(source), model)
    return _read(source, getattr(source, "name", "<history>"), model)


def write_history(history: History | Iterable[Operation], target: str | Path | IO[str], model: str = "kv",
                  time_unit: str | None = None) -> None:
    """Write ``history`` (its operations in index order) as a version 1 history file."""
    unit = time_unit or (history.time_unit if isinstance(history, History) else "ns")
    if unit not in TIME_UNITS:
        raise ValueError(f"time_unit {unit!r} is not one of {', '.join(TIME_UNITS)}")
    ops = history.operations() if isinstance(history, History) else list(history)
    if isinstance(target, (str, Path)):
        with open(target, "w", encoding="utf-8") as f:
            _write(ops, f, model, unit)
    else:
        _write(ops, target, model, unit)


def _write(ops: list[Operation], f: IO[str], model: str, unit: str) -> None:
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    f.write(dumps({"format": FORMAT, "version": VERSION, "model": model, "time_unit": unit}) + "\n")
    for op in sorted(ops, key=lambda o: o.index):
        record = {"client": op.client, "op": op.op, "key": op.key, "args": list(op.args), "invoke": op.invoke,
                  "complete": op.complete, "outcome": op.outcome}
        if op.outcome == OK:
            record["result"] = op.result
        f.write(dumps(record) + "\n")


def _lines(f: IO[str]) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(f, start=1):
        if line.strip():
            yield number, line


def _read(f: IO[str], name: str, model: Model) -> History:
    lines = _lines(f)
    first = next(lines, None)
    if first is None:
        raise HistoryFormatError(name, 1, None, f"empty file: a history starts with a {FORMAT} header line")
    unit = _header(name, *first, model)
    ops = []
    for number, line in lines:
        ops.append(_operation(name, number, line, len(ops), model))
    history = History(time_unit=unit)
    history.extend(ops)
    return history


_decode = json.JSONDecoder().decode
_FIELD_SET = frozenset(FIELDS)
_REQUIRED_SET = frozenset(_REQUIRED)


def _object(name: str, number: int, line: str) -> dict:
    try:
        record = _decode(line)
    except json.JSONDecodeError as exc:
        raise HistoryFormatError(name, number, None, f"not JSON ({exc.msg} at column {exc.colno})") from None
    if type(record) is not dict:
        raise HistoryFormatError(name, number, None, f"a JSON object is needed, not {type(record).__name__}")
    return record


def _header(name: str, number: int, line: str, model: Model) -> str:
    record = _object(name, number, line)
    if record.get("format") != FORMAT:
        raise HistoryFormatError(name, number, "format", f"the first line must be the header with "
                                 f"\"format\": \"{FORMAT}\", got {record.get('format')!r}")
    if record.get("version") != VERSION:
        raise HistoryFormatError(name, number, "version", f"version {record.get('version')!r} is not supported "
                                 f"(this reader knows version {VERSION})")
    if record.get("model", model.name) != model.name:
        raise HistoryFormatError(name, number, "model", f"the history is for model {record['model']!r}, "
                                 f"not {model.name!r}")
    unit = record.get("time_unit", "ns")
    if unit not in TIME_UNITS:
        raise HistoryFormatError(name, number, "time_unit", f"{unit!r} is not one of {', '.join(TIME_UNITS)}")
    extra = set(record) - {"format", "version", "model", "time_unit"}
    if extra:
        raise HistoryFormatError(name, number, sorted(extra)[0], "unknown header field")
    return unit


def _time(value: Any) -> bool:
    kind = type(value)
    return (kind is int or kind is float) and math.isfinite(value)


def _operation(name: str, number: int, line: str, index: int, model: Model) -> Operation:
    record = _object(name, number, line)
    keys = record.keys()
    if not (_REQUIRED_SET <= keys and keys <= _FIELD_SET):
        missing = [f for f in _REQUIRED if f not in record]
        if missing:
            raise HistoryFormatError(name, number, missing[0], "missing")
        unknown = next(f for f in record if f not in _FIELD_SET)
        raise HistoryFormatError(name, number, unknown, f"unknown field (the fields are {', '.join(FIELDS)})")
    problem = _problem(record)
    if problem:
        raise HistoryFormatError(name, number, *problem)
    op = Operation(index, record["client"], record["op"], record["key"], tuple(record["args"]), record["invoke"],
                   record.get("complete"), record["outcome"], record.get("result"))
    try:
        model.validate(op)
    except OperationError as exc:
        raise HistoryFormatError(name, number, exc.field, exc.message) from None
    return op


def _problem(record: dict) -> tuple[str, str] | None:
    """(field, message) for the first thing wrong with an operation line's fields, or None."""
    outcome = record["outcome"]
    if outcome not in OUTCOMES:
        return "outcome", f"{outcome!r} is not one of {', '.join(OUTCOMES)}"
    if type(record["args"]) is not list:
        return "args", f"a list is needed, not {record['args']!r}"
    client = record["client"]
    if type(client) is not str and type(client) is not int:
        return "client", f"{client!r} is not a string or integer"
    if type(record["op"]) is not str:
        return "op", f"{record['op']!r} is not a string"
    invoke, complete = record["invoke"], record.get("complete")
    if not _time(invoke):
        return "invoke", f"{invoke!r} is not a finite number"
    if complete is None:
        if outcome != INFO:
            return "complete", f"an {outcome} operation needs a completion time"
    elif not _time(complete):
        return "complete", f"{complete!r} is not a finite number or null"
    elif complete < invoke:
        return "complete", f"{complete} is before invoke {invoke}"
    if outcome == OK:
        if "result" not in record:
            return "result", "an ok operation needs its result (null for none)"
    elif record.get("result") is not None:
        return "result", f"only an ok operation has a result; this one is {outcome}"
    return None
