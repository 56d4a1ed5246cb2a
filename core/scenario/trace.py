"""How a story prints: one compact line per message, per node's change, per note.

A message prints as ``1->2 RequestVote term=2 last_log_index=1 last_log_term=1``: its header term,
then its own fields in declaration order, read from the schema (``cls.fields``, ``cls.kinds``).
Booleans always show; numbers at 0 and empty lists or bytes are left out, so a heartbeat reads
as an AppendEntries without ``entries``. Log entries print as ``index@term``, with ``:command``
when the command is not empty (``2@1:x``, and a leader's no-op as ``3@3``).

What a node shows, from the effects it emits (quorumlab.core.effects): its changes of role, term and
leader merged in one line (``2: follower->candidate, term 1->2, leader 1->none``), then each
note, proposal outcome and run of applied entries as ``2: <kind> key=value ...``.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

from quorumlab.core.messages import BOOL, BYTES, ENTRIES, U64LIST

Record = tuple[int, str, Any, Any]
"""What a node showed, as a story records it: (node, "role" | "term" | "leader", old, new),
(node, "note", kind, data) or (node, "apply", index, (term, command))."""


def text(data: bytes) -> str:
    """A command as printed: its characters when they are plain printable ASCII without spaces, else repr."""
    s = data.decode("ascii", "replace")
    if s.isprintable() and s.isascii() and " " not in s and ":" not in s and "]" not in s:
        return s
    return repr(data)


def entry(index: int, term: int, data: bytes) -> str:
    """``index@term``, then ``:command`` unless the command is empty."""
    return f"{index}@{term}" + (f":{text(data)}" if data else "")


def message(src: int, dst: int, msg: Any) -> str:
    """``src->dst Name term=T field=value ...`` (zero and empty fields left out, booleans always shown but for
    the message's ``markers``, flags of a rare case, shown only when set)."""
    parts = [f"{src}->{dst} {msg.name} term={msg.term}"]
    markers = getattr(msg, "markers", ())
    for name, kind in zip(msg.fields, msg.kinds):
        v = getattr(msg, name)
        if kind == BOOL:
            if v or name not in markers:
                parts.append(f"{name}={'true' if v else 'false'}")
        elif not v:
            continue
        elif kind == ENTRIES:
            parts.append(f"{name}=[{' '.join(entry(i, t, d) for t, i, d in v)}]")
        elif kind == U64LIST:
            parts.append(f"{name}=[{','.join(map(str, v))}]")
        elif kind == BYTES:
            parts.append(f"{name}={text(v)}")
        else:
            parts.append(f"{name}={v}")
    return " ".join(parts)


def value(v: Any) -> str:
    """A note's or a status's value: none, true/false, [1,2], a bare word, or a quoted string with spaces."""
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(value(x) for x in v) + "]"
    if isinstance(v, str) and (not v or any(c.isspace() or c in "\"=" for c in v)):
        return json.dumps(v)
    return str(v)


def fields(data: dict) -> str:
    """``key=value`` pairs, in the dict's order."""
    return " ".join(f"{k}={value(v)}" for k, v in data.items())


def node_lines(records: Iterable[Record]) -> list[str]:
    """What each node showed, node by node in order of first appearance: its merged change line first."""
    by_node: dict[int, list[Record]] = {}
    for r in records:
        by_node.setdefault(r[0], []).append(r)
    lines: list[str] = []
    for node, recs in by_node.items():
        change = _change(recs)
        if change:
            lines.append(f"{node}: {change}")
        applied: list[str] = []
        for _, kind, a, b in recs:
            if kind == "apply":
                applied.append(entry(a, *b))
                continue
            if applied:
                lines.append(f"{node}: apply {' '.join(applied)}")
                applied = []
            if kind == "note":
                lines.append(f"{node}: {a} {fields(b)}".rstrip())
        if applied:
            lines.append(f"{node}: apply {' '.join(applied)}")
    return lines


def _change(recs: list[Record]) -> str:
    """Role, term and leader changes, each from its first old value to its last new one (none if back where it was)."""
    first: dict[str, Any] = {}
    last: dict[str, Any] = {}
    for _, kind, old, new in recs:
        if kind in ("role", "term", "leader"):
            first.setdefault(kind, old)
            last[kind] = new
    parts = []
    for kind in ("role", "term", "leader"):
        if kind in last and first[kind] != last[kind]:
            old, new = value(first[kind]), value(last[kind])
            parts.append(f"{old}->{new}" if kind == "role" else f"{kind} {old}->{new}")
    return ", ".join(parts)
