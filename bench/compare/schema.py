"""results.json: its versioned layout, the metric catalog, machine facts, and loading with a version check.

The layout (docs/compare.md describes it field by field)::

    {"schema": "quorumlab.compare", "version": 2,
     "machine": {...}, "run": {"started_at", "elapsed_s", "interrupted"},
     "config": {"algos", "transport", "nodes", "trials", "scenarios", "detect_ms", "latency_ms", "seed",
                "settings": [[algo, key, value], ...]  (absent in files written before --config existed)},
     "algorithms": {name: {"description", "core_idea", "origin", "detection_timer", "timing", "timing_rule", "config"}},
     "trials": [{"algo", "scenario", "nodes", "trial", "seed", "ok", "error", "metrics": {name: value}}],
     "skipped": [{"algo", "scenario", "nodes", "reason"}],
     "stats": {scenario: {algo: {str(nodes): {metric: {"n", "median", "p90", "max", "min"}, "_trials": {"ok", "total"}}}}}}

Everything except ``run`` is a pure function of the configuration and seed on the
simulator, so two sim runs with the same seed give the same file apart from ``run``.
"""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from quorumlab.bench.compare.stats import summarize

SCHEMA = "quorumlab.compare"
VERSION = 2

METRICS: dict[str, tuple[str, str]] = {
    "agree_ms": ("ms", "time until the nodes follow one leader (every live node; contention: a majority; "
                 "rejoin: from the returning node's start)"),
    "failover_ms": ("ms", "fault injected -> a new leader followed by a majority (its first heartbeat arrived)"),
    "first_write_ms": ("ms", "fault injected -> the first client write a new leader acknowledged, as the client saw it "
                       "(--first-write, zmq, algorithms with a log: a KVClient writes one key after another)"),
    "detect_ms": ("ms", "fault injected -> first election_started among the survivors"),
    "election_ms": ("ms", "first election_started -> a new leader followed by a majority"),
    "win_ms": ("ms", "the winner's latest election_started -> its election_won (its winning round)"),
    "round_trips": ("RTT", "win_ms divided by the modeled round trip (sim only)"),
    "rounds": ("", "distinct terms (ballots, epochs) among election_started notes in the window"),
    "elections": ("", "election_started notes (all nodes) in the window"),
    "messages": ("msgs", "messages sent from the first election_started to agreement (cold-start: from start)"),
    "bytes": ("B", "bytes of those messages"),
    "stale_leader_ms": ("ms", "resume -> the old leader no longer leads beside another leader (it stepped down, "
                        "or the others yielded to it)"),
    "resume_agree_ms": ("ms", "resume -> one leader, followed by every node"),
    "old_leader_back": ("", "1 if the leader after the resume is the old leader again"),
    "max_leaders": ("", "most nodes in the leader role at the same instant, partition to one leader after heal"),
    "max_leaders_same_term": ("", "most leaders at the same instant that share a term (1 = election safety held)"),
    "minority_leader": ("", "1 if a node of the cut-off minority still led when the partition healed"),
    "heal_ms": ("ms", "heal -> exactly one leader, followed by every node"),
    "leader_changes": ("", "nodes taking the leader role after the old leader rejoined"),
}


def machine_info() -> dict[str, Any]:
    """Facts about the machine and build that shape the numbers (for the report's header)."""
    import quorumlab.core

    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "quorumlab": quorumlab.core.__version__,
        "accelerated": bool(quorumlab.core.ACCELERATED),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def compute_stats(trials: list[dict]) -> dict:
    """Median/p90/max per scenario, algorithm, cluster size and metric, over the successful trials."""
    grouped: dict[tuple[str, str, int], list[dict]] = {}
    for tr in trials:
        grouped.setdefault((tr["scenario"], tr["algo"], tr["nodes"]), []).append(tr)
    stats: dict = {}
    for (scenario, algo, nodes), group in grouped.items():
        names: list[str] = []
        for tr in group:
            names.extend(k for k in tr["metrics"] if k not in names)
        cell = {name: summarize(tr["metrics"].get(name) for tr in group if tr["ok"]) for name in names}
        cell["_trials"] = {"ok": sum(1 for tr in group if tr["ok"]), "total": len(group)}
        stats.setdefault(scenario, {}).setdefault(algo, {})[str(nodes)] = cell
    return stats


def dump(results: dict, path: Path) -> None:
    """Write results.json (sorted keys, two-space indent: stable and diffable)."""
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def load(path: Path) -> dict:
    """Read a results.json (or the results.json inside a directory), checking schema and version."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file (bench report wants a directory written by bench compare)") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if data.get("schema") != SCHEMA:
        raise ValueError(f"{path}: not a bench compare result (schema {data.get('schema')!r})")
    if data.get("version") != VERSION:
        raise ValueError(f"{path}: results schema version {data.get('version')} is not supported (this bench reads {VERSION})")
    return data
