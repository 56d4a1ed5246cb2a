"""``bench status``: ask every node of a cluster for its status and print one table.

``member`` (voter, learner, removed or joining) and ``config`` (the log index of the configuration in force) come
from algorithms with membership change (raft); ``snapshot`` and ``log`` show an algorithm's ``snapshot_index`` and ``log_entries`` (the last index its snapshot
covers, the entries it still holds after it) when its status has them (raft's does), and stay empty otherwise."""
from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from quorumlab.bench import options
from quorumlab.core.keys import Keyring, KeyringError
from quorumlab.core.runtime.addresses import AddressError, control_address
from quorumlab.core.runtime.auth import ClientAuth
from quorumlab.core.runtime.control import ControlClient, ControlError


def status_table(statuses: dict[int, Any], addresses: dict[int, str], title: str = "") -> Table:
    """A rich table of node statuses (a ControlError or None marks an unreachable node)."""
    table = Table(title=title or None)
    numbers = ("id", "pid", "term", "leader", "snapshot", "log", "sent", "recv", "bytes out", "bad")
    for column in ("id", "address", "pid", "role", "member", "term", "leader", "last election", "config", "snapshot",
                   "log", "sent", "recv", "bytes out", "bad", "partitioned"):
        table.add_column(column, justify="right" if column in numbers else "left")
    for i in sorted(addresses):
        s = statuses.get(i)
        if not isinstance(s, dict):
            why = str(s) if isinstance(s, ControlError) else "down"
            table.add_row(str(i), addresses[i], "", f"[red]{why}[/red]", *[""] * 12)
            continue
        role = s.get("role", "?")
        colour = {"leader": "bold green", "candidate": "yellow"}.get(role, "")
        c = s.get("counters", {})
        table.add_row(
            str(i),
            addresses[i],
            str(s.get("pid", "")),
            f"[{colour}]{role}[/{colour}]" if colour else role,
            str(s.get("member", "")),
            str(s.get("term", "")),
            "" if s.get("leader") is None else str(s["leader"]),
            describe_election(s.get("last_election")),
            str(s.get("config_index", "")),
            str(s.get("snapshot_index", "")),
            str(s.get("log_entries", "")),
            str(sum(c.get("sent", {}).values())),
            str(sum(c.get("recv", {}).values())),
            str(sum(c.get("bytes_sent", {}).values())),
            str(c.get("dropped_bad", 0)),
            ",".join(map(str, s.get("partitioned", []))),
        )
    return table


def describe_election(last: dict | None) -> str:
    """'won term 3, 4.2s ago' from a status's last_election."""
    if not last:
        return ""
    kind = str(last.get("kind", "")).replace("election_", "")
    return f"{kind} term {last.get('term')}, {last.get('ago_s', 0):.1f}s ago"


@click.command("status")
@options.cluster
@options.control
@click.option("--timeout", type=click.FloatRange(0.05, 60), default=1.0, show_default=True, help="Seconds to wait for the replies.")
@click.option("--json", "as_json", is_flag=True, help="Print the raw statuses as JSON.")
@options.keys
@options.identity("reader")
def status_cmd(addresses: dict[int, str], controls: dict[int, str] | None, timeout: float, as_json: bool,
               keys_dir: str | None, identity: str) -> None:
    """Print a table of every node's role, term, leader, snapshot index, log size and counters (exit 1 if a node does
    not answer)."""
    try:
        controls = controls or {i: control_address(a) for i, a in addresses.items()}
    except AddressError as exc:
        raise click.BadParameter(str(exc), param_hint="--cluster") from None
    missing = set(addresses) - set(controls)
    if missing:
        raise click.BadParameter(f"names no address for node(s) {sorted(missing)}", param_hint="--control")
    try:
        auth = None if keys_dir is None else ClientAuth.from_keyring(
            Keyring(keys_dir), identity, {i: [controls[i]] for i in addresses})
    except KeyringError as exc:
        raise click.UsageError(str(exc)) from None
    client = ControlClient(auth=auth)
    try:
        replies = client.request_many({i: controls[i] for i in addresses}, "status", timeout)
    finally:
        client.close()
    if as_json:
        doc = {str(i): (r if not isinstance(r, ControlError) else {"error": str(r)}) for i, r in sorted(replies.items())}
        click.echo(json.dumps(doc, indent=2, default=str))
    else:
        Console(width=None if sys.stdout.isatty() else 160).print(status_table(replies, addresses))
    if any(isinstance(r, ControlError) for r in replies.values()):
        sys.exit(1)
