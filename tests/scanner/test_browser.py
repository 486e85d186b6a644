"""In chromium: add a target, prove ownership with the token file, run a passive scan and watch it
finish live, open a finding and mark it a false positive."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from spyglass.engine.engine import Engine
from tests.browser.helpers import sign_in
from tests.support.factories import create_user
from tests.support.http_server import LocalHttpServer, Reply, ServerRequest
from tests.support.live_server import (  # noqa: F401 - fixtures
    LiveServer,
    LiveServerFactory,
    browser,
    live_server_factory,
    page,
    page_context,
    playwright_session,
)
from tests.support.smtp import smtp_server  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HOME = '<!doctype html><html><head><title>Shop</title></head><body><a href="/about">About</a></body></html>'


@pytest.fixture
def site() -> Iterator[LocalHttpServer]:
    with LocalHttpServer() as server:
        for path, body in (("/", HOME), ("/about", "<html><body>About us</body></html>")):

            async def serve_page(_: ServerRequest, body: str = body) -> Reply:
                return Reply(200, body.encode(), {"content-type": "text/html; charset=utf-8"})

            server.route(path, serve_page)
        yield server


@pytest.fixture
def scanning_server(live_server_factory: LiveServerFactory) -> Iterator[LiveServer]:  # noqa: F811
    server = live_server_factory(
        allow_private_targets="127.0.0.1/32", http_per_host_delay_seconds=0, engine_tick_seconds=0.1
    )
    engine = Engine(server.services, mode="embedded", concurrency=4)
    server.call(engine.start)
    try:
        yield server
    finally:
        server.call(lambda: engine.stop(grace_seconds=1))


def test_add_verify_scan_and_triage(page: Page, scanning_server: LiveServer, site: LocalHttpServer) -> None:  # noqa: F811
    base = scanning_server.url
    scanning_server.call(lambda: create_user(scanning_server.services, username="sam"))
    sign_in(page, base, "sam")

    page.goto(base + "/scanner/targets")
    page.get_by_label("Name", exact=True).fill("Test shop")
    page.get_by_label("Address", exact=True).fill(site.url("/"))
    page.get_by_role("button", name="Add target").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Test shop")
    expect(page.locator("#ownership")).to_have_text("not verified")
    expect(page.get_by_label("Active: passive plus harmless attack payloads")).to_be_disabled()

    token = page.locator("#token-file").inner_text().strip()

    async def proof(_: ServerRequest) -> Reply:
        return Reply(200, token.encode(), {"content-type": "text/plain"})

    site.route("/.well-known/spyglass-verification.txt", proof)
    page.get_by_role("button", name="Check now").click()
    expect(page.locator(".flash-success")).to_contain_text("Ownership of 127.0.0.1 is proven.")
    expect(page.locator("#ownership")).to_have_text("verified (file)")
    expect(page.get_by_label("Active: passive plus harmless attack payloads")).to_be_enabled()

    page.get_by_label("Passive: crawl and analyse what a browser sees").check()
    page.get_by_role("button", name="Start scan").click()
    expect(page).to_have_url(re.compile(r"/scanner/scans/\d+$"))
    # The live page follows the run and reloads with the results when the scan ends.
    expect(page.locator('[data-scan-field="status"]')).to_have_text("succeeded", timeout=30_000)
    findings = page.locator("#findings tbody tr")
    expect(findings.first).to_be_visible()
    assert site.hits("/about") >= 1

    page.get_by_label("Severity", exact=True).select_option("low")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#findings tbody tr[data-severity='low']").first).to_be_visible()
    expect(page.locator("#findings tbody tr:not([data-severity='low'])")).to_have_count(0)

    page.locator("#findings tbody tr a").first.click()
    expect(page.get_by_role("heading", name="Why this priority")).to_be_visible()
    page.get_by_label("Status", exact=True).select_option("false_positive")
    page.get_by_label("Note", exact=True).fill("Set by the CDN")
    page.get_by_role("button", name="Save decision").click()
    expect(page.locator(".flash-success")).to_have_text("Finding marked false positive.")
    expect(page.locator("#status")).to_contain_text("false positive — Set by the CDN")
