"""``bench failover``: a leader killed (SIGKILL) or frozen (SIGSTOP) on real processes, measured from a client: the time
until a write succeeds again, for each algorithm with its transport hints on and off, in the same run."""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import click

from quorumlab.bench import options
from quorumlab.bench.failover import FAULTS, PHASES, Variant, measure, optimum_ms
from quorumlab.bench.types import NameList
from quorumlab.core import registry


def table(variants: list[Variant], optimum: dict | None) -> str:
    """Markdown: one row per variant, with the ratio to the same algorithm's timeout-only run."""
    rows = ["| fault | variant | trials (failed) | first write median / p99 / max | new leader median / p99 | detect "
            "/ election / write medians | campaign / pre-vote / vote / commit medians | single round | ratio to "
            "timeout-only (median) |",
            "|---|---|---|---|---|---|---|---|---|"]
    by = {(v.algo, v.hints, v.fault): v.summary() for v in variants}
    for v in variants:
        s = by[(v.algo, v.hints, v.fault)]
        base = by.get((v.algo, False, v.fault))
        key = "first_write_median_ms" if s["first_write_median_ms"] is not None else "new_leader_median_ms"
        ratio = (f"{s[key] / base[key]:.3f}" if v.hints and base and base[key] and s[key] is not None else "")
        single = "" if s["single_round"] is None else f"{100 * s['single_round']:.0f}%"
        rows.append(f"| {v.fault} | {v.label} | {s['trials']} ({s['failed']}) | {_ms(s['first_write_median_ms'])} / "
                    f"{_ms(s['first_write_p99_ms'])} / {_ms(s['first_write_max_ms'])} | {_ms(s['new_leader_median_ms'])} / "
                    f"{_ms(s['new_leader_p99_ms'])} | {_ms(s['detect_median_ms'])} / {_ms(s['election_median_ms'])} / "
                    f"{_ms(s['write_after_leader_median_ms'])} | "
                    f"{' / '.join(_ms(s['phase_medians_ms'][p]) for p in PHASES)} | {single} | {ratio} |")
    if optimum:
        rows.append("")
        rows.append(f"SIGSTOP optimum from the timeout distribution (raft, {optimum['survivors']} survivors, "
                    f"{optimum['detect']} ms, heartbeat {optimum['heartbeat']} ms), election time not included: "
                    f"median {optimum['median_ms']} ms, p99 {optimum['p99_ms']} ms under the client's steady writes "
                    f"(the leader's last message just before the pause); idle, median {optimum['idle_median_ms']} ms, "
                    f"p99 {optimum['idle_p99_ms']} ms")
    return "\n".join(rows)


def _ms(v) -> str:
    return "-" if v is None else f"{v:.1f}"


@click.command("failover")
@click.option("--algos", type=NameList(), default="raft,paxos,bully", show_default=True,
              help="Registered algorithms (those without a log are timed to the new leader's election).")
@click.option("--hints", type=NameList(), default="on,off", show_default=True,
              help="transport_hints settings to run, as separately labelled variants (on, off or both).")
@click.option("--faults", type=NameList(), default="kill", show_default=True,
              help=f"Comma list of {', '.join(FAULTS)} (kill: SIGKILL the leader; stop: SIGSTOP it).")
@click.option("--trials", type=click.IntRange(1, 10_000), default=20, show_default=True, help="Faults per variant.")
@click.option("--nodes", type=click.IntRange(3, 9), default=3, show_default=True)
@click.option("--out", default=None, help="Directory for results.json and report.md (default: print only).")
@options.insecure
def failover_cmd(algos, hints, faults, trials, nodes, out, insecure) -> None:
    """Kill (or stop) the leader TRIALS times per variant on NODES local processes and time, from a client that writes
    one key after another, the first write a new leader answers (algorithms with a log); median, p99, and how often
    a single election round sufficed, hints on next to hints off."""
    for name in algos:
        try:
            registry.load(name)
        except Exception as exc:
            raise click.BadParameter(str(exc), param_hint="--algos") from None
    bad = [h for h in hints if h not in ("on", "off")] + [f for f in faults if f not in FAULTS]
    if bad:
        raise click.BadParameter(f"unknown value {bad[0]!r}", param_hint="--hints/--faults")
    started = time.time()
    load_at_start = list(os.getloadavg())
    variants: list[Variant] = []
    for fault in faults:
        for name in algos:
            for h in hints:
                def progress(v: Variant, t) -> None:
                    click.echo(f"{fault} {v.label} trial {len(v.trials)}/{trials}: first write {t.first_write_ms} ms, "
                               f"new leader {t.new_leader_ms} ms, detect {t.detect_ms} ms, elections {t.elections}"
                               + (f" ERROR {t.error}" if t.error else ""), err=True)
                variants.append(measure(name, h == "on", fault, trials, nodes, secure=not insecure, progress=progress))
    optimum = None
    if "stop" in faults and "raft" in algos:
        cfg = registry.load("raft").Config()
        optimum = {"survivors": nodes - 1, "detect": [cfg.election_timeout_min, cfg.election_timeout_max],
                   "heartbeat": cfg.heartbeat_interval,
                   **optimum_ms((cfg.election_timeout_min, cfg.election_timeout_max), cfg.heartbeat_interval, nodes - 1)}
    report = table(variants, optimum)
    click.echo(report)
    if out:
        path = Path(out)
        path.mkdir(parents=True, exist_ok=True)
        results = {
            "command": "bench failover " + " ".join(
                [f"--algos {','.join(algos)}", f"--hints {','.join(hints)}", f"--faults {','.join(faults)}",
                 f"--trials {trials}", f"--nodes {nodes}"] + (["--insecure"] if insecure else [])),
            "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                        "loadavg_at_start": load_at_start, "loadavg_at_end": list(os.getloadavg())},
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
            "elapsed_s": round(time.time() - started, 1),
            "optimum": optimum,
            "variants": [{**v.summary(), "trials_detail": [t.__dict__ for t in v.trials]} for v in variants],
        }
        (path / "results.json").write_text(json.dumps(results, indent=1) + "\n")
        (path / "report.md").write_text(f"Command: `{results['command']}`\n\n{report}\n")
        click.echo(f"wrote {path / 'results.json'} and {path / 'report.md'}", err=True)
