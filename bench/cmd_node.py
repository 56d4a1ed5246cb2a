"""``bench node``: run one node in the foreground (also how a real multi-machine cluster is run)."""
from __future__ import annotations

import logging
import os
import sys

import click
import zmq

from core.errors import ConfigError, StorageError, UnknownAlgorithmError
from core.keys import Keyring, KeyringError
from core.runtime.addresses import AddressError, parse_cluster
from core.runtime.loader import load_algorithm
from core.runtime.node import Node
from core.runtime.process import continue_when_parent_dies, serve


def parse_config_items(items: tuple[str, ...]) -> dict[str, str]:
    """``("key=value", ...)`` -> {key: value}; ConfigError for an item without '='."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--config {item!r} is not KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@click.command("node")
@click.option("--algo", required=True, help="Registered algorithm name (see `bench algorithms`), or module:Class.")
@click.option("--id", "node_id", type=int, required=True, help="This node's id (a key of --cluster).")
@click.option("--cluster", "cluster_spec", required=True, metavar="ID=tcp://HOST:PORT,...", help="Every voter and its address.")
@click.option("--data-dir", required=True, type=click.Path(file_okay=False), help="Durable state and events.jsonl go here.")
@click.option("--config", "config_items", multiple=True, metavar="KEY=VALUE", help="Algorithm config override (repeatable).")
@click.option("--cluster-id", type=click.IntRange(0, 0xFFFFFFFF), default=1, show_default=True, help="Messages of other cluster ids are dropped.")
@click.option("--seed", type=int, default=None, help="Seed of the algorithm's RNG (default: from os.urandom).")
@click.option("--bind", default=None, metavar="tcp://IFACE:PORT", help="Bind here instead of this node's cluster address (e.g. tcp://0.0.0.0:7101).")
@click.option("--control", default=None, metavar="tcp://HOST:PORT", help="Control socket (default: algorithm port + 1000).")
@click.option("--events", "events_addr", default=None, metavar="tcp://HOST:PORT", help="Event PUB socket (default: algorithm port + 2000).")
@click.option("--counters-every", type=click.IntRange(100, 3_600_000), default=2000, show_default=True, help="ms between counters events (only when they changed).")
@click.option("--exit-with-parent", is_flag=True, help="Stop when the process that started this node exits (used by LocalCluster).")
@click.option("--keys", "keys_dir", default=None, type=click.Path(file_okay=False),
              help="The cluster's keyring (see `bench keys create`): peers and clients must prove who they are (CurveZMQ).")
@click.option("--insecure", is_flag=True,
              help="Run without keys (plain mode, for teaching): anyone who can reach the ports can speak as a member.")
def node_cmd(
    algo: str,
    node_id: int,
    cluster_spec: str,
    data_dir: str,
    config_items: tuple[str, ...],
    cluster_id: int,
    seed: int | None,
    bind: str | None,
    control: str | None,
    events_addr: str | None,
    counters_every: int,
    exit_with_parent: bool,
    keys_dir: str | None,
    insecure: bool,
) -> None:
    """Run one node until SIGTERM or Ctrl-C; events go to DATA_DIR/events.jsonl and the PUB socket."""
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s node {node_id} %(levelname)s %(message)s", stream=sys.stderr)
    if exit_with_parent:
        continue_when_parent_dies()  # a SIGSTOPped node must still see its parent go
    if (keys_dir is None) == (not insecure):
        _fail("pass --keys DIR (a keyring made by `bench keys create`) or, for plain mode on a trusted machine, "
              "--insecure" if keys_dir is None else "--keys and --insecure exclude each other", 2)
    try:
        keyring = Keyring(keys_dir) if keys_dir is not None else None
        addresses = parse_cluster(cluster_spec)
        if node_id not in addresses:
            raise AddressError(f"--id {node_id} is not in --cluster (ids: {', '.join(map(str, sorted(addresses)))})")
        algo_cls = load_algorithm(algo)
        config = algo_cls.Config.from_strings(parse_config_items(config_items))
        node = Node(
            algo_cls,
            node_id,
            addresses,
            data_dir,
            config,
            cluster_id=cluster_id,
            seed=seed,
            bind=bind,
            control=control,
            events=events_addr,
            counters_every_ms=counters_every,
            watch_parent=os.getppid() if exit_with_parent else None,
            keyring=keyring,
        )
    except (AddressError, ConfigError, UnknownAlgorithmError, KeyringError) as exc:
        _fail(str(exc), 2)
    try:
        reason = serve(node)
    except KeyringError as exc:
        _fail(str(exc), 2)
    except StorageError as exc:
        _fail(str(exc), 1)
    except zmq.ZMQError as exc:
        _fail(f"node {node_id}: cannot use its sockets ({node.bind}, {node.control_address}, {node.events_address}): {exc}", 1)
    logging.getLogger("quorumlab.node").info("stopped: %s", reason)
