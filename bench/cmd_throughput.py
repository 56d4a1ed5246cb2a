"""``bench throughput`` and ``bench catchup``: committed commands per second, commit latency, catch-up time.

quorumlab's algorithm (raft by default) runs as n ``bench node`` processes over ZeroMQ with fsync on;
one client keeps ``--outstanding`` put commands of ``--size`` bytes in flight
at the leader (1 = wait for each command) for ``--duration`` seconds and
records each command's latency from send to applied-reply. ``--batch B`` sends
quorumlab's commands B per control request (each is still its own log entry and
its own result), which is how a pipelining client amortizes the round trip. ``--pysyncobj``
measures the Python peer PySyncObj the same way in the same run (n processes,
``ReplDict.set`` of ``--size``-byte values through its callback API; the
driver is whichever of the n processes leads, its best case) and prints
the ratio. PySyncObj keeps its journal in memory unless given a file, so it
runs without fsync; the table says so. ``--embedded`` drives quorumlab the way
PySyncObj is driven: from inside the leader's process (an embedded node,
``quorumlab.Node``, in place of node 1), one ``submit`` per command, no client
batching; ``--leader-changes N`` then times N leader changes as the embedded
node's ``on_leader_change`` sees them after a SIGKILL of the leading process.
The measuring itself lives in quorumlab.bench.throughput.
"""
from __future__ import annotations

import json
import statistics
import subprocess

import click

from quorumlab.bench import options
from quorumlab.bench.types import KeyValue, NameList
from quorumlab.bench.throughput import (
    MeasurementFailed,
    measure_catch_up,
    measure_driver_ceiling,
    measure_embedded,
    measure_leader_changes,
    measure_log,
    measure_pysyncobj,
)
from quorumlab.core import registry
from quorumlab.core.client import READ_MODES
from quorumlab.core.errors import ConfigError, UnknownAlgorithmError
from quorumlab.core.limits import CONTROL_MAX_BYTES


@click.command("catchup")
@click.option("--entries", type=click.IntRange(1, 10_000_000), default=100_000, show_default=True,
              help="Commands committed while the follower is down.")
@click.option("--nodes", type=click.IntRange(2, 9), default=3, show_default=True)
@click.option("--size", type=click.IntRange(1, 1 << 20), default=16, show_default=True, help="Command value bytes.")
@click.option("--keys", type=click.IntRange(1, 10_000_000), default=1000, show_default=True,
              help="Distinct keys the commands write in turn.")
@click.option("--snapshot-entries", type=click.IntRange(0, 1 << 62), default=100_000, show_default=True,
              help="Also measure the snapshot path: the same run with --config snapshot_entries=N, where the "
                   "follower catches up by InstallSnapshot (0: the log path only).")
@options.config
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def catchup_cmd(entries: int, nodes: int, size: int, keys: int, snapshot_entries: int,
                config_items: tuple[tuple[str, str], ...], as_json: bool) -> None:
    """Time for a restarted raft follower to catch up with ENTRIES commands it missed (real processes): from the
    log (compaction off), then by InstallSnapshot (compaction on), with the bytes the leader sent meanwhile.
    ``--config`` settings apply to both."""
    base = options.settings(config_items)
    base.pop("snapshot_entries", None)
    try:
        registry.load("raft").Config.from_strings(base)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--config") from None
    configs = [base] + ([{**base, "snapshot_entries": snapshot_entries}] if snapshot_entries else [])
    try:
        results = [measure_catch_up(entries, nodes, size, config, keys=keys) for config in configs]
    except MeasurementFailed as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(results, indent=2))
        return
    click.echo(f"{nodes} processes, {size}-byte commands over {keys} keys: a follower down while {entries} commands "
               f"committed, then restarted")
    for r in results:
        path = (f"snapshot_entries={r['config']['snapshot_entries']}" if "snapshot_entries" in r["config"]
                else "compaction off")
        how = (f"by InstallSnapshot ({r['snapshot_bytes'] / 2**20:.1f} MiB image)" if r["by"] == "snapshot"
               else "from the log")
        calm = ("no leader change" if r["same_leader"] and not r["leader_changes"] and not r["elections_started"]
                else f"{r['leader_changes']} leader changes, {r['elections_started']} elections")
        click.echo(f"  {path:<26} {r['entries_behind']} entries held and applied {r['catch_up_ms']} ms after it "
                   f"started, {how}; the leader sent {r['bytes_sent'] / 2**20:.1f} MiB meanwhile; {calm}")


@click.command("throughput")
@click.option("--algo", default="raft", show_default=True,
              help="A registered algorithm with a log and a state machine (its class has StateMachine).")
@click.option("--nodes", type=click.IntRange(1, 9), default=3, show_default=True)
@click.option("--size", type=click.IntRange(1, 1 << 20), default=16, show_default=True, help="Command value bytes.")
@click.option("--duration", type=click.FloatRange(0.5, 3600), default=10.0, show_default=True, help="Seconds.")
@click.option("--outstanding", type=click.IntRange(1, 1_000_000), default=1, show_default=True,
              help="Commands in flight at once (1: wait for each).")
