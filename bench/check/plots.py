"""The availability picture of a run: successful operations per 100 ms, with the faults drawn over it.

Needs matplotlib (``pip install 'quorumlab[plots]'``); importing this module without it raises ImportError.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LABELLED = 24
"""Up to this many faults, each is labelled with what it did; past it the legend alone names their kinds."""
COLORS = {"kill": "#d62728", "kill-majority": "#8c1c13", "bounce": "#ff7f0e", "pause": "#9467bd",
          "partition": "#1f77b4", "partition-leader": "#17becf", "all": "#7f7f7f"}


def availability_png(report: dict, path: Path) -> Path:
    """Draw ``report``'s availability (quorumlab.bench.check.report.judge) to ``path``; returns it."""
    av = report["availability"]
    width = av["window_s"]
    counts = av["ok_per_window"]
    fig, ax = plt.subplots(figsize=(min(24.0, 9 + report["duration_s"] / 60), 3.6))
    ax.bar([k * width for k in range(len(counts))], counts, width=width, align="edge", color="#2ca02c",
           linewidth=0, label=f"ok operations per {width * 1000:.0f} ms")
    top = max(counts, default=0) or 1
    seen: set[str] = set()
    for f in report["faults"]:
        end = f["end"] if f["end"] is not None else report["duration_s"]
        ax.axvspan(f["start"], end, color=COLORS.get(f["kind"], "#7f7f7f"), alpha=0.18,
                   label=None if f["kind"] in seen else f["kind"])
        if len(report["faults"]) <= LABELLED:
            ax.text(f["start"], top * 1.02, f["what"], fontsize=6, rotation=90, va="bottom", ha="left")
        seen.add(f["kind"])
    spec = report["spec"]
    ax.set_title(f"{spec['algo']} · {spec['nodes']} nodes · {spec['clients']} clients · seed {spec['seed']} · "
                 f"{report['verdict']}", fontsize=9)
    ax.set_xlabel("seconds from the start")
    ax.set_ylabel("ok operations")
    ax.set_xlim(0, max(report["duration_s"], width))
    ax.set_ylim(0, top * (1.45 if len(report["faults"]) <= LABELLED else 1.25))
    ax.legend(loc="upper right", fontsize=7, ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
