"""``bench member list|add|remove|promote``: a running raft cluster's membership (paper section 6).

The command finds the leader, asks it for the change (the control socket's ``member`` command) and waits until the
configuration entry has committed there. A server to add runs first, started with ``bench node --join`` and a
``--cluster`` naming the current members and itself; ``add`` makes it a learner (``--voter``: a voter at once, which
the dissertation advises against for a server that still has the whole log to fetch) and ``promote`` a voter once it
has caught up. ``--node`` ids of several ``add``/``remove`` in one change go through the joint configuration.
"""
from __future__ import annotations

import json
import time
from typing import Any

import click

from quorumlab.bench import options
from quorumlab.core.keys import Keyring, KeyringError
from quorumlab.core.runtime.addresses import AddressError, control_address
from quorumlab.core.runtime.auth import ClientAuth
from quorumlab.core.runtime.control import ControlClient, ControlError


class _Cluster:
    """The control sockets of --cluster, and the leader among them."""

    def __init__(self, addresses: dict[int, str], controls: dict[int, str] | None, keys_dir: str | None,
                 identity: str) -> None:
        try:
            self.controls = controls or {i: control_address(a) for i, a in addresses.items()}
            auth = None if keys_dir is None else ClientAuth.from_keyring(
                Keyring(keys_dir), identity, {i: [self.controls[i]] for i in addresses})
        except AddressError as exc:
            raise click.BadParameter(str(exc), param_hint="--cluster") from None
        except KeyringError as exc:
            raise click.UsageError(str(exc)) from None
        self.client = ControlClient(auth=auth)

    def leader(self) -> tuple[int, dict[str, Any]]:
        statuses = self.client.request_many(self.controls, "status", 1.0)
        leaders = [(s["term"], i) for i, s in statuses.items() if isinstance(s, dict) and s.get("role") == "leader"]
        if not leaders:
            raise click.ClickException("no node of --cluster says it leads; try again once one does")
        _, leader = max(leaders)
        return leader, statuses[leader]

    def change(self, change: list[dict], timeout: float) -> None:
        start = time.monotonic()
        while True:
            leader, _ = self.leader()
            try:
                reply = self.client.request(self.controls[leader], "member", 2.0, change=change)
                break
            except ControlError as exc:
                if not str(exc).startswith("busy") or time.monotonic() - start > timeout:
                    raise click.ClickException(f"node {leader} refused: {exc}") from None
                time.sleep(0.05)  # an earlier change still commits, or a learner still catches up
        index = reply["index"]
        while time.monotonic() - start < timeout:
            status = self.client.request_many({leader: self.controls[leader]}, "status", 0.5)[leader]
            if isinstance(status, dict) and status.get("commit_index", 0) >= index:
                m = status.get("membership", {})
                click.echo(f"configuration {index} committed ({(time.monotonic() - start) * 1000:.0f} ms): voters "
                           f"{m.get('voters')}, learners {m.get('learners')}"
                           + (f", outgoing {m['outgoing']} (joint)" if m.get("outgoing") else ""))
                return
            time.sleep(0.01)
        raise click.ClickException(f"the configuration at index {index} did not commit within {timeout:g} s")

    def close(self) -> None:
        self.client.close()


def _common(f: Any) -> Any:
    """The options every ``bench member`` command takes (after the command's name: ``bench member list --cluster ...``)."""
    for decorate in reversed((
        options.cluster,
        options.control,
        click.option("--timeout", type=click.FloatRange(0.1, 600), default=30.0, show_default=True,
                     help="Seconds to wait for the change to commit (busy refusals are retried meanwhile)."),
        options.keys,
        options.identity("admin"),
    )):
        f = decorate(f)
    return f


def _run(opts: dict[str, Any], change: list[dict] | None, as_json: bool = False) -> None:
    cluster = _Cluster(opts["addresses"], opts["controls"], opts["keys_dir"], opts["identity"])
    try:
        if change is None:
            leader, status = cluster.leader()
            out = {**status.get("membership", {}), "config_index": status.get("config_index"), "leader": leader}
            if as_json:
                click.echo(json.dumps(out))
            else:
                click.echo(f"leader {leader}, configuration {out['config_index']}: voters {out.get('voters')}, "
                           f"learners {out.get('learners')}"
                           + (f", outgoing {out['outgoing']} (joint)" if out.get("outgoing") else ""))
        else:
            cluster.change(change, opts["timeout"])
    finally:
        cluster.close()


