"""``bench cluster``: start n local node processes, show a live status table, stop them all on Ctrl-C."""
from __future__ import annotations

import os
import sys
import tempfile
import time

import click
from rich.console import Console
from rich.live import Live

from quorumlab.bench import options
from quorumlab.bench.cmd_status import status_table
from quorumlab.core.cluster import LocalCluster
from quorumlab.core.errors import ConfigError, UnknownAlgorithmError
from quorumlab.core.keys import KeyringError
from quorumlab.core.runtime.addresses import format_cluster


def how_to_reach(cluster: LocalCluster) -> str:
    """The options (and the Python line) that reach ``cluster`` from another terminal."""
    spec = f"--cluster {format_cluster(cluster.addresses)} --control {format_cluster(cluster.control_addresses)}"
    control = "{" + ", ".join(f"{i}: {a!r}" for i, a in sorted(cluster.control_addresses.items())) + "}"
    if cluster.keyring is not None:
        spec += f" --keys {cluster.keyring.path}"
        python = (f"KVClient({format_cluster(cluster.addresses)!r}, control={control}, "
                  f"keys={cluster.keyring.path!r})")
        mode = f"secure (CurveZMQ; keyring {cluster.keyring.path})"
    else:
        python = f"KVClient({format_cluster(cluster.addresses)!r}, control={control})"
        mode = "PLAIN MODE: not authenticated, for teaching on a trusted machine only"
    return (f"cluster id {cluster.cluster_id}, {mode}\n"
            f"reach it with:  bench status {spec}\n"
            f"                bench kv put KEY VALUE {spec}\n"
            f"from Python:    from quorumlab.core.client import KVClient; {python}\n")


@click.command("cluster")
@options.algo
@click.option("-n", "--nodes", type=click.IntRange(1, 99), default=3, show_default=True, help="Number of node processes.")
@click.option("--base-port", type=click.IntRange(1, 63000), default=None, help="Node i listens on BASE+i (control +1000, events +2000); default: free ports.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help="Where each node keeps DIR/<id>/ (default: a new temp dir, kept).")
@options.config
@click.option("--refresh", type=click.FloatRange(0.1, 10), default=0.5, show_default=True, help="Seconds between table refreshes.")
@click.option("--duration", type=click.FloatRange(0), default=0, help="Stop by itself after this many seconds (0: run until Ctrl-C).")
@options.keys
@options.insecure
def cluster_cmd(algo: str, nodes: int, base_port: int | None, data_dir: str | None,
                config_items: tuple[tuple[str, str], ...],
                refresh: float, duration: float, keys_dir: str | None, insecure: bool) -> None:
    """Run a local cluster of NODES processes on 127.0.0.1 with a live table; Ctrl-C stops every one of them.

    The cluster is secure unless --insecure: its nodes use a keyring (by default one made in DATA_DIR/keys),
    and the command prints the options that reach it with `bench status` and `bench kv`.
    """
    if insecure and keys_dir:
        raise click.UsageError("--keys and --insecure exclude each other")
    data_dir = os.path.abspath(data_dir) if data_dir else tempfile.mkdtemp(prefix="quorumlab-cluster-")
    try:
        cluster = LocalCluster(algo, nodes, base_port=base_port, data_dir=data_dir, config=options.settings(config_items),
                               secure=not insecure, keys=keys_dir)
    except (ConfigError, UnknownAlgorithmError, KeyringError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    console = Console(width=None if sys.stdout.isatty() else 160)
    interrupted = False
    try:
        with cluster:
            click.echo(how_to_reach(cluster))
            title = f"{algo} x{nodes}  cluster id {cluster.cluster_id}  (Ctrl-C stops every node)"
            with Live(status_table({}, cluster.addresses, title), console=console, auto_refresh=False) as live:
                end = time.monotonic() + duration if duration else None
                while end is None or time.monotonic() < end:
                    live.update(status_table(cluster.status(timeout_s=refresh), cluster.addresses, title), refresh=True)
                    time.sleep(refresh)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        pids = ", ".join(map(str, cluster.spawned_pids)) or "none"
        click.echo(f"\n{'interrupted: ' if interrupted else ''}stopped every node process (pids {pids})")
        click.echo(f"data: {cluster.data_dir}")
        for i in cluster.ids:
            click.echo(f"  node {i}: events {cluster.event_log(i)}  log {cluster.node_log(i)}")
