"""``bench node``: run one node in the foreground (also how a real multi-machine cluster is run)."""
from __future__ import annotations

import logging
import os
import sys

import click
import zmq

from quorumlab.bench import options
from quorumlab.core.errors import ConfigError, StorageError, UnknownAlgorithmError
from quorumlab.core.keys import Keyring, KeyringError
from quorumlab.core.runtime.loader import load_algorithm
from quorumlab.core.runtime.node import Node
from quorumlab.core.runtime.process import continue_when_parent_dies, serve


@click.command("node")
@options.algo
@click.option("--id", "node_id", type=int, required=True, help="This node's id (a key of --cluster).")
@options.cluster
@click.option("--data-dir", required=True, type=click.Path(file_okay=False),
              help="Durable state (identity, term, vote, log) and events.jsonl go here.")
@options.config
@click.option("--cluster-id", type=click.IntRange(0, 0xFFFFFFFF), default=1, show_default=True,
              help="A label every message carries; messages of other cluster ids are dropped.")
@click.option("--seed", type=int, default=None, help="Seed of the algorithm's RNG (default: from os.urandom).")
@click.option("--bind", default=None, metavar="tcp://IFACE:PORT",
              help="Bind here instead of this node's cluster address (e.g. tcp://0.0.0.0:7101).")
@click.option("--control", "control_addr", default=None, metavar="tcp://HOST:PORT",
              help="Control socket (default: algorithm port + 1000).")
@click.option("--events", "events_addr", default=None, metavar="tcp://HOST:PORT",
              help="Event PUB socket (default: algorithm port + 2000).")
@click.option("--counters-every", type=click.IntRange(100, 3_600_000), default=2000, show_default=True,
              help="ms between counters events (only when they changed).")
@click.option("--exit-with-parent", is_flag=True, help="Stop when the process that started this node exits (used by LocalCluster).")
@click.option("--keys", "keys_dir", default=None, type=click.Path(file_okay=False),
              help="The cluster's keyring (see `bench keys create`): peers and clients must prove who they are (CurveZMQ).")
@click.option("--trace-messages", is_flag=True,
              help="An event per message sent and received (send/recv: peer, type, bytes), for `bench web`'s exact "
                   "view of real processes. Costs a JSON line per message: for watching, not for benchmarks.")
@click.option("--hand-over/--no-hand-over", default=True, show_default=True,
              help="As leader, hand leadership to the best placed follower before stopping (SIGTERM, Ctrl-C, control "
                   "stop), so a planned restart costs a transfer rather than an election timeout.")
@click.option("--join", is_flag=True,
              help="Start as a server being added to a running cluster (raft): --cluster names its current members "
                   "and this node; it campaigns for nothing until a configuration makes it a member (`bench member "
                   "add`).")
@options.insecure
def node_cmd(
    algo: str,
    node_id: int,
    addresses: dict[int, str],
    data_dir: str,
    config_items: tuple[tuple[str, str], ...],
    cluster_id: int,
    seed: int | None,
    bind: str | None,
    control_addr: str | None,
    events_addr: str | None,
    counters_every: int,
    exit_with_parent: bool,
    keys_dir: str | None,
    trace_messages: bool,
    hand_over: bool,
    join: bool,
    insecure: bool,
) -> None:
    """Run one node until SIGTERM or Ctrl-C; events go to DATA_DIR/events.jsonl and the PUB socket."""
    if keys_dir is None and not insecure:
        raise click.UsageError("pass --keys DIR (a keyring made by `bench keys create`) or, for plain mode on a "
                               "trusted machine, --insecure")
    if keys_dir is not None and insecure:
        raise click.UsageError("--keys and --insecure exclude each other")
    if node_id not in addresses:
        raise click.BadParameter(f"--id {node_id} is not in --cluster (ids: {', '.join(map(str, sorted(addresses)))})",
                                 param_hint="--id")
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s node {node_id} %(levelname)s %(message)s", stream=sys.stderr)
    if exit_with_parent:
        continue_when_parent_dies()  # a SIGSTOPped node must still see its parent go
    try:
        keyring = Keyring(keys_dir) if keys_dir is not None else None
        algo_cls = load_algorithm(algo)
        config = algo_cls.Config.from_strings(options.settings(config_items))
        node = Node(
            algo_cls,
            node_id,
            addresses,
            data_dir,
            config,
            cluster_id=cluster_id,
            seed=seed,
            bind=bind,
            control=control_addr,
            events=events_addr,
            counters_every_ms=counters_every,
            watch_parent=os.getppid() if exit_with_parent else None,
            keyring=keyring,
            trace_messages=trace_messages,
            join=join,
        )
        node.hand_over_on_stop = hand_over
    except (ConfigError, UnknownAlgorithmError, KeyringError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    try:
        reason = serve(node)
    except KeyringError as exc:
        raise click.UsageError(str(exc)) from None
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
    except zmq.ZMQError as exc:
        raise click.ClickException(f"node {node_id}: cannot use its sockets ({node.bind}, {node.control_address}, "
                                   f"{node.events_address}): {exc}") from None
    logging.getLogger("quorumlab.node").info("stopped: %s", reason)
