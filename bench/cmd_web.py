"""``bench web``: serve the page that watches and drives clusters (simulated, real or replayed) on 127.0.0.1."""
from __future__ import annotations

import asyncio
import errno

import click


@click.command("web")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port on 127.0.0.1 (0: any free port).")
def web_cmd(port: int) -> None:
    """Serve the web view on 127.0.0.1 and print its URL (open it yourself); Ctrl-C stops the server and
    every node process the page started.

    The page runs a simulation live (any algorithm, side by side, the track's common mistakes), starts
    or attaches to a cluster of real processes, or replays a saved run with a time slider.
    """
    try:
        from quorumlab.bench.web.server import serve
    except ImportError as exc:
        raise click.ClickException(f"`bench web` needs its extra: pip install 'quorumlab[web]' ({exc})") from None

    def ready(url: str) -> None:
        click.echo(f"quorumlab web view: {url}  (Ctrl-C stops it and every cluster it started)", err=False)

    try:
        asyncio.run(serve(port, ready))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise click.ClickException(f"port {port} on 127.0.0.1 is in use: pick another with --port (0: any free)")
        raise
    click.echo("stopped")
