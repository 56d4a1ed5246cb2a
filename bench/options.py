"""Options several ``bench`` commands share, declared once."""
from __future__ import annotations

import click

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
