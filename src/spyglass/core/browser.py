"""Headless chromium for the features that render pages (market's browser fetch, the scanner's browser crawl).

One place for the project's chromium binary and flags. Callers route every request chromium makes through
their own fetcher; :data:`NO_NETWORK_ARGS` additionally points chromium at a dead proxy, for callers that
want anything their routes miss to fail rather than reach the network.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.async_api import Browser, Playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
NO_NETWORK_ARGS = (
    "--proxy-server=http://127.0.0.1:9",  # a dead proxy: nothing leaves chromium except through the routes
    "--proxy-bypass-list=<-loopback>",  # ... not even loopback, which chromium would otherwise reach directly
)


async def launch_chromium(executable: str = CHROMIUM, extra_args: tuple[str, ...] = ()) -> tuple[Playwright, Browser]:
    """Start Playwright and a headless chromium with the project's flags (plus ``extra_args``)."""
    from playwright.async_api import async_playwright

    playwright = await async_playwright().start()
    try:
        browser = await playwright.chromium.launch(
            executable_path=executable, args=[*CHROMIUM_ARGS, *extra_args], headless=True
        )
    except BaseException:
        await playwright.stop()
        raise
    return playwright, browser


async def close_chromium(playwright: Playwright | None, browser: Browser | None) -> None:
    """Close ``browser`` then stop ``playwright``; either may be None, and errors while closing are ignored."""
    if browser is not None:
        with contextlib.suppress(Exception):
            await browser.close()
    if playwright is not None:
        with contextlib.suppress(Exception):
            await playwright.stop()