@click.option("--batch", type=click.IntRange(1, 10_000), default=1, show_default=True,
              help="quorumlab: commands per client request (each is still its own log entry).")
@options.config
@click.option("--reads", type=NameList(), default=None, metavar="MODE[,MODE...]",
              help="Measure gets instead of puts (of 1,000 keys written first): log (through the log), "
                   "linearizable (ReadIndex), lease (needs --config check_quorum=true) or stale; several, comma-"
                   "separated, are measured one after the other in this run, with ratios to the first.")
@click.option("--read-from", type=click.Choice(["leader", "any"]), default="leader", show_default=True,
              help="Send reads to the leader, or to every node in turn (follower reads).")
@click.option("--pysyncobj", "with_pysyncobj", is_flag=True, help="Also measure PySyncObj the same way (puts).")
@click.option("--embedded", is_flag=True,
              help="Drive quorumlab from inside its leader's process (an embedded node in place of node 1), one "
                   "submit per command, as PySyncObj is driven (puts; --batch does not apply).")
@click.option("--embedded-futures", is_flag=True,
              help="With --embedded: also measure submit() with a Future per command (the default driver passes a "
                   "callback, submit_with_callback, as PySyncObj's driver does).")
@click.option("--embedded-follower", is_flag=True,
              help="With --embedded: also measure the embedded node as a follower (a process leads): each command is "
                   "forwarded to the leader and answered once the follower has applied it.")
@click.option("--leader-changes", type=click.IntRange(0, 100), default=0, show_default=True,
              help="With --embedded: also time this many leader changes, SIGKILL of the leading process -> the "
                   "embedded node's on_leader_change naming the next leader.")
@options.insecure
@click.option("--also-insecure", is_flag=True,
              help="Also measure the same load in plain mode (no CurveZMQ), in the same run: what encryption costs.")
@click.option("--versus", "versus_items", multiple=True, type=KeyValue(), metavar="KEY=VALUE",
              help="Also measure the same puts with these settings added to --config, in the same run, alternating "
                   "--rounds times, and print the ratio of the median throughputs (e.g. --versus snapshot_entries="
                   "100000: what log compaction costs).")
