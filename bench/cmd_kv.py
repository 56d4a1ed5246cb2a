"""``bench kv``: put, get, delete and cas against a running Raft cluster (core.client.KVClient)."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable

import click

from bench import options
from core.client import ClientError, KVClient
from core.keys import KeyringError
from core.runtime.addresses import AddressError, parse_cluster


@dataclass(frozen=True)
class Target:
    """Where and how to reach the cluster: the options every ``bench kv`` command shares."""

    cluster_spec: str
    control_spec: str | None
    timeout: float
    keys_dir: str | None
    identity: str

    def client(self) -> KVClient:
        try:
            nodes = parse_cluster(self.cluster_spec)
            control = parse_cluster(self.control_spec) if self.control_spec else None
        except AddressError as exc:
            raise click.BadParameter(str(exc)) from None
        try:
            return KVClient(nodes, control=control, timeout_s=self.timeout, keys=self.keys_dir, identity=self.identity)
        except KeyringError as exc:
            raise click.ClickException(str(exc)) from None


def target_options(f: Callable) -> Callable:
    """Add --cluster, --control, --timeout, --keys and --as, handed to the command as one ``target``."""

    @click.option("--cluster", "cluster_spec", required=True, metavar="ID=tcp://HOST:PORT,...",
                  help="The nodes' algorithm addresses.")
    @click.option("--control", "control_spec", default=None, metavar="ID=tcp://HOST:PORT,...",
                  help="Control addresses (default: each algorithm port + 1000).")
    @click.option("--timeout", type=click.FloatRange(0.1, 600), default=10.0, show_default=True,
                  help="Seconds to keep retrying (redirects, leader changes) before giving up.")
    @options.keys
    @options.identity("client")
    def wrapper(cluster_spec: str, control_spec: str | None, timeout: float, keys_dir: str | None, identity: str,
                **kwargs):
        return f(target=Target(cluster_spec, control_spec, timeout, keys_dir, identity), **kwargs)

    wrapper.__name__ = f.__name__
    wrapper.__doc__ = f.__doc__
    return wrapper


def _run(target: Target, action: Callable[[KVClient], tuple[str, bool]]) -> None:
    with target.client() as kv:
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
@target_options
def put_cmd(key: str, value: str, target: Target) -> None:
    """Set KEY to VALUE; prints the previous value (empty if none)."""
    _run(target, lambda kv: (_text(kv.put(key, value)), True))


@kv_cmd.command("get")
@click.argument("key")
@target_options
def get_cmd(key: str, target: Target) -> None:
    """Print KEY's value; exit status 1 if it is absent."""

    def action(kv: KVClient) -> tuple[str, bool]:
        value = kv.get(key)
        return ("(absent)" if value is None else _text(value)), value is not None

    _run(target, action)


@kv_cmd.command("delete")
@click.argument("key")
@target_options
def delete_cmd(key: str, target: Target) -> None:
    """Remove KEY; exit status 1 if it was absent."""

    def action(kv: KVClient) -> tuple[str, bool]:
        existed = kv.delete(key)
        return ("deleted" if existed else "(absent)"), existed

    _run(target, action)


@kv_cmd.command("cas")
@click.argument("key")
@click.argument("expected")
@click.argument("new")
@click.option("--absent", is_flag=True, help="Expect KEY to be absent (EXPECTED is then ignored).")
@target_options
def cas_cmd(key: str, expected: str, new: str, absent: bool, target: Target) -> None:
    """Set KEY to NEW only if its value is EXPECTED; exit status 1 if it was not."""

    def action(kv: KVClient) -> tuple[str, bool]:
        done = kv.cas(key, None if absent else expected, new)
        return ("set" if done else "not set: the value differs"), done

    _run(target, action)
