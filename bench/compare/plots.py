"""PNG plots of a comparison (matplotlib, imported only when plotting, with the file-only Agg backend)."""
from __future__ import annotations

from pathlib import Path

from quorumlab.bench.compare.report import headline_nodes, labels


def _values(results: dict, scenario: str, algo: str, nodes: int, metric: str) -> list[float]:
    return sorted(tr["metrics"][metric] for tr in results["trials"]
                  if tr["ok"] and tr["scenario"] == scenario and tr["algo"] == algo and tr["nodes"] == nodes
                  and tr["metrics"].get(metric) is not None)


def make_plots(results: dict, out_dir: Path) -> list[str]:
    """Write the plots this run has data for; returns their file names (relative to ``out_dir``).

    failover_cdf.png: CDF of crash failover times per algorithm (headline cluster size).
    messages_vs_nodes.png: median messages per crash election against cluster size (needs several sizes).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = results["config"]
    written: list[str] = []
    n = headline_nodes(results)
    series = {a: _values(results, "crash", a, n, "failover_ms") for a in labels(results)}
    if any(series.values()):
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for algo, vals in series.items():
            if vals:
                ys = [(i + 1) / len(vals) for i in range(len(vals))]
                ax.step(vals, ys, where="post", label=f"{algo} (n={len(vals)})")
        ax.set_xlabel("failover time after the leader is killed (ms)")
        ax.set_ylabel("fraction of trials")
        ax.set_ylim(0, 1.02)
        ax.set_title(f"Failover time CDF, {n} nodes, {cfg['transport']}, detection {cfg['detect_ms'][0]}-{cfg['detect_ms'][1]} ms")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out_dir / "failover_cdf.png", dpi=110)
        plt.close(fig)
        written.append("failover_cdf.png")
    if len(cfg["nodes"]) > 1:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        drawn = False
        for algo in labels(results):
            pts = []
            for size in cfg["nodes"]:
                cell = results.get("stats", {}).get("crash", {}).get(algo, {}).get(str(size), {}).get("messages")
                if cell and cell["n"]:
                    pts.append((size, cell["median"]))
            if pts:
                drawn = True
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=algo)
        if drawn:
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xticks(cfg["nodes"], [str(s) for s in cfg["nodes"]])
            ax.set_xlabel("cluster size (nodes)")
            ax.set_ylabel("messages per election (median, crash)")
            ax.set_title(f"Messages per election vs cluster size ({cfg['transport']})")
            ax.grid(alpha=0.3, which="both")
            ax.legend()
            fig.tight_layout()
            fig.savefig(out_dir / "messages_vs_nodes.png", dpi=110)
            written.append("messages_vs_nodes.png")
        plt.close(fig)
    return written
