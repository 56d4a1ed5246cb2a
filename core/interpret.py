"""Carrying out an algorithm's effects: one interpreter for the simulator, the ZeroMQ runtime and the test harness.

``execute(effects, sink)`` walks the effect list in order and calls one method of
``sink`` per effect; consecutive ``Apply`` effects go together to ``sink.apply`` (a
real node answers the client requests a whole run completes at once). Order is the
contract: a ``Persist`` is carried out before any later effect, so durable state is
on disk before a message that depends on it leaves.

``TimerTable`` is the other half every runtime shares: an algorithm names its timers,
arming a name again replaces the earlier timer of that name, and a firing that was
replaced or cancelled meanwhile must be ignored. The table keeps one node's names on a
``TimerWheel`` (which may be shared by many nodes, as in the simulator).
"""
from __future__ import annotations

from typing import Any, Callable, Protocol

from quorumlab.core.effects import Apply, Broadcast, CancelTimer, Persist, RestoreSnapshot, Send, SetTimer, TakeSnapshot
from quorumlab.core.messages import Message


class EffectSink(Protocol):
    """What a runtime does for each kind of effect."""

    def send(self, to: int, msg: Message) -> None:
        """Send ``msg`` to node ``to``."""

    def broadcast(self, msg: Message) -> None:
        """Send ``msg`` to every other voter (encoded once)."""

    def set_timer(self, name: str, delay_ms: int) -> None:
        """Arm timer ``name`` (replacing an armed one of that name)."""

    def cancel_timer(self, name: str) -> None:
        """Disarm timer ``name`` if it is armed."""

    def persist(self) -> None:
        """Flush the node's storage now, before the effects that follow."""

    def apply(self, run: list[Apply]) -> None:
        """Apply consecutive committed entries to the state machine, in order."""

    def take_snapshot(self, effect: TakeSnapshot) -> None:
        """Write the state machine's image durably (quorumlab.core.snapshots.take_snapshot), before the effects that follow."""

    def restore_snapshot(self, effect: RestoreSnapshot) -> None:
        """Replace the state machine with a stored image (quorumlab.core.snapshots.restore_snapshot)."""

    def observe(self, effect: Any) -> None:
        """Record an observable effect (role, term, leader, note, proposal outcome) as an event."""


def execute(effects: list, sink: EffectSink, after: Callable[[Any], None] | None = None) -> None:
    """Carry out ``effects`` in order through ``sink`` (a run of consecutive Applies in one call).

    ``after(effect)``, when given, is called once each effect has been carried out (each Apply of a
    run once the whole run is applied): how the simulator lets its safety observers look at every
    effect at the moment it takes effect, a Persist before the message it guards.
    """
    run: list[Apply] = []
    for e in effects:
        t = type(e)
        if t is Apply:
            run.append(e)
            continue
        if run:
            sink.apply(run)
            if after is not None:
                for a in run:
                    after(a)
            run = []
        if t is Send:
            sink.send(e.to, e.msg)
        elif t is Broadcast:
            sink.broadcast(e.msg)
        elif t is SetTimer:
            sink.set_timer(e.name, e.delay_ms)
        elif t is CancelTimer:
            sink.cancel_timer(e.name)
        elif t is Persist:
            sink.persist()
        elif t is TakeSnapshot:
            sink.take_snapshot(e)
        elif t is RestoreSnapshot:
            sink.restore_snapshot(e)
        else:
            sink.observe(e)
        if after is not None:
            after(e)
    if run:
        sink.apply(run)
        if after is not None:
            for a in run:
                after(a)


class TimerTable:
    """One node's named timers on a TimerWheel.

    ``arm`` schedules ``[owner, name, handle, deadline]`` on the wheel (the wheel hands that key back
    when the deadline passes); ``fired(key)`` is True, and forgets the name, only when that
    key is still the timer armed under its name: a timer re-armed or cancelled meanwhile
    never fires. ``owner`` tells nodes sharing a wheel apart (the simulator's (node,
    incarnation)); a real node has the wheel to itself.
    """

    __slots__ = ("wheel", "owner", "handles")

    def __init__(self, wheel: Any, owner: Any = None) -> None:
        self.wheel = wheel
        self.owner = owner
        self.handles: dict[str, int] = {}

    def arm(self, name: str, deadline: int) -> list:
        """Schedule ``name`` at ``deadline``, replacing the timer of that name if one is armed; returns its key."""
        old = self.handles.get(name)
        if old is not None:
            self.wheel.cancel(old)
        key = [self.owner, name, 0, deadline]
        key[2] = self.handles[name] = self.wheel.schedule(deadline, key)
        return key

    def cancel(self, name: str) -> None:
        """Disarm ``name`` if it is armed."""
        old = self.handles.pop(name, None)
        if old is not None:
            self.wheel.cancel(old)

    def fired(self, key: list) -> bool:
        """Is this wheel key the timer still armed under its name? If so it is disarmed (it fires now)."""
        name = key[1]
        if self.handles.get(name) != key[2]:
            return False
        del self.handles[name]
        return True

    def clear(self) -> None:
        """Disarm every timer (a crash forgets them all)."""
        for handle in self.handles.values():
            self.wheel.cancel(handle)
        self.handles.clear()
