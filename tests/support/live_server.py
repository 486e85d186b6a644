"""The real app served by uvicorn on 127.0.0.1, and Debian's chromium driven by Playwright.

``live_server`` runs ``create_app`` on a migrated SQLite database in a background
thread with its own event loop; mail goes to the ``smtp_server`` fixture and
``base_url`` is the server's own address, so links in emails work. Setup that
must touch the app's services (creating an admin, say) runs on the server's loop
through ``LiveServer.call`` so it shares the app's database pool and cache.

The browser fixtures use Playwright's sync API: browser tests are plain ``def``
tests. A sync Playwright keeps its event loop marked as running in this thread
between calls, which would stop pytest-asyncio from running the async tests that
follow in the same process; ``page_context`` therefore marks it running only for
the duration of a browser test (see ``_playwright_loop``).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    ViewportSize,
    sync_playwright,
)

from spyglass.app import create_app
from spyglass.config import Settings
from spyglass.core.browser import CHROMIUM, CHROMIUM_ARGS
from spyglass.core.services import Services
from tests.conftest import make_settings
from tests.support.databases import sqlite_copy
from tests.support.smtp import SmtpServer

T = TypeVar("T")

DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 375, "height": 740}


@dataclass
class LiveServer:
    """A running Spyglass: its ``url``, ``settings`` and ``services``."""

    url: str
    settings: Settings
    services: Services
    loop: asyncio.AbstractEventLoop

    def call(self, factory: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
        """Run ``factory()`` on the server's event loop and return its result."""

        async def run() -> T:
            return await factory()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)


@dataclass
class _ServerThread:
    server: uvicorn.Server
    sock: socket.socket
    loop: asyncio.AbstractEventLoop | None = None
    error: BaseException | None = None
    thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, name="live-server", daemon=True)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        try:
            self.loop.run_until_complete(self.server.serve(sockets=[self.sock]))
        except BaseException as exc:  # reported to the test by start()
            self.error = exc
        finally:
            self.loop.close()

    def start(self, timeout: float = 30.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError(f"the live server did not start: {self.error!r}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the live server did not start within {timeout} s")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@contextmanager
def serve(build_settings: Callable[[str], Settings]) -> Iterator[LiveServer]:
    """Serve the app on a free loopback port; ``build_settings(base_url)`` makes its settings."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = build_settings(url)
    services = Services.build(settings)
    app = create_app(settings, services=services)
    config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False, ws="none")
    runner = _ServerThread(uvicorn.Server(config), sock)
    try:
        runner.start()
        assert runner.loop is not None
        yield LiveServer(url=url, settings=settings, services=services, loop=runner.loop)
    finally:
        runner.stop()
        sock.close()


LiveServerFactory = Callable[..., LiveServer]


@pytest.fixture
def live_server_factory(tmp_path: Path, sqlite_template: Path, smtp_server: SmtpServer) -> Iterator[LiveServerFactory]:
    """Start live servers with extra settings: ``live_server_factory(allow_registration=False)``."""
    started = 0
    with ExitStack() as stack:

        def start(**overrides: Any) -> LiveServer:
            nonlocal started
            started += 1
            folder = tmp_path / f"live-{started}"
            folder.mkdir()
            database_url = sqlite_copy(sqlite_template, folder)

            def build(url: str) -> Settings:
                return make_settings(
                    folder, database_url, base_url=url, **{**smtp_server.settings_overrides(), **overrides}
                )

            return stack.enter_context(serve(build))

        yield start


@pytest.fixture
def live_server(live_server_factory: LiveServerFactory) -> LiveServer:
    """Spyglass on SQLite at a free 127.0.0.1 port, sending mail to ``smtp_server``."""
    return live_server_factory()


# ---------------------------------------------------------------- browser


@contextmanager
def _playwright_loop(playwright: Playwright) -> Iterator[None]:
    """Mark Playwright's loop as the running one while the block uses the sync API."""
    loop = playwright._loop  # type: ignore[attr-defined]
    asyncio.events._set_running_loop(loop)
    try:
        yield
    finally:
        asyncio.events._set_running_loop(None)


@pytest.fixture(scope="session")
def playwright_session() -> Iterator[Playwright]:
    manager = sync_playwright()
    playwright = manager.start()
    asyncio.events._set_running_loop(None)  # see the module docstring
    try:
        yield playwright
    finally:
        with _playwright_loop(playwright):
            playwright.stop()


@pytest.fixture(scope="session")
def browser(playwright_session: Playwright) -> Iterator[Browser]:
    """Debian's chromium, headless, launched once per test session (never downloaded)."""
    with _playwright_loop(playwright_session):
        launched = playwright_session.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True)
    try:
        yield launched
    finally:
        with _playwright_loop(playwright_session):
            launched.close()


@dataclass
class BrowserSession:
    """Opens fresh browser contexts (separate cookie jars) for one test and records what the console says.

    ``console_errors`` collects console errors (Chromium also logs a page answered with a 4xx there);
    ``csp_violations`` and ``page_errors`` (uncaught JavaScript exceptions) fail every browser test.
    """

    browser: Browser
    contexts: list[BrowserContext] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def new_page(self, *, viewport: ViewportSize | None = None, **options: Any) -> Page:
        """A page in a new context: a separate person, with their own cookies."""
        context = self.browser.new_context(viewport=viewport or DESKTOP, **options)
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        return page

    def _on_console(self, message: ConsoleMessage) -> None:
        text = f"{message.type}: {message.text} ({message.location.get('url', '')})"
        if "Content Security Policy" in message.text:
            self.csp_violations.append(text)
        elif message.type == "error":
            self.console_errors.append(text)

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def page_context(browser: Browser, playwright_session: Playwright) -> Iterator[BrowserSession]:
    """Fresh contexts for one test; fails the test on a CSP violation or an uncaught script error."""
    with _playwright_loop(playwright_session):
        session = BrowserSession(browser)
        try:
            yield session
        finally:
            session.close()
    assert not session.csp_violations, f"CSP violations: {session.csp_violations}"
    assert not session.page_errors, f"uncaught script errors: {session.page_errors}"


@pytest.fixture
def page(page_context: BrowserSession) -> Page:
    """A desktop-sized page in a fresh context."""
    return page_context.new_page()
