"""An optional browser fetch: pages built by scripts, rendered in headless chromium (Playwright, Debian's binary).

``BrowserFetch(fetcher)`` has the ``Fetch`` signature, so any adapter can use it instead of the plain
fetcher (a search with "use a browser" on). Chromium never reaches the network itself: every request the
page makes (the document, its scripts, its XHR) is intercepted and sent through the platform ``Fetcher``,
so the URL policy (SSRF rules), robots.txt, per-host politeness and the size cap apply to all of them;
anything not intercepted goes to a dead proxy. Images, media, fonts and stylesheets are not fetched (the
adapters read links, not pixels). The result is the rendered DOM as a ``FetchResult``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spyglass.core.browser import CHROMIUM, NO_NETWORK_ARGS, close_chromium, launch_chromium
from spyglass.core.fetch import FetchError, FetchResult

if TYPE_CHECKING:
    from playwright.async_api import Browser, Playwright, Request, Route

    from spyglass.core.fetch import Fetcher

SKIPPED_RESOURCES = frozenset({"image", "media", "font", "stylesheet", "manifest", "texttrack"})
FORWARDED_HEADERS = ("accept", "content-type", "x-requested-with")


class BrowserFetch:
    """Render pages in chromium with every request going through ``fetcher``; use as an async context manager."""

    def __init__(
        self,
        fetcher: Fetcher,
        *,
        executable: str = CHROMIUM,
        timeout_seconds: float = 20.0,
        max_requests: int = 60,
    ) -> None:
        if not Path(executable).exists():
            raise FileNotFoundError(f"chromium is not installed at {executable}")
        self.fetcher = fetcher
        self.executable = executable
        self.timeout_ms = timeout_seconds * 1000
        self.max_requests = max_requests
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    async def __aenter__(self) -> BrowserFetch:
        self._playwright, self._browser = await launch_chromium(self.executable, NO_NETWORK_ARGS)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await close_chromium(self._playwright, self._browser)
        self._browser = self._playwright = None

    async def __call__(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        method: str = "GET",
        content: bytes | None = None,
        **fetch_options: Any,
    ) -> FetchResult:
        """The page at ``url`` after its scripts ran (the document itself is fetched like any other page)."""
        if self._browser is None:
            raise RuntimeError("BrowserFetch is used outside 'async with'")
        document = await self.fetcher.fetch(url, headers=headers, method=method, content=content, **fetch_options)
        if "html" not in document.headers.get("content-type", "text/html"):
            return document  # JSON, feeds: nothing to render
        context = await self._browser.new_context(
            user_agent=self.fetcher.settings.user_agent, service_workers="block", java_script_enabled=True
        )
        requests = 0

        async def route(route: Route, request: Request) -> None:
            nonlocal requests
            if request.url == document.url and request.resource_type == "document":
                await route.fulfill(status=document.status_code, body=document.content, headers=_kept(document))
                return
            requests += 1
            if request.resource_type in SKIPPED_RESOURCES or requests > self.max_requests:
                await route.abort("blockedbyclient")
                return
            sent = {k: v for k, v in request.headers.items() if k.lower() in FORWARDED_HEADERS}
            try:
                answer = await self.fetcher.fetch(
                    request.url,
                    method=request.method,
                    headers=sent,
                    content=request.post_data_buffer,
                    raise_for_status=False,
                    **fetch_options,
                )
            except FetchError:  # refused by the URL policy or robots.txt, or unreachable
                await route.abort("blockedbyclient")
                return
            await route.fulfill(status=answer.status_code, body=answer.content, headers=_kept(answer))

        try:
            page = await context.new_page()
            await page.route("**/*", route)
            await page.goto(document.url, wait_until="load", timeout=self.timeout_ms)
            try:
                await page.wait_for_load_state("networkidle", timeout=min(self.timeout_ms, 5000))
            except Exception:  # a page that keeps polling: take what it rendered so far
                await asyncio.sleep(0)
            html = await page.content()
        finally:
            await context.close()
        return FetchResult(
            url=document.url,
            status_code=document.status_code,
            headers=document.headers,
            content=html.encode("utf-8"),
            encoding="utf-8",
            redirects=document.redirects,
            address=document.address,
            http_version=document.http_version,
            elapsed=document.elapsed,
            target=document.target,
        )


def _kept(result: FetchResult) -> dict[str, str]:
    return {"content-type": result.headers.get("content-type", "application/octet-stream")}
