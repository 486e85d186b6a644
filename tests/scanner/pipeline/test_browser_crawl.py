"""The headless-browser crawl (chromium): links built by scripts are found, and chromium's requests go through the
scan client (in scope, counted) instead of the network."""

from __future__ import annotations

import pytest

from spyglass.core.fetch import Fetcher
from spyglass.scanner.browser import ChromiumRenderer
from spyglass.scanner.contract import ScanPlan
from spyglass.scanner.crawler import Crawler
from spyglass.scanner.http import ScanClient
from tests.scanner.pipeline.site import DemoSite
from tests.support.http_server import LocalHttpServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def crawl_app(server: LocalHttpServer, fetcher: Fetcher, *, browser: bool) -> tuple[ScanClient, list[str]]:
    plan = ScanPlan(server.url("/app"), include_paths=("/app", "/js-only", "/static/"), requests_per_second=0)
    client = ScanClient(plan, fetcher)
    renderer = ChromiumRenderer(client) if browser else None
    try:
        result = await Crawler(client, browser=renderer).crawl()
    finally:
        if renderer is not None:
            await renderer.aclose()
    return client, [page.url for page in result.pages]


async def test_browser_crawl_finds_script_built_links(
    site: DemoSite, server: LocalHttpServer, fetcher: Fetcher
) -> None:
    _, plain = await crawl_app(server, fetcher, browser=False)
    assert server.url("/js-only?from=app") not in plain
    before = len(server.requests)
    client, rendered = await crawl_app(server, fetcher, browser=True)
    assert server.url("/js-only?from=app") in rendered
    # Every request chromium made reached the server through the scan client and was counted;
    # the page the crawler had fetched was served to chromium from that fetch, not requested twice.
    assert len(server.requests) - before == client.requests_sent
    assert [r.path for r in server.requests[before:]].count("/app") == 1
