"""The optional headless-browser crawl: render pages in chromium to find links that scripts build.

Chromium never touches the network itself: every request it makes is intercepted and sent through the
scan's :class:`~spyglass.scanner.http.ScanClient` (scope, URL policy, budget, pacing), or aborted when
out of scope. The page the crawler already fetched is served from that fetch, not requested again.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

from spyglass.core.browser import CHROMIUM, close_chromium, launch_chromium
from spyglass.core.fetch import FetchError
from spyglass.scanner.checks.base import BudgetExhausted, Exchange

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Playwright, Route

    from spyglass.scanner.http import ScanClient

logger = logging.getLogger(__name__)

RENDER_TIMEOUT_MS = 10_000
HOP_BY_HOP = frozenset({"content-length", "content-encoding", "transfer-encoding", "connection"})


class ChromiumRenderer:
    """A ``BrowserRenderer``: one chromium per scan, started on first use; close it with :meth:`aclose`."""

    def __init__(self, client: ScanClient, *, executable_path: str = CHROMIUM) -> None:
        self.client = client
        self.executable_path = executable_path
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._context: BrowserContext | None = None
        self._prefetched: dict[str, Exchange] = {}

    async def _ensure_started(self) -> BrowserContext:
        if self._context is None:
            self._playwright, self._browser = await launch_chromium(self.executable_path)
            self._context = await self._browser.new_context(service_workers="block", java_script_enabled=True)
            await self._context.route("**/*", self._route)
        return self._context

    async def render(self, exchange: Exchange) -> str | None:
        """The page's DOM after its scripts ran, or None when it could not be rendered."""
        from playwright.async_api import Error as PlaywrightError

        context = await self._ensure_started()
        self._prefetched[exchange.url] = exchange
        page = await context.new_page()
        try:
            await page.goto(exchange.url, wait_until="load", timeout=RENDER_TIMEOUT_MS)
            return await page.content()
        except PlaywrightError as exc:
            logger.info("browser could not render %s: %s", exchange.url, exc)
            return None
        finally:
            self._prefetched.pop(exchange.url, None)
            with contextlib.suppress(PlaywrightError):
                await page.close()

    async def _route(self, route: Route) -> None:
        request = route.request
        url = request.url
        if not url.startswith(("http://", "https://")) or not self.client.in_scope(url):
            await route.abort("blockedbyclient")
            return
        exchange = self._prefetched.pop(url, None) if request.method == "GET" else None
        if exchange is None:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in ("cookie", "user-agent")}
            try:
                exchange = await self.client.send(
                    request.method, url, content=request.post_data_buffer, headers=headers
                )
            except (BudgetExhausted, FetchError):
                await route.abort("blockedbyclient")
                return
        response_headers = {k: v for k, v in exchange.headers.items() if k.lower() not in HOP_BY_HOP}
        await route.fulfill(status=exchange.status, headers=response_headers, body=exchange.body)

    async def aclose(self) -> None:
        """Close chromium (safe to call when it never started)."""
        await close_chromium(self._playwright, self._browser)
        self._context = self._browser = self._playwright = None
