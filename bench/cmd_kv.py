"""``bench kv``: put, get, delete and cas against a running Raft cluster (quorumlab.core.client.KVClient)."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable

import click

from quorumlab.bench import options
from quorumlab.core.client import READ_MODES, ClientError, KVClient
from quorumlab.core.keys import KeyringError
from quorumlab.core.runtime.addresses import AddressError


class Failed(click.ClickException):
    """The command could not be completed (exit status 2; status 1 means "absent" or "not set")."""

    exit_code = 2


@dataclass(frozen=True)
class Target:
    """Where and how to reach the cluster: the options every ``bench kv`` command shares."""

    addresses: dict[int, str]
    controls: dict[int, str] | None
    timeout: float
    keys_dir: str | None
    identity: str

    def client(self) -> KVClient:
        try:
            return KVClient(self.addresses, control=self.controls, timeout_s=self.timeout, keys=self.keys_dir,
                            identity=self.identity)
        except (KeyringError, AddressError) as exc:
            raise click.UsageError(str(exc)) from None


def target_options(f: Callable) -> Callable:
    """Add --cluster, --control, --timeout, --keys and --as, handed to the command as one ``target``."""

    @options.cluster
    @options.control
    @click.option("--timeout", type=click.FloatRange(0.1, 600), default=10.0, show_default=True,
                  help="Seconds to keep retrying (redirects, leader changes) before giving up.")
    @options.keys
    @options.identity("client")
    def wrapper(addresses: dict[int, str], controls: dict[int, str] | None, timeout: float, keys_dir: str | None,
                identity: str, **kwargs):
        return f(target=Target(addresses, controls, timeout, keys_dir, identity), **kwargs)

    wrapper.__name__ = f.__name__
    wrapper.__doc__ = f.__doc__
    return wrapper


def _run(target: Target, action: Callable[[KVClient], tuple[str, bool]]) -> None:
    with target.client() as kv:
        try:
            out, ok = action(kv)
        except ClientError as exc:
            raise Failed(str(exc)) from None
    click.echo(out)
    if not ok:
        sys.exit(1)


def _text(value: bytes | None) -> str:
    return "" if value is None else value.decode("utf-8", "backslashreplace")


@click.group("kv")
def kv_cmd() -> None:
    """The replicated key-value store: writes go through the Raft log; reads can skip it (see get --consistency)."""


@kv_cmd.command("put")
@click.argument("key")
@click.argument("value")
@target_options
def put_cmd(key: str, value: str, target: Target) -> None:
    """Set KEY to VALUE; prints the previous value (empty if none)."""
    _run(target, lambda kv: (_text(kv.put(key, value)), True))


@kv_cmd.command("get")
@click.argument("key")
@click.option("--consistency", type=click.Choice(READ_MODES), default="linearizable", show_default=True,
              help="linearizable: a read index a quorum confirmed (no log entry); lease: the leader's lease vouches "
                   "(needs check_quorum; assumes bounded clock drift); log: through the log; stale: any node's "
                   "state as it is, NOT linearizable.")
@click.option("--from", "read_from", type=click.Choice(["leader", "any"]), default="leader", show_default=True,
              help="Ask the leader, or any node in turn (a follower asks the leader for the read index).")
@target_options
def get_cmd(key: str, consistency: str, read_from: str, target: Target) -> None:
    """Print KEY's value; exit status 1 if it is absent."""

    def action(kv: KVClient) -> tuple[str, bool]:
        kv.read_from = read_from
        value = kv.get(key, consistency=consistency)
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
