"""A counterexample as one self-contained HTML page: an SVG timeline (a row per client) and the table.

No script, no external file: the page opens from disk or as a CI artifact.
Each operation is a bar from its call to its answer (an info operation's
bar runs to the end, dashed); the operations of the longest linearizable
prefix are green, numbered in the order they take effect and joined by a
line through the moments they can take effect; the impossible one is red.
"""
from __future__ import annotations

import math
from html import escape
from typing import TYPE_CHECKING

from quorumlab.core.check.history import INFO, Operation

if TYPE_CHECKING:
    from quorumlab.core.check.counterexample import Counterexample

GUTTER = 120
PLOT = 960
ROW = 56
TOP = 40


def points(cx: "Counterexample") -> list[tuple[Operation, float]]:
    """(operation, moment it takes effect) along the prefix: each within its call and no earlier than the last."""
    by_index = {op.index: op for op in cx.ops}
    end = span_end(cx)
    path, last = [], min(op.invoke for op in cx.shown())
    for index in cx.prefix:
        op = by_index[index]
        done = op.complete if op.outcome != INFO and op.complete is not None else end
        last = min(max(last, op.invoke), done)
        path.append((op, last))
    return path


def span_end(cx: "Counterexample") -> float:
    """Where the time axis ends: a little after the last call or answer, so open (info) bars show as open."""
    times = [t for op in cx.shown() for t in (op.invoke, cx.recorded(op).complete) if t is not None]
    t0, t1 = min(times), max(times)
    return t1 + max((t1 - t0) * 0.08, 1e-9)


