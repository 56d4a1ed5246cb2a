"""Fixtures of the browser tests: Debian's chromium driven by Playwright, and a `bench web` server.

Without chromium (or Playwright) the browser tests are skipped with a plain message; under
`make test-browser` (QUORUMLAB_REQUIRE_BROWSER=1) they fail instead. Screenshots and the
measured figures go to .artifacts/web/ (git-ignored).
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.web.server_process import WebServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts" / "web"


def _missing() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"chromium is not installed ({CHROMIUM}; apt-get install chromium chromium-driver)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install 'quorumlab[browser]')"
    return None


@pytest.fixture(scope="module")
def browser():
    """A headless chromium with a fresh profile, per module: Playwright's sync API holds an event loop while it
    runs, and tests after it may run their own."""
    missing = _missing()
    if missing:
        if os.environ.get("QUORUMLAB_REQUIRE_BROWSER"):
            pytest.fail(f"the browser tests need a browser: {missing}")
        pytest.skip(f"browser tests skipped: {missing}")
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="quorumlab-chromium-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
                viewport={"width": 1400, "height": 900})
            yield context
            context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def web():
    """A `bench web` server for the module's tests, stopped with Ctrl-C at the end."""
    server = WebServer()
    yield server
    code, out = server.interrupt()
    assert code == 0, out


@pytest.fixture
def page(browser, web):
    """The page, loaded and connected; page errors fail the test."""
    errors: list[str] = []
    p = browser.new_page()
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.goto(web.url)
    p.wait_for_selector("#form-sim input[value=raft]")
    yield p
    p.evaluate("document.querySelector('#stop') && document.querySelector('#stop').click()")
    p.close()
    assert not errors, errors


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def record_figure(name: str, values: dict) -> None:
    """Keep a measured figure in .artifacts/web/figures.json (the docs quote them)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "figures.json"
    figures = json.loads(path.read_text()) if path.exists() else {}
    figures[name] = values
    path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
