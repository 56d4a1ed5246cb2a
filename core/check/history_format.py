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

from core.check.history import INFO, OK, OUTCOMES, History, Operation
from core.check.kv_model import KVRegister
from core.check.model import Model, OperationError

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


def _object(name: str, number: int, line: str) -> dict:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise HistoryFormatError(name, number, None, f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
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
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _operation(name: str, number: int, line: str, index: int, model: Model) -> Operation:
    record = _object(name, number, line)

    def bad(field: str, message: str) -> HistoryFormatError:
        return HistoryFormatError(name, number, field, message)

    for field in _REQUIRED:
        if field not in record:
            raise bad(field, "missing")
    for field in record:
        if field not in FIELDS:
            raise bad(field, f"unknown field (the fields are {', '.join(FIELDS)})")
    outcome = record["outcome"]
    if outcome not in OUTCOMES:
        raise bad("outcome", f"{outcome!r} is not one of {', '.join(OUTCOMES)}")
    if not isinstance(record["args"], list):
        raise bad("args", f"a list is needed, not {record['args']!r}")
    if not isinstance(record["client"], (str, int)) or isinstance(record["client"], bool):
        raise bad("client", f"{record['client']!r} is not a string or integer")
    if not isinstance(record["op"], str):
        raise bad("op", f"{record['op']!r} is not a string")
    invoke, complete = record["invoke"], record.get("complete")
    if not _time(invoke):
        raise bad("invoke", f"{invoke!r} is not a finite number")
    if complete is None:
        if outcome != INFO:
            raise bad("complete", f"an {outcome} operation needs a completion time")
    elif not _time(complete):
        raise bad("complete", f"{complete!r} is not a finite number or null")
    elif complete < invoke:
        raise bad("complete", f"{complete} is before invoke {invoke}")
    if outcome == OK and "result" not in record:
        raise bad("result", "an ok operation needs its result (null for none)")
    if outcome != OK and record.get("result") is not None:
        raise bad("result", f"only an ok operation has a result; this one is {outcome}")
    op = Operation(index, record["client"], record["op"], record["key"], tuple(record["args"]), invoke, complete,
                   outcome, record.get("result"))
    try:
        model.validate(op)
    except OperationError as exc:
        raise bad(exc.field, exc.message) from None
    return op
