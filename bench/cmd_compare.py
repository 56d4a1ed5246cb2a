"""``bench compare`` (measure raft, paxos, bully or any plugin side by side) and ``bench report`` (render a saved run)."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from quorumlab.core import registry
from quorumlab.core.errors import ConfigError, UnknownAlgorithmError

from quorumlab.bench import options
from quorumlab.bench.types import KeyValue, MsRange, NameList, Sizes
from quorumlab.bench.compare import report as R
from quorumlab.bench.compare import schema
from quorumlab.bench.compare.runner import HINTS, CompareConfig, fair_config, run
from quorumlab.bench.compare.scenarios import SCENARIOS

DEFAULT_TRIALS = {"sim": 20, "zmq": 10}
"""zmq: about 2.5 minutes for the default run (3 algorithms x 5 nodes x 6 scenarios) on the 2-core dev machine."""
DEFAULT_LATENCY_MS = "5-15"


def _settings(items: tuple[tuple[str, str], ...], names: tuple[str, ...],
              detect: tuple[int, int]) -> tuple[tuple[str, str, str], ...]:
    """Check ``--config ALGO.KEY=VALUE`` items against each algorithm's config."""
    out: list[tuple[str, str, str]] = []
    for target, value in items:
        algo, dot, key = target.partition(".")
        if not dot or not algo or not key:
            raise click.BadParameter(f"{target}={value} is not ALGO.KEY=VALUE (e.g. raft.pre_vote=true)",
                                     param_hint="--config")
        if algo not in names:
            raise click.BadParameter(f"{algo!r} is not among --algos ({', '.join(names)})", param_hint="--config")
        out.append((algo, key.strip(), value.strip()))
    for name in names:
        mine = {key: value for algo, key, value in out if algo == name}
        if mine:
            try:
                fair_config(registry.load(name), detect, mine)
            except ConfigError as exc:
                raise click.BadParameter(str(exc), param_hint="--config") from None
    return tuple(out)


def _transport(name: str, latency: tuple[int, int] | None, secure: bool = True, writes: bool = False):
    """The transport object for --transport."""
    if name == "sim":
        from quorumlab.bench.compare.runner_sim import SimTransport

        return SimTransport(latency)
    from quorumlab.bench.compare.runner_zmq import ZmqTransport, runtime_missing

    missing = runtime_missing()
    if missing:
        raise click.ClickException(f"the ZeroMQ runtime is not available: {missing}; --transport sim runs the same scenarios in the simulator")
    return ZmqTransport(secure, writes)


def _out_dir(out: str | None) -> Path:
    if out:
        path = Path(out)
    else:
        base = Path("results") / time.strftime("%Y%m%d-%H%M%S")
        path, k = base, 1
        while path.exists():
            k += 1
            path = base.with_name(f"{base.name}-{k}")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write(results: dict, out: Path, console) -> list[str]:
    """results.json, plots and report.md into ``out``; returns the plot files."""
    from quorumlab.bench.compare.plots import make_plots

    schema.dump(results, out / "results.json")
    try:
        plots = make_plots(results, out)
    except ImportError as exc:
        console.print(f"plots skipped: matplotlib is not installed ({exc}); pip install 'quorumlab\\[plots]'",
                      style="yellow")
        plots = []
    (out / "report.md").write_text(R.to_markdown(results, plots))
    return plots


def _emit(results: dict, fmt: str, plots: list[str] = ()) -> None:
    if fmt == "json":
        click.echo(json.dumps(results, indent=2, sort_keys=True))
    elif fmt == "markdown":
        click.echo(R.to_markdown(results, plots), nl=False)
    else:
        from rich.console import Console

        R.print_rich(results, Console())


@click.command("compare")
@click.option("--algos", type=NameList(), default="raft,paxos,bully", show_default=True,
              help="Registered algorithms to compare (see `bench algorithms`).")
@click.option("--transport", type=click.Choice(["zmq", "sim"]), default="zmq", show_default=True,
              help="zmq: one process per node on 127.0.0.1; sim: the deterministic simulator.")
@click.option("--nodes", type=Sizes(minimum=3), default="5", show_default=True,
              help="Cluster size, or several (sweep), e.g. 3,5,9,17,33,65.")
@click.option("--trials", type=click.IntRange(1, 10_000), default=None, help=f"Trials per scenario (default: {DEFAULT_TRIALS}).")
@click.option("--scenarios", type=NameList(), default=None, help=f"Comma list of {', '.join(SCENARIOS)} (default: all).")
@click.option("--detect-ms", type=MsRange(), default="150-300", show_default=True,
              help="The range every algorithm's failure detection is mapped onto (raft's election timeout, paxos's "
                   "lease, bully's answer wait), so none wins by a shorter timer.")
