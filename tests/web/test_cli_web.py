"""`bench web`: serves the page on 127.0.0.1, refuses other sites' websockets, and Ctrl-C leaves no process behind."""
from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time

import aiohttp
import pytest

from tests.web.server_process import WebServer, node_processes_of


@pytest.fixture
def server():
    srv = WebServer()
    yield srv
    srv.interrupt()


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s:
        async with s.get(url) as r:
            return r.status, await r.text()


def test_the_page_and_everything_it_needs_are_served_from_the_package_on_127_0_0_1(server):
    assert server.url.startswith("http://127.0.0.1:")
    status, html = asyncio.run(_get(server.url))
    assert status == 200 and "/static/app.js" in html and "http" not in html.replace("http://www.w3.org", "")
    for name in ("app.js", "style.css"):
        status, text = asyncio.run(_get(server.url + "static/" + name))
        assert status == 200 and text


def test_a_websocket_from_another_site_is_refused(server):
    async def attempt() -> int:
        async with aiohttp.ClientSession() as s:
            try:
                async with s.ws_connect(server.url + "ws", headers={"Origin": "http://evil.example"}):
                    return 101
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status

    assert asyncio.run(attempt()) == 403


def test_a_busy_port_is_an_error_that_says_to_pick_another():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "quorumlab.bench.cli", "web", "--port", str(port)], capture_output=True,
                             text=True, timeout=30)
    assert out.returncode == 1 and f"port {port} on 127.0.0.1 is in use: pick another with --port" in out.stderr


@pytest.mark.integration
def test_ctrl_c_stops_the_server_and_every_node_process_the_page_started():
    srv = WebServer()

    async def start_cluster() -> list[dict]:
        async with aiohttp.ClientSession() as s:
            async with s.ws_connect(srv.url + "ws") as ws:
                await ws.send_json({"op": "cluster", "algos": ["raft", "bully"], "nodes": 3})
                async for msg in ws:
                    reply = json.loads(msg.data)
                    if reply["type"] == "panels" and reply["panels"]:
                        return reply["panels"]
                    assert reply.get("level") != "error", reply
        return []

    try:
        panels = asyncio.run(start_cluster())
        assert [p["algo"] for p in panels] == ["raft", "bully"]
        pids = node_processes_of(srv.proc.pid)
        assert len(pids) == 6
    finally:
        code, out = srv.interrupt()
    assert code == 0 and "stopped" in out
    time.sleep(0.2)
    assert node_processes_of(srv.proc.pid) == []
    assert all(not _alive(p) for p in pids)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
