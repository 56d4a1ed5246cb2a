"""``bench transfer`` (hand a running cluster's leadership to a node) and ``bench rolling-restart`` (what a planned
restart of every node costs clients, with and without handing leadership over first)."""
from __future__ import annotations

import json
import time

import click

from quorumlab.bench import options
from quorumlab.bench.throughput.load import MeasurementFailed
from quorumlab.core.keys import Keyring, KeyringError
from quorumlab.core.runtime.addresses import AddressError, control_address
from quorumlab.core.runtime.auth import ClientAuth
from quorumlab.core.runtime.control import ControlClient, ControlError


@click.command("transfer")
@options.cluster
@options.control
@click.option("--to", "to", type=int, default=None, help="The node to lead next (default: the leader's pick, the "
                                                          "follower with the longest log).")
@click.option("--timeout", type=click.FloatRange(0.1, 60), default=5.0, show_default=True,
              help="Seconds to wait for the new leader.")
@options.keys
@options.identity("admin")
def transfer_cmd(addresses: dict[int, str], controls: dict[int, str] | None, to: int | None, timeout: float,
                 keys_dir: str | None, identity: str) -> None:
    """Ask the leader to hand leadership to --to (raft: thesis 3.10) and wait until that node leads."""
    if to is not None and to not in addresses:
        raise click.BadParameter(f"node {to} is not in --cluster (ids: {', '.join(map(str, sorted(addresses)))})",
                                 param_hint="--to")
    try:
        controls = controls or {i: control_address(a) for i, a in addresses.items()}
        auth = None if keys_dir is None else ClientAuth.from_keyring(
            Keyring(keys_dir), identity, {i: [controls[i]] for i in addresses})
    except AddressError as exc:
        raise click.BadParameter(str(exc), param_hint="--cluster") from None
    except KeyringError as exc:
        raise click.UsageError(str(exc)) from None
    client = ControlClient(auth=auth)
    try:
        statuses = client.request_many(controls, "status", 1.0)
        leaders = [(s["term"], i) for i, s in statuses.items() if isinstance(s, dict) and s.get("role") == "leader"]
        if not leaders:
            raise click.ClickException("no node says it leads: nothing to transfer (try again once one does)")
        term, leader = max(leaders)
        start = time.monotonic()
        try:
            target = client.request(controls[leader], "transfer", 2.0, to=to)["to"]
        except ControlError as exc:
            raise click.ClickException(f"node {leader} refused: {exc}") from None
        while time.monotonic() - start < timeout:
            status = client.request_many({target: controls[target]}, "status", 0.5)[target]
            if isinstance(status, dict) and status.get("role") == "leader" and status.get("term", 0) > term:
                click.echo(f"node {target} leads term {status['term']} (was node {leader}, term {term}); "
                           f"{(time.monotonic() - start) * 1000:.0f} ms")
                return
            time.sleep(0.005)
        raise click.ClickException(f"node {target} did not take over within {timeout:g} s (node {leader} abandons "
                                   "the transfer after an election timeout and leads on)")
    finally:
        client.close()


@click.command("rolling-restart")
@click.option("--nodes", type=click.IntRange(3, 9), default=5, show_default=True)
@click.option("--settle", type=click.FloatRange(0.1, 30), default=1.0, show_default=True,
              help="Seconds of writing after each restart before the next.")
@click.option("--transfers", type=click.IntRange(0, 1000), default=20, show_default=True,
              help="Also time this many transfers on 3 nodes (request to the new leader's first write).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def rolling_restart_cmd(nodes: int, settle: float, transfers: int, as_json: bool) -> None:
    """Restart every node of a local raft cluster in turn under a writing client, in one run: with a stopping
    leader handing over first; without it (the connection drop then starts an election at once, transport hints);
    and without either (the others wait out an election timeout). The longest write gap per restart, failed
    writes, and the time of transfers."""
    from quorumlab.bench.throughput.planned import measure_rolling_restart, measure_transfers

    variants = (("hand-over", True, {}), ("hints only", False, {}),
                ("timeout only", False, {"transport_hints": "false"}))
    results: dict = {}
    try:
        for label, hand_over, config in variants:
            click.echo(f"rolling restart of {nodes} nodes, {label} ...", err=True)
            results[label] = measure_rolling_restart(nodes, hand_over, settle, config)
        if transfers:
            click.echo(f"{transfers} transfers on 3 nodes ...", err=True)
            results["transfers"] = measure_transfers(3, transfers)
    except (MeasurementFailed, TimeoutError, ControlError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(results, indent=2))
        return
    for label, _, _ in variants:
        r = results[label]
        click.echo(f"{label:<12}: leader restart: longest write gap {r['leader_restart_gap_ms']} ms; follower "
                   f"restarts: {r['follower_restart_gap_ms']} ms; {r['writes']} writes, {r['failed_writes']} failed")
    if transfers:
        t = results["transfers"]
        click.echo(f"transfer, request to the new leader's first write: median {t['median_ms']} ms, p99 {t['p99_ms']} "
                   f"ms, max {t['max_ms']} ms ({t['trials']} trials, {t['not_one_round']} not in one round)")
