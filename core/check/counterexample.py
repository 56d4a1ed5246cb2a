"""A violation a person can read: the smallest failing sub-history found, as aligned text, HTML and PNG timelines."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Hashable, Iterable

from quorumlab.core.check import timeline_html, timeline_png
from quorumlab.core.check.checker import DEFAULT_MODEL
from quorumlab.core.check.history import INFO, OK, History, Operation
from quorumlab.core.check.model import UNKNOWN, Model
from quorumlab.core.check.result import CheckResult
from quorumlab.core.check.shrink import shrink


@dataclass
class Counterexample:
    """Operations of one partition that together cannot be linearized, and how far an order gets.

    ``prefix`` is the longest linearizable prefix found (history indexes in
    the order they take effect) and ``states`` the state after each;
    ``stuck`` is the operation that cannot take effect before it returned,
    right after that prefix. ``forgotten`` holds, as recorded, the
    operations whose answers a cut set aside (they appear as info in
    ``ops``). With ``any_start`` the history was cut at ``front`` and fails
    from every initial state.
    """

    key: Hashable
    model: str
    ops: list[Operation]
    forgotten: dict[int, Operation]
    labels: dict[int, str]
    prefix: list[int]
    states: list[str]
    stuck: int | None
    start: str
    any_start: bool
    partition_size: int
    front: float | None
    back: float | None
    checks: int
    elapsed_s: float
    time_unit: str

    def recorded(self, op: Operation) -> Operation:
        """``op`` as the client recorded it (before a cut forgot its answer)."""
        return self.forgotten.get(op.index, op)

    def shown(self) -> list[Operation]:
        """The operations drawn one by one: all but :meth:`lingering`."""
        hidden = {op.index for op in self.lingering()}
        return [op for op in self.ops if op.index not in hidden]

    def lingering(self) -> list[Operation]:
        """Info operations called before the front cut and used by no prefix: listed, not drawn.

        They must stay (any of them may take effect at any moment, so the
        proof needs them), but each is a bar across the whole timeline.
        """
        if self.front is None:
            return []
        used = set(self.prefix)
        return [op for op in self.ops if op.outcome == INFO and op.invoke <= self.front and op.index not in used
                and op.index not in self.forgotten]

    def clock(self) -> tuple[float, float, str]:
        """(origin, divisor, unit) for showing times: from the first call shown, in a unit that suits the span."""
        ops = self.shown()
        t0 = min(op.invoke for op in ops)
        span = max((t for op in ops for t in (op.invoke, self.recorded(op).complete) if t is not None)) - t0
        units = ["ns", "us", "ms", "s"]
        k = units.index(self.time_unit) if self.time_unit in units else len(units) - 1
        divisor = 1.0
        while k < len(units) - 1 and span / divisor >= 10_000:
            divisor *= 1000.0
            k += 1
        return t0, divisor, units[k] if self.time_unit in units else self.time_unit


def find_counterexample(result: CheckResult, history: History | Iterable[Operation], model: Model = DEFAULT_MODEL,
                        budget_s: float = 10.0, time_unit: str | None = None) -> Counterexample | None:
    """Shrink the smallest violating partition of ``result`` within ``budget_s``; None if there is no violation.

    If the shrinking runs out of time before the first check, the whole
    partition is shown with the order and stuck operation of ``result``.
    """
    if not result.violations:
        return None
    part = min(result.violations, key=lambda p: p.operations)
    all_ops = history.operations() if isinstance(history, History) else list(history)
    unit = time_unit or (history.time_unit if isinstance(history, History) else "ns")
    ops = [op for op in all_ops if op.outcome != "fail" and model.partition(op) == part.key]
    shrunk = shrink(ops, model, budget_s)
    if shrunk is None:
        by_index = {op.index: op for op in ops}
        prefix = [by_index[i] for i in part.order]
        return _build(part.key, model, ops, {}, prefix, part.stuck, model.init(), False, len(ops),
                      None, None, 0, 0.0, unit)
    lin = shrunk.failure
    return _build(part.key, model, shrunk.ops, shrunk.forgotten, lin.order,
                  lin.stuck.index if lin.stuck else None, shrunk.start, shrunk.any_start, len(ops),
                  shrunk.front, shrunk.back, shrunk.checks, shrunk.elapsed_s, unit)


def _build(key: Hashable, model: Model, ops: list[Operation], forgotten: dict[int, Operation],
           prefix: list[Operation], stuck: int | None, start: Hashable, any_start: bool, size: int,
           front: float | None, back: float | None, checks: int, elapsed: float, unit: str) -> Counterexample:
    states, state = [], start
    for op in prefix:
        _, state = model.step(state, op, op.result if op.outcome == OK else UNKNOWN)
        states.append(model.describe_state(state))
    ops = sorted(ops, key=lambda o: o.index)
    labels = {op.index: model.describe(forgotten.get(op.index, op)) for op in ops}
    return Counterexample(key, model.name, ops, forgotten, labels, [op.index for op in prefix], states, stuck,
                          model.describe_state(start), any_start, size, front, back, checks, elapsed, unit)


def render_text(cx: Counterexample) -> str:
    """The counterexample as aligned text: one line per operation, the impossible one marked with ``!``."""
    t0, div, unit = cx.clock()
    step_of = {index: k for k, index in enumerate(cx.prefix)}
    rows = [("", "op", "client", "invoke", "complete", "operation", "outcome", "in the prefix")]
    for op in cx.shown():
        seen = cx.recorded(op)
        outcome = seen.outcome + (" (cut: answer set aside)" if op.index in cx.forgotten else "")
        if op.index == cx.stuck:
            note = "cannot take effect before it returns"
        elif op.index in step_of:
            k = step_of[op.index]
            note = f"{k + 1}. then {cx.states[k]}"
        else:
            note = "" if op.outcome != INFO else "not needed"
        done = "-" if seen.complete is None else f"{(seen.complete - t0) / div:.3f}"
        rows.append(("!" if op.index == cx.stuck else "", f"#{op.index}", str(op.client),
                     f"{(op.invoke - t0) / div:.3f}", done, cx.labels[op.index], outcome, note))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    right = {3, 4}
    lines = ["  ".join(cell.rjust(w) if c in right else cell.ljust(w) for c, (cell, w) in enumerate(zip(r, widths)))
             .rstrip() for r in rows]
    return "\n".join(_summary(cx, unit) + [""] + lines + [""] + _verdict(cx)) + "\n"


def lingering_note(cx: Counterexample, listed: int = 5) -> str:
    """One sentence on the info operations not drawn (see Counterexample.lingering), or ''."""
    rest = cx.lingering()
    if not rest:
        return ""
    names = ", ".join(f"#{op.index} {cx.labels[op.index]}" for op in rest[:listed])
    more = f" and {len(rest) - listed} more" if len(rest) > listed else ""
    return (f"Also open: {len(rest)} info operations called before the cut, any of which may take effect at any "
            f"moment; no order works with them either: {names}{more}.")


def _summary(cx: Counterexample, unit: str) -> list[str]:
    lines = [f"Linearizability violation on key {cx.key!r} (model {cx.model}).",
             f"These {len(cx.ops)} of the {cx.partition_size:,} operations on this key cannot be linearized"
             + (f" (shrunk in {cx.elapsed_s:.2f} s, {cx.checks} checks)." if cx.checks else ".")]
    if cx.any_start:
        t0, div, _ = cx.clock()
        lines.append(f"The history was cut at {(cx.front - t0) / div:.3f}: it fails from every initial state "
                     f"(shown: from {cx.start}).")
    else:
        lines.append(f"Initial state: {cx.start}.")
    lines.append(f"Times in {unit}, from the first call shown.")
    return lines


def _verdict(cx: Counterexample) -> list[str]:
    if cx.prefix:
        shown = ", ".join(f"#{i}" for i in cx.prefix)
        first = f"Longest linearizable prefix: {shown} (state after it: {cx.states[-1]})."
    else:
        first = "No operation can take effect first."
    lines = [first]
    if cx.stuck is not None:
        lines.append(f"#{cx.stuck} ({cx.labels[cx.stuck]}) returned, but no order of the operations above "
                     f"lets it take effect before it did.")
    note = lingering_note(cx)
    return lines + ([note] if note else [])


def save(cx: Counterexample, directory: str | Path) -> tuple[dict[str, Path], list[str]]:
    """Write counterexample.txt, counterexample.html and counterexample.png (if matplotlib is installed).

    Returns the files written and notes (why a file was skipped).
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    files = {"text": out / "counterexample.txt", "html": out / "counterexample.html"}
    files["text"].write_text(render_text(cx), encoding="utf-8")
    files["html"].write_text(timeline_html.render(cx), encoding="utf-8")
    notes = []
    png = out / "counterexample.png"
    skipped = timeline_png.write(cx, png)
    if skipped:
        notes.append(skipped)
    else:
        files["png"] = png
    return files, notes
