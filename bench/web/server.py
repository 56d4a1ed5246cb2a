"""The web server of ``bench web``: the page's files, and one websocket per page for requests and frames.

It binds 127.0.0.1 only and accepts websocket connections only from pages it served itself
(the Origin header), since a request can start processes and read files by path.
"""
from __future__ import annotations

import asyncio
import json
import signal
from importlib import resources
from typing import Awaitable, Callable

from aiohttp import WSMsgType, web

from quorumlab.bench.web.session import Session, UserError, dumps

HOST = "127.0.0.1"
STATIC = resources.files("quorumlab.bench.web") / "static"


class Hub:
    """The connected pages: every frame goes to all of them; they share one session."""

    def __init__(self) -> None:
        self.sockets: set[web.WebSocketResponse] = set()
        self.session = Session(self.broadcast)

    async def broadcast(self, message: dict) -> None:
        text = dumps(message)
        for ws in list(self.sockets):
            try:
                await ws.send_str(text)
            except (ConnectionError, RuntimeError):
                self.sockets.discard(ws)


async def _index(_request: web.Request) -> web.Response:
    return web.Response(text=(STATIC / "index.html").read_text(), content_type="text/html")


async def _socket(request: web.Request) -> web.WebSocketResponse:
    hub: Hub = request.app["hub"]
    origin = request.headers.get("Origin")
    own = {f"http://{request.host}", f"http://localhost:{request.url.port}", f"http://{HOST}:{request.url.port}"}
    if origin is not None and origin not in own:
        raise web.HTTPForbidden(text=f"websocket from another site ({origin}) refused")
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=1 << 20)
    await ws.prepare(request)
    hub.sockets.add(ws)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            await _serve(hub, ws, msg.data)
    finally:
        hub.sockets.discard(ws)
    return ws


async def _serve(hub: Hub, ws: web.WebSocketResponse, text: str) -> None:
    """One request: its reply goes to every page (they show the same session), an error to the asker."""
    try:
        request = json.loads(text)
        if not isinstance(request, dict):
            raise UserError("a request is a JSON object with an op")
        reply = await hub.session.handle(request)
    except (UserError, ValueError) as exc:
        await ws.send_str(dumps({"type": "message", "level": "error", "text": str(exc)}))
        return
    except Exception as exc:  # a failure of a cluster or a plugin: the page says what, the server goes on
        await ws.send_str(dumps({"type": "message", "level": "error", "text": f"{type(exc).__name__}: {exc}"}))
        return
    if reply is not None:
        if reply.get("type") in ("catalog", "trials"):
            await ws.send_str(dumps(reply))
            current = hub.session.current() if reply["type"] == "catalog" else None
            if current is not None:  # a page that connects (or reloads) while something runs
                await ws.send_str(dumps(current))
        else:
            await hub.broadcast(reply)


def make_app() -> web.Application:
    """The application: GET / (the page), /static/* (its files), /ws (requests and frames)."""
    app = web.Application()
    app["hub"] = Hub()
    app.router.add_get("/", _index)
    app.router.add_static("/static/", str(STATIC))
    app.router.add_get("/ws", _socket)

    async def start_clock(app: web.Application) -> None:
        app["clock"] = asyncio.create_task(app["hub"].session.run())

    async def stop_everything(app: web.Application) -> None:
        app["clock"].cancel()
        for ws in list(app["hub"].sockets):
            await ws.close()
        await app["hub"].session.close()

    app.on_startup.append(start_clock)
    app.on_shutdown.append(stop_everything)
    return app


async def serve(port: int, ready: Callable[[str], Awaitable[None] | None]) -> None:
    """Serve on 127.0.0.1:``port`` (0: a free one) until SIGINT or SIGTERM; ``ready(url)`` once listening.

    On the way out every cluster the page started is stopped by PID before this returns.
    """
    runner = web.AppRunner(make_app(), handle_signals=False, access_log=None)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        site = web.TCPSite(runner, HOST, port)
        await site.start()
        bound = runner.addresses[0][1]
        result = ready(f"http://{HOST}:{bound}/")
        if asyncio.iscoroutine(result):
            await result
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await runner.cleanup()
