"""``bench check``: attack a cluster with a key-value workload and a seeded nemesis, then check linearizability.

The work is done by quorumlab.bench.check (no click there); this module parses options, prints, and picks the exit
status: 0 linearizable, 1 violation, 3 unknown (the checker's time limit), 4 could not run, 130 interrupted
(after the history so far was saved and checked; a violation in it still exits 1).
"""
from __future__ import annotations

import concurrent.futures as cf
import gzip
import os
import sys
import time
from pathlib import Path

import click

from quorumlab.core.check import Verdict
from quorumlab.core.errors import ConfigError, UnknownAlgorithmError

from quorumlab.bench import options
from quorumlab.bench.check import report as R
from quorumlab.bench.check.nemesis import NEMESES
from quorumlab.bench.check.spec import NETWORKS, READS, CheckSpec
from quorumlab.bench.types import NameList

DEFAULT_DURATION_S = {"zmq": 60.0, "sim": 20.0}
INTERRUPTED = 130


class CheckError(click.ClickException):
    """The check could not run (exit status 4, apart from a violation's 1 and unknown's 3)."""

    exit_code = 4


def _out_dir(out: str | None) -> Path:
    path = Path(out) if out else Path("results") / time.strftime("check-%Y%m%d-%H%M%S")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _say(line: str) -> None:
    click.echo(line, err=True)


def _spec(algo, nodes, clients, duration, nemesis, seed, transport, config_items, keys, op_timeout, network,
          insecure, observers, check_timeout, reads="linearizable", read_from="leader") -> CheckSpec:
    """The run's spec, with every option checked against the algorithm it names."""
    from quorumlab.core.runtime.loader import load_algorithm

    if algo is None:
        raise click.UsageError("pass --algo (or --history FILE to check a saved history)")
    try:
        algo_cls = load_algorithm(algo)
        parsed = algo_cls.Config.from_strings(options.settings(config_items))
    except UnknownAlgorithmError as exc:
        raise click.BadParameter(str(exc), param_hint="--algo") from None
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--config") from None
    chosen = () if nemesis == ("none",) else nemesis
    unknown = [n for n in chosen if n not in NEMESES]
    if unknown:
        raise click.BadParameter(f"unknown nemesis {', '.join(unknown)}; known: {', '.join(NEMESES)}, or none",
                                 param_hint="--nemesis")
    if reads == "lease" and not getattr(parsed, "check_quorum", False):
        raise click.BadParameter("lease reads need --config check_quorum=true", param_hint="--reads")
    if transport == "sim" and (insecure or network != "auto"):
        raise click.BadParameter("--insecure and --network are about real processes (--transport zmq)")
    return CheckSpec(algo, nodes, clients, duration or DEFAULT_DURATION_S[transport], tuple(chosen), seed, transport,
                     tuple(sorted(options.settings(config_items).items())), keys, op_timeout, network, not insecure,
                     observers, check_timeout, reads, read_from)


def _finish(run, out: Path) -> int:
    """Judge, print, keep the files; the exit status."""
    _say(f"checking {len(run.history)} operations ...")
    report, result = R.judge(run)
    files, notes = R.write(run, report, result, out)
    click.echo(R.text(report))
    if "counterexample" in report:
        click.echo("\n" + report["counterexample"])
    for note in notes:
        _say(note)
    click.echo("files: " + ", ".join(str(f) for f in files))
    if report["verdict"] != "ok" and run.spec.transport == "sim":
        click.echo(f"replay: {run.spec.command()}")
    verdict = Verdict(report["verdict"])
    if run.interrupted and verdict != Verdict.VIOLATION:
        return INTERRUPTED
    return R.EXIT[verdict]


def _recheck(path: str, check_timeout: float) -> int:
    """Check a saved history again (--history FILE, or FILE.gz)."""
    from quorumlab.core.check import check
    from quorumlab.core.check.counterexample import find_counterexample, render_text
    from quorumlab.core.check.history_format import HistoryFormatError, load_history

    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8") as f:
                history = load_history(f)
        else:
            history = load_history(path)
    except (OSError, HistoryFormatError) as exc:
        raise CheckError(str(exc)) from None
    result = check(history, timeout_s=check_timeout)
    click.echo(f"{path}: {result.summary()}")
    if result.verdict == Verdict.VIOLATION:
        cx = find_counterexample(result, history)
        if cx is not None:
            click.echo("\n" + render_text(cx))
    return R.EXIT[result.verdict]


