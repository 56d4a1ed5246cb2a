"""Helpers for tests of algorithms, shared by quorumlab's own tests and plugin authors.

Reading effects: ``outgoing`` (messages sent), ``notes`` (observations of one kind),
``timers`` (delays armed for one timer), ``proposals`` and ``rejections`` (what became of
client commands).
"""
from __future__ import annotations

from typing import Any

from core.effects import Broadcast, Note, Proposed, ProposeRejected, Send, SetTimer


def outgoing(effects: list, cls: type | None = None) -> list[Any]:
    """The messages among ``effects``, in order (a Broadcast counts once), of class ``cls`` if given."""
    msgs = [e.msg for e in effects if type(e) in (Send, Broadcast)]
    return msgs if cls is None else [m for m in msgs if type(m) is cls]


def notes(effects: list, kind: str) -> list[dict]:
    """The data of every ``Note`` of ``kind`` among ``effects``."""
    return [e.data for e in effects if type(e) is Note and e.kind == kind]


def timers(effects: list, name: str) -> list[int]:
    """Delays of every ``SetTimer(name)`` among ``effects``."""
    return [e.delay_ms for e in effects if type(e) is SetTimer and e.name == name]


def proposals(effects: list) -> list[Proposed]:
    """The ``Proposed`` effects: client commands appended (first index, term, count)."""
    return [e for e in effects if type(e) is Proposed]


def rejections(effects: list) -> list[ProposeRejected]:
    """The ``ProposeRejected`` effects: client commands refused (code, reason, leader)."""
    return [e for e in effects if type(e) is ProposeRejected]
