"""The README's screenshot: raft, paxos and bully side by side in the simulator, just after the same leader crash.

    .venv/bin/python -m tests.web.screenshot docs/web.png

It drives the page exactly as a person would (Start simulation, Run script), in headless chromium.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
import time

from playwright.sync_api import sync_playwright

from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.web.server_process import WebServer


def main(path: str) -> None:
    server = WebServer()
    profile = tempfile.mkdtemp(prefix="quorumlab-chromium-")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                                           headless=True, viewport={"width": 1500, "height": 860})
            page = browser.new_page()
            page.goto(server.url)
            page.wait_for_selector("#form-sim input[value=raft]")
            for algo in ("paxos", "bully"):
                page.check(f"#form-sim input[value={algo}]")
            page.click("#start-sim")
            page.wait_for_function("[...document.querySelectorAll('article.panel')].every(p => p.dataset.leader)")
            time.sleep(1.0)
            page.click("#run-script")  # the first script: crash the leader, restart it 2 s later
            time.sleep(0.25)
            page.eval_on_selector("#speed", "s => { s.value = -1; s.dispatchEvent(new Event('input')); }")  # 0.1x
            time.sleep(1.5)
            page.screenshot(path=path)
            browser.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
        server.interrupt()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/web.png")
