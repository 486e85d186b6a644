"""Chromium draws every chart of both analytics pages from the JSON endpoints (no CSP violation, no
script error: the page_context fixture fails the test on either)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from spyglass.accounts.models import Role
from tests.analytics.seed import seed_admin_world, seed_user_world
from tests.browser.helpers import sign_in
from tests.support.factories import create_user
from tests.support.live_server import BrowserSession, LiveServer

pytestmark = pytest.mark.browser


def charts_drawn(page: Page) -> dict[str, int]:
    """Each canvas's series name and how many points Chart.js was given, once every canvas is drawn."""
    canvases = page.locator("canvas[data-chart]")
    count = canvases.count()
    assert count > 0
    expect(page.locator("canvas[data-chart][data-drawn-points]")).to_have_count(count)
    drawn = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('canvas[data-chart]')]
             .map(c => [c.dataset.chart, Number(c.dataset.drawnPoints)]))"""
    )
    # Chart.js sized the canvas and painted on it: some pixel is not transparent
    painted = page.evaluate(
        """() => [...document.querySelectorAll('canvas[data-chart]')].every(c => {
             const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
             return c.width > 0 && c.height > 0 && data.some((v, i) => i % 4 === 3 && v > 0);
           })"""
    )
    assert painted
    return drawn  # type: ignore[no-any-return]


def test_dashboard_and_admin_charts_are_drawn(page_context: BrowserSession, live_server: LiveServer) -> None:
    base = live_server.url
    services = live_server.services
    owner = live_server.call(lambda: create_user(services, username="owner"))
    other = live_server.call(lambda: create_user(services, username="other"))
    live_server.call(lambda: create_user(services, username="root", role=Role.ADMIN))
    live_server.call(lambda: seed_user_world(services, owner.id, other.id))
    live_server.call(lambda: seed_admin_world(services))

    page = page_context.new_page()
    sign_in(page, base, "owner")
    page.goto(f"{base}/dashboard?days=365")
    drawn = charts_drawn(page)
    assert drawn == {
        "listings_per_day": 3,  # three (day, marketplace) bars
        "median_price": 4,
        "price_distribution": 10,
        "findings_over_time": 9,  # with the 1 Sep scan of the Shop (findings fixed before the 30-day window)
        "time_to_fix": 2,
    }
    page.get_by_text("Figures as a table").first.click()
    expect(page.locator('[data-series="listings_per_day"] table')).to_be_visible()

    admin = page_context.new_page()
    sign_in(admin, base, "root")
    admin.goto(f"{base}/admin/analytics?days=365")
    drawn = charts_drawn(admin)
    assert set(drawn) == {
        "signups_per_day", "runs_per_day", "schedule_lag", "notifications_per_day", "feedback",
        "marketplace_errors", "kinds_by_failures", "listings_per_day", "scans_per_day", "findings_by_severity",
    }  # fmt: skip
    assert drawn["marketplace_errors"] == 2  # ebay and craigslist
    assert drawn["findings_by_severity"] == 4  # critical, high, medium and low across both seeded worlds
    admin.get_by_role("button", name="Recompute now").click()
    expect(admin.get_by_text("Analytics recomputed.")).to_be_visible()
    charts_drawn(admin)
