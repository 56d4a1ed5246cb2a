"""The ``bench`` command: a click group; each subcommand lives in its own module and is added here."""
from __future__ import annotations

import click

import quorumlab.core
from quorumlab.bench.cmd_check import check_cmd
from quorumlab.bench.cmd_cluster import cluster_cmd
from quorumlab.bench.cmd_compare import compare_cmd, report_cmd
from quorumlab.bench.cmd_failover import failover_cmd
from quorumlab.bench.cmd_floor import floor_cmd
from quorumlab.bench.cmd_keys import keys_cmd
from quorumlab.bench.cmd_kv import kv_cmd
from quorumlab.bench.cmd_member import member_cmd, replace_cmd
from quorumlab.bench.cmd_node import node_cmd
from quorumlab.bench.cmd_status import status_cmd
from quorumlab.bench.cmd_throughput import catchup_cmd, throughput_cmd
from quorumlab.bench.cmd_transfer import rolling_restart_cmd, transfer_cmd
from quorumlab.bench.cmd_web import web_cmd
from quorumlab.core import registry


def _warn_if_pure() -> None:
    """One line on stderr when the compiled hot path is not in use."""
    if not quorumlab.core.ACCELERATED:
        why = "forced by QUORUMLAB_PURE_PYTHON=1" if quorumlab.core._accel.FORCED_PURE else "compiled modules not found"
        click.echo(f"warning: quorumlab's accelerated core is missing ({why}); using the slower pure-Python twins", err=True)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    _warn_if_pure()
    click.echo(f"quorumlab bench, version {quorumlab.core.__version__}")
    ctx.exit()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and exit.")
def main() -> None:
    """quorumlab: run, attack and measure leader-election algorithms (raft, paxos, bully and plugins)."""
    _warn_if_pure()


@main.command("algorithms")
def algorithms_cmd() -> None:
    """List the registered algorithms (entry-point group quorumlab.algorithms)."""
    rows = registry.describe()
    if not rows:
        raise click.ClickException("no algorithms are registered: is quorumlab installed (pip install -e .)?")
    width = max(len(r[0]) for r in rows)
    for name, description, origin in rows:
        click.echo(f"{name.ljust(width)}  {description}  [{origin}]")


for command in (node_cmd, cluster_cmd, status_cmd, keys_cmd, kv_cmd, compare_cmd, report_cmd, throughput_cmd,
                catchup_cmd, floor_cmd, web_cmd, check_cmd, failover_cmd, transfer_cmd, rolling_restart_cmd,
                member_cmd, replace_cmd):
    main.add_command(command)

if __name__ == "__main__":
    main()
