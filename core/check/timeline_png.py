"""A counterexample's timeline as a PNG (matplotlib, the optional ``plots`` extra), drawn as the HTML page draws it."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from quorumlab.core.check.history import INFO
from quorumlab.core.check.timeline_html import points, span_end

if TYPE_CHECKING:
    from quorumlab.core.check.counterexample import Counterexample

MISSING = "counterexample.png skipped: matplotlib is not installed (pip install 'quorumlab[plots]'); the HTML has the same timeline"


def write(cx: "Counterexample", target: str | Path) -> str | None:
    """Draw ``cx`` into ``path``; returns None, or why nothing was written (no matplotlib)."""
    try:
        import matplotlib
    except ImportError:
        return MISSING
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0, div, unit = cx.clock()
    end = span_end(cx)
    shown = cx.shown()
    clients = list(dict.fromkeys(op.client for op in sorted(shown, key=lambda o: o.invoke)))
    row = {c: len(clients) - 1 - k for k, c in enumerate(clients)}
    prefix = set(cx.prefix)
    fig, ax = plt.subplots(figsize=(11, 1.2 + 0.8 * len(clients)))
    for op in shown:
        done = end if op.outcome == INFO else op.complete
        if op.index == cx.stuck:
            face, edge = "#f7c9c9", "#c0392b"
        elif op.index in prefix:
            face, edge = "#cdeccd", "#3a7d3a"
        else:
            face, edge = "#e6e6e6", "#888888"
        ax.barh(row[op.client], max(done - op.invoke, (end - t0) * 0.004) / div, left=(op.invoke - t0) / div, height=0.45,
                color=face, edgecolor=edge, linewidth=2.2 if op.index == cx.stuck else 1.2,
                linestyle="--" if op.outcome == INFO else "-", hatch="//" if op.index in cx.forgotten else None)
        label = f"#{op.index} {cx.labels[op.index]}" + (" ✗" if op.index == cx.stuck else "")
        ax.text((op.invoke - t0) / div, row[op.client] + 0.3, label, fontsize=7.5, family="monospace", va="bottom")
    path = points(cx)
    if path:
        xs = [(t - t0) / div for _, t in path]
        ys = [row[op.client] for op, _ in path]
        ax.plot(xs, ys, linestyle=":", color="#3a7d3a", linewidth=1.2)
        ax.scatter(xs, ys, s=90, color="#3a7d3a", zorder=3)
        for k, (xv, yv) in enumerate(zip(xs, ys), start=1):
            ax.text(xv, yv, str(k), color="white", fontsize=7, ha="center", va="center", zorder=4, weight="bold")
    ax.set_yticks(list(row.values()), [f"client {c}" for c in row])
    ax.set_ylim(-0.6, len(clients) - 0.1)
    ax.set_xlim(-(end - t0) / div * 0.01, (end - t0) / div)
    ax.set_xlabel(f"time ({unit}) from the first call shown")
    title = f"Linearizability violation on key {cx.key!r}: {len(cx.ops)} of {cx.partition_size:,} operations"
    if cx.stuck is not None:
        title += f"; #{cx.stuck} cannot take effect (red), longest linearizable prefix in green"
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return None
