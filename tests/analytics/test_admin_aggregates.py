"""Every figure of the admin analytics, exact on seeded rows, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from spyglass.analytics.admin import admin_analytics
from spyglass.analytics.dashboard import SessionOpener
from spyglass.analytics.service import analytics_session
from spyglass.core.services import Services
from tests.analytics.seed import NOW, seed_admin_world


def opener(services: Services) -> SessionOpener:
    return lambda: analytics_session(services)


def parallel(services: Services) -> bool:
    """Read as the app does: several connections at once on PostgreSQL."""
    return services.db.backend == "postgresql"


@pytest.fixture
async def overview(services: Services) -> dict[str, Any]:
    await seed_admin_world(services)
    return await admin_analytics(opener(services), days=30, now=NOW, top=10, parallel=parallel(services))


def rows(overview: dict[str, Any], name: str) -> list[list[Any]]:
    (series,) = [s for s in overview["series"] if s["name"] == name]
    return series["rows"]


async def test_users(overview: dict[str, Any]) -> None:
    assert rows(overview, "signups_per_day") == [["2026-11-18", 2], ["2026-11-20", 1]]
    # signed in 1 h ago; seen 4.6 days ago; signed in 26 days ago; never
    assert overview["cards"]["active_users"] == {"1d": 1, "7d": 2, "30d": 3}


async def test_runs_per_kind_per_day(overview: dict[str, Any]) -> None:
    # queued runs have not finished; the September failure is outside the window
    assert rows(overview, "runs_per_day") == [
        ["2026-11-19", "market.search", 2, 1, 1, 50.0, 45.0],
        ["2026-11-20", "market.search", 1, 1, 0, 100.0, 10.0],
        ["2026-11-20", "scanner.scan", 1, 1, 0, 100.0, 600.0],
    ]
    assert rows(overview, "kinds_by_failures") == [["market.search", 1]]


async def test_schedule_lag(overview: dict[str, Any]) -> None:
    # scheduled runs started 10 s and 30 s after they were due on 19 Nov, on time on 20 Nov; the scan had no schedule
    assert rows(overview, "schedule_lag") == [["2026-11-19", 2, 20.0, 30.0], ["2026-11-20", 1, 0.0, 0.0]]


async def test_notifications(overview: dict[str, Any]) -> None:
    assert rows(overview, "notifications_per_day") == [["2026-11-19", 1, 1], ["2026-11-20", 1, 0]]
    assert overview["cards"]["notifications"] == {"sent": 2, "failed": 1}


async def test_feedback(overview: dict[str, Any]) -> None:
    series = next(s for s in overview["series"] if s["name"] == "feedback")
    assert series["columns"] == [
        "kind", "total", "new", "in_progress", "resolved", "closed", "rated", "average_rating",
    ]  # fmt: skip
    assert series["rows"] == [
        ["bug", 2, 1, 0, 1, 0, 2, 3.0],
        ["feature", 1, 0, 0, 0, 1, 0, None],
        ["question", 1, 0, 1, 0, 0, 1, 5.0],
    ]


async def test_marketplaces_by_errors(overview: dict[str, Any]) -> None:
    # eBay failed inside a run that succeeded elsewhere, then the whole run (eBay and Craigslist) failed
    assert rows(overview, "marketplace_errors") == [["ebay", 2], ["craigslist", 1]]


async def test_listings_scans_and_findings(overview: dict[str, Any]) -> None:
    assert rows(overview, "listings_per_day") == [
        ["2026-11-19", "ebay", 2],
        ["2026-11-20", "craigslist", 1],
    ]
    assert rows(overview, "scans_per_day") == [["2026-11-19", 2, 1, 1], ["2026-11-20", 1, 0, 0]]
    assert rows(overview, "findings_by_severity") == [["high", 2], ["low", 1]]


async def test_top_lists_are_capped(services: Services) -> None:
    await seed_admin_world(services)
    overview = await admin_analytics(opener(services), days=30, now=NOW, top=1)
    assert rows(overview, "marketplace_errors") == [["ebay", 2]]


async def test_a_one_day_window(overview: dict[str, Any], services: Services) -> None:
    today = await admin_analytics(opener(services), days=1, now=NOW, parallel=parallel(services))
    assert today["since"] == "2026-11-20"
    assert rows(today, "signups_per_day") == [["2026-11-20", 1]]
    assert rows(today, "marketplace_errors") == []
    assert today["cards"]["notifications"] == {"sent": 1, "failed": 0}
