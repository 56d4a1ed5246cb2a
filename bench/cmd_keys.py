"""``bench keys``: make and inspect a cluster's keyring (quorumlab.core.keys): node and client CurveZMQ key pairs."""
from __future__ import annotations

import click

from quorumlab.core.keys import KEYRING_FILE, ROLES, SECRET_DIR, Keyring, KeyringError, add_client, add_node, create_keyring


def _ids(value: str) -> list[int]:
    try:
        ids = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of node ids") from None
    if not ids:
        raise click.BadParameter("no node id given")
    return ids


@click.group("keys")
def keys_cmd() -> None:
    """Make the keys a secure cluster runs with: one pair per node, one per client (roles read, client, admin)."""


@keys_cmd.command("create")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("-n", "--nodes", type=click.IntRange(1, 10_000), default=None, help="Make keys for nodes 1..N.")
@click.option("--ids", default=None, metavar="1,2,3", help="Make keys for exactly these node ids.")
@click.option("--client", "clients", multiple=True, metavar="NAME=ROLE",
              help=f"A client key (repeatable; roles: {', '.join(ROLES)}). Default: admin=admin, client=client, "
                   "reader=read.")
def create_cmd(directory: str, nodes: int | None, ids: str | None, clients: tuple[str, ...]) -> None:
    """Create a keyring in DIRECTORY (keyring.json with the public keys, secret/ with the key pairs)."""
    if (nodes is None) == (ids is None):
        raise click.UsageError("give either --nodes N or --ids 1,2,3")
    node_ids = list(range(1, nodes + 1)) if nodes is not None else _ids(ids or "")
    named = None
    if clients:
        named = {}
        for item in clients:
            name, sep, role = item.partition("=")
            if not sep:
                raise click.BadParameter(f"{item!r} is not NAME=ROLE", param_hint="--client")
            named[name.strip()] = role.strip()
    try:
        ring = create_keyring(directory, node_ids, named)
    except KeyringError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {ring.path}/{KEYRING_FILE} with keys for nodes {', '.join(map(str, sorted(ring.nodes)))} "
               f"and clients {', '.join(f'{c.name} ({c.role})' for c in ring.clients.values())}")
    click.echo(f"copy {KEYRING_FILE} to every machine; each node needs only its own {SECRET_DIR}/node-<id>.key, "
               f"each client its own {SECRET_DIR}/client-<name>.key (mode 0600)")


@keys_cmd.command("add-node")
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
@click.argument("node_id", type=click.IntRange(1, 0xFFFFFFFF))
def add_node_cmd(directory: str, node_id: int) -> None:
    """Add a key pair for node NODE_ID to the keyring in DIRECTORY."""
    try:
        add_node(directory, node_id)
    except KeyringError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"added node {node_id}; give every node the new {KEYRING_FILE} and restart them to accept it")


@keys_cmd.command("add-client")
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="client", show_default=True, help="What the client may do.")
def add_client_cmd(directory: str, name: str, role: str) -> None:
    """Add a key pair for client NAME to the keyring in DIRECTORY."""
    try:
        add_client(directory, name, role)
    except KeyringError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"added client {name} ({role}); give every node the new {KEYRING_FILE} and restart them to accept it")


@keys_cmd.command("list")
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
def list_cmd(directory: str) -> None:
    """Show the public keys in DIRECTORY's keyring."""
    try:
        ring = Keyring(directory)
    except KeyringError as exc:
        raise click.ClickException(str(exc)) from None
    for node, key in sorted(ring.nodes.items()):
        click.echo(f"node {node:<6} {key.decode()}")
    for client in sorted(ring.clients.values(), key=lambda c: c.name):
        click.echo(f"client {client.name:<12} {client.role:<7} {client.public.decode()}")
