"""Options several ``bench`` commands share, declared once (with the types of quorumlab.bench.types)."""
from __future__ import annotations

import click

from quorumlab.bench.types import ClusterSpec, KeyValue

algo = click.option("--algo", required=True, help="A registered algorithm (see `bench algorithms`), or module:Class.")

config = click.option(
    "--config", "config_items", multiple=True, type=KeyValue(), metavar="KEY=VALUE",
    help="A setting of the algorithm, e.g. election_timeout_min=150 (repeatable; an unknown KEY is refused with the "
         "list of known ones).",
)

cluster = click.option(
    "--cluster", "addresses", required=True, type=ClusterSpec(), metavar="ID=tcp://HOST:PORT,...",
    help="Every node of the cluster and its algorithm address.",
)

control = click.option(
    "--control", "controls", default=None, type=ClusterSpec(), metavar="ID=tcp://HOST:PORT,...",
    help="Control addresses (default: each algorithm port + 1000).",
)

keys = click.option(
    "--keys", "keys_dir", default=None, type=click.Path(file_okay=False),
    help="The cluster's keyring (see `bench keys create`); needed for a cluster that has one.",
)


def identity(default: str) -> click.decorators.FC:
    """``--as NAME``: which client key of the keyring to speak with (its role sets what is allowed)."""
    return click.option(
        "--as", "identity", default=default, show_default=True, metavar="NAME",
        help="The keyring's client to speak as (roles: read < client < admin).",
    )


insecure = click.option(
    "--insecure", is_flag=True,
    help="Plain mode, for teaching on a trusted machine: no keys, anyone who can reach a node's ports can speak as a "
         "member, propose, or stop it.",
)


def settings(items: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """The ``--config`` pairs as a dict (a later KEY wins)."""
    return dict(items)


def describe(settings: dict[str, str]) -> str:
    """``--config`` settings as they would be typed, for a report line."""
    return " ".join(f"{key}={value}" for key, value in sorted(settings.items()))
