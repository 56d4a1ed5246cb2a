"""How well the page keeps up, measured in headless chromium (the figures quoted in docs/web.md).

    .venv/bin/python -m tests.web.measure [--seconds 8]

For a 5-node real raft cluster at its normal heartbeat (50 ms): frames per second and the
event lag (from the node writing an event to the page applying it: the event's ``wall`` stamp
against the page's clock, same host). For a 65-node simulated raft cluster at 1x and 10x:
frames per second and the speed the simulation reached.
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

from playwright.sync_api import sync_playwright

from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.web.server_process import WebServer
from tests.web.test_browser import start_simulation, wait_for_leader


def _set_speed(page, speed: float) -> None:
    exponent = {1: 0, 10: 1}[speed]
    page.eval_on_selector("#speed", f"s => {{ s.value = {exponent}; s.dispatchEvent(new Event('input')); }}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    server = WebServer()
    profile = tempfile.mkdtemp(prefix="quorumlab-chromium-")
    rows = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                                           headless=True, viewport={"width": 1400, "height": 900})
            page = browser.new_page()
            page.goto(server.url)
            page.wait_for_selector("#form-sim input[value=raft]")
            page.click("#tabs button[data-tab=real]")
            page.click("#start-real")
            wait_for_leader(page, timeout_s=40)
            time.sleep(args.seconds)
            perf = page.evaluate("quorumlab.perf()")
            rows.append(("real raft, 5 processes", perf["fps"], f"event lag median {perf['lagMs']:.0f} ms"))
            page.click("#stop")
            for speed in (1, 10):
                start_simulation(page, nodes=65, delay=(1, 3))
                _set_speed(page, speed)
                wait_for_leader(page, timeout_s=30)
                time.sleep(args.seconds)
                perf = page.evaluate("quorumlab.perf()")
                rows.append((f"simulated raft, 65 nodes, {speed}x asked", perf["fps"],
                             f"simulation reached {perf['reachedSpeed']:.2f}x"))
            browser.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
        server.interrupt()
    for what, fps, note in rows:
        print(f"{what:40s} {fps:5.1f} fps   {note}")
    print(f"load average (1 min): {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
