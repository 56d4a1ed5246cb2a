"""``bench kv``: put, get, delete and cas against a running Raft cluster (core.client.KVClient)."""
from __future__ import annotations

import sys

import click

from core.client import ClientError, KVClient
from core.runtime.addresses import AddressError, parse_cluster

_cluster = click.option(
    "--cluster", "cluster_spec", required=True, metavar="ID=tcp://HOST:PORT,...", help="The nodes' algorithm addresses."
)
_control = click.option(
    "--control", "control_spec", default=None, metavar="ID=tcp://HOST:PORT,...",
    help="Control addresses (default: each algorithm port + 1000).",
)
_timeout = click.option(
    "--timeout", type=click.FloatRange(0.1, 600), default=10.0, show_default=True,
    help="Seconds to keep retrying (redirects, leader changes) before giving up.",
)


def _client(cluster_spec: str, control_spec: str | None, timeout: float) -> KVClient:
    try:
        nodes = parse_cluster(cluster_spec)
        control = parse_cluster(control_spec) if control_spec else None
    except AddressError as exc:
        raise click.BadParameter(str(exc)) from None
    return KVClient(nodes, control=control, timeout_s=timeout)


def _run(cluster_spec: str, control_spec: str | None, timeout: float, action) -> None:
    with _client(cluster_spec, control_spec, timeout) as kv:
        try:
            out, ok = action(kv)
        except ClientError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
    click.echo(out)
    if not ok:
        sys.exit(1)


def _text(value: bytes | None) -> str:
    return "" if value is None else value.decode("utf-8", "backslashreplace")


@click.group("kv")
def kv_cmd() -> None:
    """The replicated key-value store: every command goes through the Raft log (linearizable)."""


@kv_cmd.command("put")
@click.argument("key")
@click.argument("value")
@_cluster
@_control
@_timeout
def put_cmd(key: str, value: str, cluster_spec: str, control_spec: str | None, timeout: float) -> None:
    """Set KEY to VALUE; prints the previous value (empty if none)."""
    _run(cluster_spec, control_spec, timeout, lambda kv: (_text(kv.put(key, value)), True))


@kv_cmd.command("get")
@click.argument("key")
@_cluster
@_control
@_timeout
def get_cmd(key: str, cluster_spec: str, control_spec: str | None, timeout: float) -> None:
    """Print KEY's value; exit status 1 if it is absent."""

    def action(kv: KVClient):
        value = kv.get(key)
        return ("(absent)" if value is None else _text(value)), value is not None

    _run(cluster_spec, control_spec, timeout, action)


@kv_cmd.command("delete")
@click.argument("key")
@_cluster
@_control
@_timeout
def delete_cmd(key: str, cluster_spec: str, control_spec: str | None, timeout: float) -> None:
    """Remove KEY; exit status 1 if it was absent."""

    def action(kv: KVClient):
        existed = kv.delete(key)
        return ("deleted" if existed else "(absent)"), existed

    _run(cluster_spec, control_spec, timeout, action)


@kv_cmd.command("cas")
@click.argument("key")
@click.argument("expected")
@click.argument("new")
@click.option("--absent", is_flag=True, help="Expect KEY to be absent (EXPECTED is then ignored).")
@_cluster
@_control
@_timeout
def cas_cmd(
    key: str, expected: str, new: str, absent: bool, cluster_spec: str, control_spec: str | None, timeout: float
) -> None:
    """Set KEY to NEW only if its value is EXPECTED; exit status 1 if it was not."""

    def action(kv: KVClient):
        done = kv.cas(key, None if absent else expected, new)
        return ("set" if done else "not set: the value differs"), done

    _run(cluster_spec, control_spec, timeout, action)