def _campaign(spec: CheckSpec, seeds: int, workers: int, dask: str | None, out: Path) -> int:
    """Many simulated seeds across processes (or a Dask cluster); failing seeds with their replay command."""
    import json

    from quorumlab.bench.check.campaign import SeedResult, ignore_sigint, run_seeds

    started = time.monotonic()
    last = [started]
    done: list[SeedResult] = []

    def progress(r: SeedResult) -> None:
        done.append(r)
        if r.verdict != "ok":
            _say(f"seed {r.seed}: {r.verdict}" + (f" ({r.observer})" if r.observer else ""))
        if time.monotonic() - last[0] >= 2 or len(done) == seeds:
            last[0] = time.monotonic()
            bad = sum(1 for d in done if d.verdict != "ok")
            _say(f"[{last[0] - started:7.1f}s] seeds {len(done)}/{seeds}, not ok {bad}, "
                 f"{len(done) / max(1e-9, last[0] - started):.2f} seeds/s")

    interrupted = False
    span = range(spec.seed, spec.seed + seeds)
    try:
        if dask:
            try:
                from distributed import Client
            except ImportError:
                raise CheckError("--dask needs Dask's distributed: pip install 'quorumlab[dask]'") from None
            with Client(dask) as client:
                window = 2 * max(1, sum(client.nthreads().values()))
                _say(f"{seeds} seeds on the Dask cluster at {dask} ({window // 2} worker threads)")
                run_seeds(spec, span, client.get_executor(), window, progress)
        else:
            _say(f"{seeds} seeds on {workers} processes")
            with cf.ProcessPoolExecutor(workers, initializer=ignore_sigint) as pool:
                run_seeds(spec, span, pool, 2 * workers, progress)
    except KeyboardInterrupt:
        interrupted = True
        _say("interrupted: the seeds that finished are reported")
    results = sorted(done, key=lambda r: r.seed)
    counts = {v.value: sum(1 for r in results if r.verdict == v.value) for v in Verdict}
    (out / "campaign.json").write_text(json.dumps(
        {"spec": spec.to_dict(), "seeds": [spec.seed, spec.seed + seeds - 1], "finished": len(results),
         "counts": counts, "elapsed_s": time.monotonic() - started,
         "results": [r.__dict__ for r in results]}, indent=1) + "\n")
    click.echo(f"{spec.algo}: {len(results)} seeds checked, {counts['ok']} linearizable, {counts['violation']} "
               f"violations, {counts['unknown']} unknown ({time.monotonic() - started:.1f} s); {out / 'campaign.json'}")
    failing = [r for r in results if r.verdict != "ok"]
    for r in failing[:20]:
        click.echo(f"  seed {r.seed}: {r.verdict}{' — ' + r.observer if r.observer else ''}\n"
                   f"    replay: {spec.command(r.seed)}")
    if len(failing) > 20:
        click.echo(f"  ... and {len(failing) - 20} more in campaign.json")
    if counts["violation"]:
        return R.EXIT[Verdict.VIOLATION]
    if interrupted:
        return INTERRUPTED
    return R.EXIT[Verdict.UNKNOWN] if counts["unknown"] else 0


@click.command("check")
@click.option("--algo", default=None, help="A registered algorithm (see `bench algorithms`), or module:Class.")
@click.option("--nodes", type=click.IntRange(1, 240), default=5, show_default=True)
@click.option("--clients", type=click.IntRange(1, 1000), default=8, show_default=True)
@click.option("--duration", type=click.FloatRange(min=0.1), default=None,
              help=f"Seconds of workload (virtual in the simulator); default {DEFAULT_DURATION_S}.")
