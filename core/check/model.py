"""The model interface: a sequential specification the checker linearizes a history against.

A plugin author subclasses ``Model`` and implements ``init`` and ``step``;
the other methods have defaults. States must be hashable and compare by
value: the search remembers (set of operations taken, state) pairs and
never explores one twice.
"""
from __future__ import annotations

from typing import Any, ClassVar, Hashable, Sequence

from quorumlab.core.check.history import Operation


class _Unknown:
    """The output of an ``info`` operation: nobody saw it, so ``step`` must accept any."""

    _instance: ClassVar["_Unknown | None"] = None

    def __new__(cls) -> "_Unknown":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "unknown"


UNKNOWN = _Unknown()


class OperationError(ValueError):
    """An operation this model cannot check; ``field`` names the part that is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Model:
    """A sequential object: its initial state and what each operation does to a state."""

    name: ClassVar[str] = "model"

    def init(self) -> Hashable:
        """The state before any operation."""
        raise NotImplementedError

    def step(self, state: Hashable, op: Operation, output: Any) -> tuple[bool, Hashable]:
        """(could ``op`` return ``output`` in ``state``, the state after it). ``output`` is UNKNOWN for info."""
        raise NotImplementedError

    def partition(self, op: Operation) -> Hashable:
        """Which independent sub-object ``op`` touches; each part is checked alone (P-compositionality)."""
        return None

    def validate(self, op: Operation) -> None:
        """Raise OperationError naming the field if ``op`` is not an operation of this model."""

    def describe(self, op: Operation) -> str:
        """``op`` in one short line, e.g. ``put('x', 1) -> None``."""
        call = ", ".join(repr(a) for a in (op.key, *op.args))
        return f"{op.op}({call})" + (f" -> {op.result!r}" if op.outcome == "ok" else "")

    def describe_state(self, state: Hashable) -> str:
        """A state in one short line."""
        return repr(state)

    def any_states(self, ops: Sequence[Operation]) -> list[Hashable] | None:
        """States that together stand for "any state" as far as ``ops`` can tell, or None if unknown.

        With them the shrinker may cut a counterexample's front off (the cut
        history must then fail from every one of these states) and may drop
        operations that leave every state unchanged.
        """
        return None