@click.option("--latency-ms", type=MsRange(), default=None,
              help=f"Simulated one-way network delay range (sim only; default {DEFAULT_LATENCY_MS}).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the run; each trial derives its own.")
@click.option("--out", default=None, help="Output directory (default results/<timestamp>/).")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "json"]), default="table", show_default=True)
@click.option("--config", "config_items", multiple=True, type=KeyValue(), metavar="ALGO.KEY=VALUE",
              help="A setting of one algorithm on top of its fair config, e.g. raft.pre_vote=true (repeatable; "
                   "timers mapped from --detect-ms cannot be set).")
@click.option("--hints", type=click.Choice(HINTS), default="default", show_default=True,
              help="The algorithms' transport_hints (a dropped connection starts an election at once): as each is "
                   "configured, on, off, or both, as two labelled variants per algorithm (\"raft (hints)\", "
                   "\"raft (timeout-only)\") measured on the same seeds.")
@click.option("--first-write", is_flag=True,
              help="During the crash and pause trials a client writes one key after another through the log (zmq, "
                   "algorithms with a log) and first_write_ms is the time from the fault to the first write a new "
                   "leader acknowledged, as the client saw it. Message and byte counts then include its writes.")
@options.insecure
def compare_cmd(algos, transport, nodes, trials, scenarios, detect_ms, latency_ms, seed, out, fmt, config_items,
                hints, first_write, insecure) -> None:
    """Measure leader election side by side on the same faults: raft, paxos and bully (or any plugin).

    Each scenario (cold start, leader crash, pause, partition, rejoin, forced contention) runs --trials
    times per algorithm, on real processes (zmq) or in the simulator; the tables give failover time,
    election rounds, messages and bytes, and leaders at once, with every trial kept in results.json.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    names = algos
    if not names:
        raise click.BadParameter("name at least one algorithm", param_hint="--algos")
    for name in names:
        try:
            registry.load(name)
        except UnknownAlgorithmError as exc:
            raise click.BadParameter(str(exc), param_hint="--algos") from None
    chosen = tuple(SCENARIOS) if scenarios is None else scenarios
    unknown = [s for s in chosen if s not in SCENARIOS]
    if unknown:
        raise click.BadParameter(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}", param_hint="--scenarios")
    if latency_ms is not None and transport != "sim":
        raise click.BadParameter("the network latency can only be modeled in the simulator (--transport sim)", param_hint="--latency-ms")
    latency = (latency_ms or MsRange().convert(DEFAULT_LATENCY_MS, None, None)) if transport == "sim" else None
    detect = detect_ms
    if detect[0] < 1:
        raise click.BadParameter("the detection range must start at 1 ms or more", param_hint="--detect-ms")
    settings = _settings(config_items, names, detect)
    if hints != "default" and any(key == "transport_hints" for _, key, _ in settings):
        raise click.BadParameter("transport_hints is set by --hints; set it in one place", param_hint="--config")
    if insecure and transport != "zmq":
        raise click.BadParameter("plain mode is a property of real processes (--transport zmq)", param_hint="--insecure")
    if first_write and transport != "zmq":
        raise click.BadParameter("the simulator has no clients: client writes need --transport zmq",
                                 param_hint="--first-write")
    cfg = CompareConfig(names, transport, nodes, trials or DEFAULT_TRIALS[transport], chosen, detect, latency, seed,
                        settings, secure=not insecure, hints=hints, first_write=first_write)
    tp = _transport(transport, latency, secure=not insecure, writes=first_write)
    err = Console(stderr=True)
    out_dir = _out_dir(out)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as bar:
        task = bar.add_task("starting", total=None)

        def progress(p: dict) -> None:
            bar.update(task, total=p["total"], completed=p["done"],
                       description=f"{p['scenario']} · {p['algo']} · n={p['nodes']} · trial {p['trial']}/{p['trials']}")

        results = run(cfg, tp, progress)
    plots = _write(results, out_dir, err)
    _emit(results, fmt, plots)
    err.print(f"results: {out_dir}/results.json, {out_dir}/report.md" + "".join(f", {out_dir}/{p}" for p in plots), highlight=False)
    if results["run"]["interrupted"]:
        err.print("interrupted: the tables show the trials that finished", style="yellow")
        sys.exit(130)


@click.command("report")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "json"]), default="table", show_default=True)
@click.option("--rewrite", is_flag=True, help="Also regenerate report.md and the plots in DIRECTORY.")
def report_cmd(directory, fmt, rewrite) -> None:
    """Render a saved `bench compare` run (its results.json) again."""
    try:
        results = schema.load(Path(directory))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    plots = sorted(p.name for p in Path(directory).glob("*.png"))
    if rewrite:
        from rich.console import Console

        plots = _write(results, Path(directory), Console(stderr=True))
    _emit(results, fmt, plots)