@click.option("--nemesis", type=NameList(), default=",".join(NEMESES), show_default=True,
              help="Faults to inject: kill (SIGKILL and restart, a majority, bounces), pause (SIGSTOP), "
                   "partition (random minority, leader in the minority); several also strike at once; none.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the workload and the nemesis.")
@click.option("--seeds", type=click.IntRange(1), default=1, show_default=True,
              help="Simulator only: check seeds SEED .. SEED+N-1, across --workers processes (or --dask).")
@click.option("--workers", type=click.IntRange(1), default=os.cpu_count() or 1, show_default=True,
              help="Processes for --seeds.")
@click.option("--dask", default=None, metavar="ADDRESS",
              help="Run --seeds on the Dask cluster whose scheduler is at ADDRESS (pip install 'quorumlab[dask]').")
@click.option("--transport", type=click.Choice(["zmq", "sim"]), default="zmq", show_default=True,
              help="zmq: one process per node; sim: the deterministic simulator.")
@options.config
@click.option("--keys", type=click.IntRange(1), default=10, show_default=True, help="Keys the workload uses.")
@click.option("--op-timeout", type=click.FloatRange(min=0.01), default=2.0, show_default=True,
              help="Seconds a client waits for an answer before recording the call as indeterminate (info).")
@click.option("--network", type=click.Choice(NETWORKS), default="auto", show_default=True,
              help="Partitions on real processes: netns (kernel drops between network namespaces; root), "
                   "cooperative (the runtime's switch), auto (netns where possible).")
@options.insecure
@click.option("--observers/--no-observers", default=True, show_default=True,
              help="Simulator: also run the algorithm's safety observers (a broken invariant is a violation).")
@click.option("--check-timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              help="Seconds the checker may take; past them the verdict is unknown.")
@click.option("--history", "history_file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Check this saved history (history.jsonl, or gzipped) instead of running anything.")
@click.option("--reads", type=click.Choice(READS), default="linearizable", show_default=True,
              help="How the workload's gets read: ReadIndex, the leader's lease (needs --config check_quorum=true), "
                   "through the log, or any node's state as it is (stale: not linearizable, expect a violation).")
@click.option("--read-from", type=click.Choice(["leader", "any"]), default="leader", show_default=True,
              help="Send gets without the log to the leader, or to every node in turn (follower reads).")
@click.option("--out", default=None, help="Output directory (default results/check-<timestamp>/).")
def check_cmd(algo, nodes, clients, duration, nemesis, seed, seeds, workers, dask, transport, config_items, keys,
              op_timeout, network, insecure, observers, check_timeout, reads, read_from, history_file, out) -> None:
    """Run a random key-value workload under a seeded nemesis and check the history for linearizability.

    On real processes (zmq) or in the simulator (sim, where --seeds N runs a campaign). Prints the operations
    (ok / failed / indeterminate), the faults with their times, the availability and the verdict, and keeps the
    history, check.json, availability.png and any counterexample in --out.
    """
    if history_file:
        sys.exit(_recheck(history_file, check_timeout))
    spec = _spec(algo, nodes, clients, duration, nemesis, seed, transport, config_items, keys, op_timeout, network,
                 insecure, observers, check_timeout, reads, read_from)
    if seeds > 1 and transport != "sim":
        raise click.BadParameter("many seeds run in the simulator (--transport sim)", param_hint="--seeds")
    if dask and seeds == 1:
        raise click.BadParameter("--dask runs a campaign: give --seeds N", param_hint="--dask")
    target = _out_dir(out)
    if seeds > 1:
        sys.exit(_campaign(spec, seeds, workers, dask, target))
    if transport == "sim":
        from quorumlab.bench.check.simulated import run_simulated

        _say(f"simulating {spec.duration_s:g} s of {spec.algo}, seed {spec.seed} ...")
        run = run_simulated(spec)
    else:
        from quorumlab.bench.check.netns import NetnsError
        from quorumlab.bench.check.processes import run_processes

        try:
            run = run_processes(spec, _say)
        except (NetnsError, TimeoutError, RuntimeError) as exc:
            raise CheckError(f"{exc}") from None
    sys.exit(_finish(run, target))