@click.group("member")
def member_cmd() -> None:
    """A raft cluster's members: list them, add or remove servers, promote learners (one change at a time; several
    --node at once go through the joint configuration)."""


@member_cmd.command("list")
@_common
@click.option("--json", "as_json", is_flag=True, help="Print the configuration as JSON.")
def member_list(as_json: bool, **opts: Any) -> None:
    """Print the leader's configuration: voters, learners, outgoing voters while joint, and its log index."""
    _run(opts, None, as_json)


@member_cmd.command("add")
@_common
@click.option("--node", "nodes", type=(int, str), multiple=True, required=True, metavar="ID tcp://HOST:PORT",
              help="A server to add (already running with `bench node --join`) and its address; repeatable.")
@click.option("--key", "keys", type=(int, str), multiple=True, metavar="ID Z85",
              help="A new server's CurveZMQ public key (from its own keyring), when the leader's keyring lacks it; it "
                   "travels in the configuration to every member. Repeatable.")
@click.option("--voter", is_flag=True, help="Add as a voter at once (default: a learner, promoted later).")
def member_add(nodes: tuple[tuple[int, str], ...], keys: tuple[tuple[int, str], ...], voter: bool,
               **opts: Any) -> None:
    """Add servers: learners that catch up from the leader (or voters with --voter)."""
    op = "add_voter" if voter else "add_learner"
    given = dict(keys)
    unknown = sorted(set(given) - {i for i, _ in nodes})
    if unknown:
        raise click.BadParameter(f"--key names node(s) {unknown} that no --node adds", param_hint="--key")
    _run(opts, [{"op": op, "node": i, "address": a, **({"key": given[i]} if i in given else {})} for i, a in nodes])


@member_cmd.command("remove")
@_common
@click.option("--node", "nodes", type=int, multiple=True, required=True, help="A member to remove; repeatable.")
def member_remove(nodes: tuple[int, ...], **opts: Any) -> None:
    """Remove members (a leader removing itself hands over to a voter and steps down once it has committed)."""
    _run(opts, [{"op": "remove", "node": i} for i in nodes])


@member_cmd.command("promote")
@_common
@click.option("--node", "nodes", type=int, multiple=True, required=True, help="A learner to make a voter.")
def member_promote(nodes: tuple[int, ...], **opts: Any) -> None:
    """Make learners voters (refused, and retried until --timeout, while a learner lags by more than
    max_learner_lag entries)."""
    _run(opts, [{"op": "promote", "node": i} for i in nodes])


@member_cmd.command("leave-joint")
@_common
def member_leave_joint(**opts: Any) -> None:
    """Leave the joint configuration (for clusters run with auto_leave_joint=false)."""
    _run(opts, [{"op": "leave_joint"}])


@click.command("replace")
@click.option("--nodes", type=click.IntRange(3, 9), default=3, show_default=True)
@click.option("--settle", type=click.FloatRange(0.1, 30), default=1.0, show_default=True,
              help="Seconds of writing after each step before the next.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def replace_cmd(nodes: int, settle: float, as_json: bool) -> None:
    """Replace a server of a local raft cluster under a writing client: add a learner, let it catch up, promote it,
    remove the old leader. Prints the time each step took, the longest write gap, and failed writes (want 0)."""
    from quorumlab.bench.throughput.planned import measure_replacement

    result = measure_replacement(nodes, settle)
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(f"{nodes} nodes, {result['writes']} writes, {result['failed_writes']} failed; node {result['added']} "
               f"added, node {result['removed']} (the leader) removed; voters now {result['voters']}")
    for s in result["steps"]:
        click.echo(f"  {s['step']:<22} took {s['took_ms']:>8.1f} ms   longest write gap {s['longest_gap_ms']:>7.1f} ms")