def ticks(span: float, about: int = 6) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) from 0 to ``span``."""
    if span <= 0:
        return [0.0]
    raw = span / about
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return [round(k * step, 12) for k in range(int(span / step) + 1)]


def render(cx: "Counterexample") -> str:
    """The whole page."""
    from quorumlab.core.check.counterexample import lingering_note

    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Linearizability violation on key {escape(repr(cx.key))}</title>\n<style>{_CSS}</style>"
            f"</head>\n<body>\n{_heading(cx)}\n{_svg(cx)}\n{_table(cx)}\n<p>{escape(lingering_note(cx))}</p>\n"
            f"</body></html>\n")


def _heading(cx: "Counterexample") -> str:
    t0, div, unit = cx.clock()
    start = (f"cut at {(cx.front - t0) / div:.3f}; it fails from every initial state (drawn from {escape(cx.start)})"
             if cx.any_start else f"initial state {escape(cx.start)}")
    shrunk = f", shrunk in {cx.elapsed_s:.2f} s ({cx.checks} checks)" if cx.checks else ""
    stuck = (f"<p class=\"why\">#{cx.stuck} <code>{escape(cx.labels[cx.stuck])}</code> returned, but no order of "
             f"these operations lets it take effect before it did.</p>" if cx.stuck is not None else "")
    return (f"<h1>Linearizability violation on key <code>{escape(repr(cx.key))}</code></h1>\n"
            f"<p>{len(cx.ops)} of the {cx.partition_size:,} operations on this key (model {escape(cx.model)}"
            f"{shrunk}); {start}. Times in {escape(unit)} from the first call shown.</p>\n{stuck}\n"
            f"<p class=\"legend\"><span class=\"k prefix\"></span> in the longest linearizable prefix (numbered in "
            f"order) <span class=\"k stuck\"></span> cannot take effect <span class=\"k other\"></span> other "
            f"<span class=\"k info\"></span> info: may take effect any time after its call, or never "
            f"<span class=\"k cut\"></span> answer set aside by a cut</p>")


def _svg(cx: "Counterexample") -> str:
    t0, div, _ = cx.clock()
    end = span_end(cx)
    shown = cx.shown()

    def x(t: float) -> float:
        return GUTTER + (t - t0) / (end - t0) * PLOT

    clients = list(dict.fromkeys(op.client for op in sorted(shown, key=lambda o: o.invoke)))
    row = {c: TOP + k * ROW for k, c in enumerate(clients)}
    height = TOP + len(clients) * ROW + 30
    order = {index: k + 1 for k, index in enumerate(cx.prefix)}
    parts = [f"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{GUTTER + PLOT + 20}\" height=\"{height}\" "
             f"role=\"img\" aria-label=\"timeline of the counterexample\">",
             "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
             "patternTransform=\"rotate(45)\"><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#999\" "
             "stroke-width=\"2\"/></pattern></defs>"]
    for shown_t in ticks((end - t0) / div):
        t = t0 + shown_t * div
        parts.append(f"<line class=\"grid\" x1=\"{x(t):.1f}\" y1=\"{TOP - 12}\" x2=\"{x(t):.1f}\" "
                     f"y2=\"{height - 24}\"/><text class=\"tick\" x=\"{x(t):.1f}\" y=\"{height - 8}\">"
                     f"{shown_t:g}</text>")
    for c in clients:
        parts.append(f"<text class=\"client\" x=\"8\" y=\"{row[c] + 32}\">client {escape(str(c))}</text>")
    for label, t in (("front cut", cx.front), ("back cut", cx.back)):
        if t is not None and t0 <= t <= end:
            parts.append(f"<line class=\"cutline\" x1=\"{x(t):.1f}\" y1=\"{TOP - 20}\" x2=\"{x(t):.1f}\" "
                         f"y2=\"{height - 24}\"/><text class=\"tick\" x=\"{x(t):.1f}\" y=\"{TOP - 24}\">{label}</text>")
    for op in shown:
        parts.append(_bar(cx, op, x, row[op.client], order.get(op.index), end))
    path = points(cx)
    if path:
        coords = " ".join(f"{x(t):.1f},{row[op.client] + 32:.1f}" for op, t in path)
        parts.append(f"<polyline class=\"path\" points=\"{coords}\"/>")
        for k, (op, t) in enumerate(path, start=1):
            cy = row[op.client] + 32
            parts.append(f"<circle class=\"point\" cx=\"{x(t):.1f}\" cy=\"{cy}\" r=\"8\"><title>takes effect "
                         f"{k}.: then {escape(cx.states[k - 1])}</title></circle><text class=\"num\" x=\"{x(t):.1f}\" "
                         f"y=\"{cy + 4}\">{k}</text>")
    parts.append("</svg>")
    return "\n".join(parts)


def _bar(cx: "Counterexample", op: Operation, x, top: float, step: int | None, end: float) -> str:
    seen = cx.recorded(op)
    open_ended = op.outcome == INFO
    done = end if open_ended else op.complete
    kind = ("stuck" if op.index == cx.stuck else "prefix" if step else "other")
    kind += " info" if open_ended else ""
    kind += " cut" if op.index in cx.forgotten else ""
    x0, x1 = x(op.invoke), max(x(done), x(op.invoke) + 4)
    label = f"#{op.index} {cx.labels[op.index]}" + (" ✗" if op.index == cx.stuck else "")
    tip = (f"#{op.index} client {op.client}: {cx.labels[op.index]} ({seen.outcome}"
           + (", answer set aside by a cut" if op.index in cx.forgotten else "")
           + f"), called {op.invoke}, answered {seen.complete if seen.complete is not None else 'never'}")
    rect = (f"<rect class=\"bar {kind}\" x=\"{x0:.1f}\" y=\"{top + 20}\" width=\"{x1 - x0:.1f}\" height=\"24\" "
            f"rx=\"3\"><title>{escape(tip)}</title></rect>")
    if op.index in cx.forgotten:
        rect += (f"<rect x=\"{x0:.1f}\" y=\"{top + 20}\" width=\"{x1 - x0:.1f}\" height=\"24\" fill=\"url(#hatch)\" "
                 f"opacity=\"0.5\" pointer-events=\"none\"/>")
    return rect + f"<text class=\"label\" x=\"{x0 + 2:.1f}\" y=\"{top + 15}\">{escape(label)}</text>"


def _table(cx: "Counterexample") -> str:
    t0, div, _ = cx.clock()
    step_of = {index: k for k, index in enumerate(cx.prefix)}
    rows = []
    for op in cx.shown():
        seen = cx.recorded(op)
        if op.index == cx.stuck:
            note = "cannot take effect before it returns"
        elif op.index in step_of:
            note = f"{step_of[op.index] + 1}. then {escape(cx.states[step_of[op.index]])}"
        else:
            note = "not needed" if op.outcome == INFO else ""
        outcome = escape(seen.outcome) + (" (cut: answer set aside)" if op.index in cx.forgotten else "")
        done = "-" if seen.complete is None else f"{(seen.complete - t0) / div:.3f}"
        rows.append(f"<tr class=\"{'stuck' if op.index == cx.stuck else ''}\"><td>{'!' if op.index == cx.stuck else ''}"
                    f"</td><td>#{op.index}</td><td>{escape(str(op.client))}</td><td class=\"n\">{(op.invoke - t0) / div:.3f}"
                    f"</td><td class=\"n\">{done}</td><td><code>{escape(cx.labels[op.index])}</code></td>"
                    f"<td>{outcome}</td><td>{note}</td></tr>")
    return ("<table><thead><tr><th></th><th>op</th><th>client</th><th>invoke</th><th>complete</th><th>operation</th>"
            "<th>outcome</th><th>in the prefix</th></tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>")


_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; } code { font: 13px ui-monospace, monospace; }
.why { color: #a02020; }
.legend .k { display: inline-block; width: 22px; height: 12px; margin: 0 4px 0 14px; vertical-align: middle;
  border: 1.5px solid #888; border-radius: 2px; }
.k.prefix { background: #cdeccd; border-color: #3a7d3a; } .k.stuck { background: #f7c9c9; border-color: #c0392b; }
.k.other { background: #e6e6e6; } .k.info { border-style: dashed; background: #fff; }
.k.cut { background: repeating-linear-gradient(45deg, #ddd, #ddd 2px, #fff 2px, #fff 5px); }
svg { display: block; margin: 12px 0 20px; overflow: visible; }
.grid { stroke: #eee; } .tick { font-size: 11px; fill: #777; text-anchor: middle; }
.cutline { stroke: #888; stroke-dasharray: 2 3; }
.client { font-size: 12px; fill: #444; }
.bar { stroke-width: 1.5; fill: #e6e6e6; stroke: #888; }
.bar.prefix { fill: #cdeccd; stroke: #3a7d3a; } .bar.stuck { fill: #f7c9c9; stroke: #c0392b; stroke-width: 2.5; }
.bar.info { stroke-dasharray: 5 3; fill-opacity: 0.55; }
.label { font: 11px ui-monospace, monospace; fill: #333; }
.path { fill: none; stroke: #3a7d3a; stroke-width: 1.5; stroke-dasharray: 4 3; }
.point { fill: #3a7d3a; } .num { font-size: 10px; fill: #fff; text-anchor: middle; font-weight: bold; }
table { border-collapse: collapse; font-size: 13px; } th, td { padding: 3px 10px; text-align: left; }
th { border-bottom: 1px solid #bbb; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.stuck td { background: #fbe3e3; font-weight: bold; }
"""
