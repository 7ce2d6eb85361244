"""A real server and a real browser: uvicorn in a background thread on a free loopback port, over a
fresh data dir (SQLite, local media), and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright, sync_playwright

from molodets.app import create_app
from molodets.migrations import upgrade
from molodets.runtime import build_runtime
from molodets.settings import load_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEFAULT_TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app served by uvicorn on 127.0.0.1:<free port>; yields its base URL."""
    data_dir = tmp_path_factory.mktemp("browser-data")
    # Everything explicit: an environment pointing at PostgreSQL or Redis must not leak in here.
    settings = load_settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'molodets.sqlite3'}",
        redis_url=None,
        storage_url=None,
        public_base_url=None,
        cdn_base_url=None,
        rate_limits="off",
        default_locale="ru",
    )
    upgrade(settings)
    runtime = build_runtime(settings)
    # As `molodets serve` does: job consumers in the same process, so uploads get processed. No
    # scheduler: the periodic jobs other test modules register (the registry is global) would
    # run here for the whole session, against a database without their tables.
    runtime.jobs.start_consumers(1, scheduler=False)
    app = create_app(runtime)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # Open notification streams never end by themselves: cut them after 2 s at shutdown.
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    runtime.jobs.stop_consumers()
    server.should_exit = True  # the app's lifespan closes the runtime on the way out
    thread.join(timeout=15)
    sock.close()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true, so this is a failure, not a skip")
        pytest.skip(reason)
    with sync_playwright() as driver:
        yield driver


def launch_chromium(playwright: Playwright, *extra_args: str) -> Browser:
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args], headless=True
    )


def phone_context(browser: Browser, base_url: str) -> BrowserContext:
    """A fresh browser profile (no cookies), phone-sized, whose Accept-Language is Russian."""
    created = browser.new_context(base_url=base_url, locale="ru-RU", viewport={"width": 390, "height": 844})
    created.set_default_timeout(DEFAULT_TIMEOUT_MS)
    return created


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = launch_chromium(playwright)
    yield launched
    launched.close()


@pytest.fixture
def context(browser: Browser, live_server: str) -> Iterator[BrowserContext]:
    created = phone_context(browser, live_server)
    yield created
    created.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def errors(page: Page) -> list[str]:
    """Console errors and uncaught exceptions of `page`; each test asserts there are none."""
    found: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            found.append(f"{message.text} @ {message.location}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: found.append(f"pageerror: {error}"))
    return found