@click.option("--rounds", type=click.IntRange(1, 20), default=1, show_default=True,
              help="With --versus: how many times to measure each of the two, alternating.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def throughput_cmd(algo: str, nodes: int, size: int, duration: float, outstanding: int, batch: int,
                   config_items: tuple[tuple[str, str], ...], reads: tuple[str, ...] | None, read_from: str,
                   with_pysyncobj: bool, embedded: bool, embedded_futures: bool, embedded_follower: bool,
                   leader_changes: int,
                   insecure: bool, also_insecure: bool, versus_items: tuple[tuple[str, str], ...], rounds: int,
                   as_json: bool) -> None:
    """Committed commands per second and commit latency (median, p99) on local processes."""
    config = options.settings(config_items)
    versus = {**config, **options.settings(versus_items)} if versus_items else None
    try:
        cls = registry.load(algo)
    except UnknownAlgorithmError as exc:
        raise click.BadParameter(str(exc), param_hint="--algo") from None
    if cls.StateMachine is None:
        with_log = [n for n in registry.available() if registry.load(n).StateMachine is not None]
        raise click.BadParameter(
            f"{algo} has no log to replicate commands through; algorithms with one: {', '.join(with_log) or 'none'}",
            param_hint="--algo",
        )
    try:
        parsed = cls.Config.from_strings(config)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--config") from None
    unknown = [m for m in reads or () if m not in READ_MODES]
    if unknown or reads == ():
        raise click.BadParameter(f"read modes are {', '.join(READ_MODES)}; got {', '.join(unknown) or 'none'}",
                                 param_hint="--reads")
    if "lease" in (reads or ()) and not getattr(parsed, "check_quorum", False):
        raise click.BadParameter("lease reads need --config check_quorum=true", param_hint="--reads")
    if embedded and (reads or batch != 1):
        raise click.UsageError("--embedded measures puts one per submit: without --reads and --batch")
    if leader_changes and not embedded:
        raise click.UsageError("--leader-changes needs --embedded")
    if embedded_futures and not embedded:
        raise click.UsageError("--embedded-futures needs --embedded")
    if embedded_follower and not embedded:
        raise click.UsageError("--embedded-follower needs --embedded")
    if versus is not None and (reads or embedded or with_pysyncobj or also_insecure):
        raise click.UsageError("--versus measures puts twice: without --reads, --embedded, --pysyncobj, "
                               "--also-insecure")
    if versus is not None:
        try:
            cls.Config.from_strings(versus)
        except ConfigError as exc:
            raise click.BadParameter(str(exc), param_hint="--versus") from None
    request_bytes = 8 + batch * (size + 40)
    if request_bytes > CONTROL_MAX_BYTES:
        raise click.BadParameter(
            f"a request of {batch} commands of {size} bytes is about {request_bytes >> 20} MiB, over the control "
            f"socket's {CONTROL_MAX_BYTES >> 20} MiB limit; use a smaller --batch", param_hint="--batch")
    try:
        results = []
        changes = None
        for _ in range(rounds - 1 if versus is not None else 0):
            for settings in (config, versus):
                results.append(measure_log(nodes, size, duration, outstanding, batch, settings, algo,
                                           secure=not insecure))
        for mode in () if embedded else reads or (None,):
            results.append(measure_log(nodes, size, duration, outstanding, batch, config, algo, secure=not insecure,
                                       reads=mode, read_from=read_from))
            if also_insecure and not insecure:
                results.append(measure_log(nodes, size, duration, outstanding, batch, config, algo, secure=False,
                                           reads=mode, read_from=read_from))
            if versus is not None:
                results.append(measure_log(nodes, size, duration, outstanding, batch, versus, algo,
                                           secure=not insecure))
        if embedded:
            timer = cls.detection_timer
            results.append(measure_embedded(nodes, size, duration, outstanding, config, algo, not insecure, timer))
            if embedded_futures:
                results.append(measure_embedded(nodes, size, duration, outstanding, config, algo, not insecure, timer,
                                                futures=True))
            if embedded_follower:
                results.append(measure_embedded(nodes, size, duration, outstanding, config, algo, not insecure, timer,
                                                follower=True))
            if also_insecure and not insecure:
                results.append(measure_embedded(nodes, size, duration, outstanding, config, algo, False, timer))
            results.append(measure_driver_ceiling(size, duration, outstanding))
            if leader_changes:
                changes = measure_leader_changes(leader_changes, nodes, config, algo, not insecure, timer)
        if with_pysyncobj:
            try:
                results.append(measure_pysyncobj(nodes, size, duration, outstanding))
            except (OSError, ValueError, subprocess.SubprocessError) as exc:
                raise MeasurementFailed(f"PySyncObj measurement failed (is pysyncobj installed?): {exc}") from None
    except MeasurementFailed as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(results if changes is None else {"throughput": results, "leader_changes": changes},
                              indent=2))
        return
    click.echo(f"{nodes} processes, {size}-byte commands, {outstanding} outstanding, {duration:g} s, "
               f"quorumlab requests of {batch} command(s)")
    for r in results:
        click.echo(
            f"  {r['system']:<52} {r['ops_per_s']:>10.1f} ops/s   median {r['median_ms']} ms   "
            f"p99 {r['p99_ms']} ms   ({r['ops']} ops, {r['errors']} errors)"
            + (f"   config {r['config']}" if versus is not None else "")
        )
        if r.get("diverged_warnings"):
            click.echo(f"  {'':<52} PySyncObj's followers logged {r['diverged_warnings']} times that they truncated "
                       "entries they had applied (\"state machine may have diverged\")")
        if "leader_changes" in r:
            click.echo(f"  {'':<52} during the load: {r['leader_changes']} leader changes, {r['elections_started']} "
                       f"elections, {r['pre_votes_started']} pre-vote rounds, {r['terms_raised']} terms raised, "
                       f"{r['connections_dropped']} connections dropped")
    if versus is not None:
        base = statistics.median(r["ops_per_s"] for r in results if r["config"] == config)
        other = statistics.median(r["ops_per_s"] for r in results if r["config"] == versus)
        if base:
            changed = {k: v for k, v in versus.items() if config.get(k) != v}
            click.echo(f"  ratio with {options.describe(changed)} / without: {other / base:.2f}x "
                       f"(median ops/s over {rounds} run(s) each: {other:.0f} vs {base:.0f})")
    plain = next((r for r in results[1:] if r.get("secure") is False), None)
    if plain is not None and plain["ops_per_s"]:
        click.echo(f"  ratio with CURVE / plain: {results[0]['ops_per_s'] / plain['ops_per_s']:.2f}x")
    if reads and len(reads) > 1 and results[0]["ops_per_s"]:
        base = results[0]
        for r in results[1:]:
            if r.get("secure") == base.get("secure"):
                click.echo(f"  {r['reads']} / {base['reads']} reads: {r['ops_per_s'] / base['ops_per_s']:.2f}x "
                           f"throughput, p99 {r['p99_ms']} vs {base['p99_ms']} ms")
    other = results[-1] if with_pysyncobj else None
    if other is not None and other["ops_per_s"]:
        click.echo(f"  ratio quorumlab / PySyncObj: {results[0]['ops_per_s'] / other['ops_per_s']:.2f}x")
        ceiling = next((r for r in results if r.get("ceiling")), None)
        if ceiling is not None:
            click.echo(f"  ratio driver ceiling / PySyncObj: {ceiling['ops_per_s'] / other['ops_per_s']:.2f}x (the "
                       "most any system driven this way could reach against PySyncObj)")
    if changes is not None:
        click.echo(f"  leader change, SIGKILL -> on_leader_change: median {changes['median_ms']} ms over "
                   f"{len(changes['trials'])} trials; when the embedded node became leader: "
                   f"{changes['median_ms_when_embedded_became_leader']} ms")
