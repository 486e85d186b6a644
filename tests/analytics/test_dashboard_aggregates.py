"""Every figure of the user dashboard, exact on seeded rows, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from spyglass.analytics.dashboard import user_dashboard
from spyglass.analytics.service import analytics_session
from spyglass.core.services import Services
from tests.analytics.seed import NOW, seed_user_world
from tests.support.factories import create_user


@pytest.fixture
async def overview(services: Services) -> dict[str, Any]:
    owner = await create_user(services, username="owner")
    other = await create_user(services, username="other")
    await seed_user_world(services, owner.id, other.id)
    parallel = services.db.backend == "postgresql"  # as the app reads it
    return await user_dashboard(
        lambda: analytics_session(services),
        user_id=owner.id,
        days=30,
        now=NOW,
        best_deals=5,
        buckets=10,
        parallel=parallel,
    )


def rows(overview: dict[str, Any], name: str) -> list[list[Any]]:
    (series,) = [s for s in overview["series"] if s["name"] == name]
    return series["rows"]


async def test_cards(overview: dict[str, Any]) -> None:
    cards = overview["cards"]
    assert overview["since"] == "2026-10-22"
    assert cards["active_searches"] == 2  # the paused one and the other user's are not counted
    assert cards["new_listings_today"] == 2  # two of the owner's listings were first matched on 20 Nov
    deals = [(d["title"], d["deal_percent"], d["price"]) for d in cards["best_deals"]]
    # gone listings and listings above their market are left out; a listing two searches matched shows once
    assert deals == [("Bike and camera", 35.0, 300.0), ("Bike one", 20.0, 100.0), ("Old bike", 5.0, 1000.0)]


async def test_open_findings_of_each_targets_latest_scan(overview: dict[str, Any]) -> None:
    # Shop's latest succeeded scan has A (open) and C (accepted until 18 Nov: expired, open again);
    # Blog's has E (open) and F (accepted until 30 Nov); the failed scan and the other user's do not count.
    assert overview["cards"]["open_findings"] == [
        {"severity": "critical", "findings": 1},
        {"severity": "high", "findings": 1},
        {"severity": "low", "findings": 1},
    ]


async def test_latest_risk_per_target(overview: dict[str, Any]) -> None:
    latest = [(t["target"], t["risk_score"], t["finished_at"]) for t in overview["cards"]["latest_risk"]]
    assert latest == [
        ("Blog", 90, "2026-11-19T08:00:00+00:00"),
        ("Never scanned", None, None),
        ("Shop", 40, "2026-11-15T12:00:00+00:00"),
    ]


async def test_listings_per_day_per_marketplace(overview: dict[str, Any]) -> None:
    # the listing matched on 11 Oct is before the window; one listing matched by two searches counts once
    assert rows(overview, "listings_per_day") == [["2026-11-18", "ebay", 3], ["2026-11-20", "craigslist", 2]]


async def test_median_price_per_search(overview: dict[str, Any]) -> None:
    assert rows(overview, "median_price") == [
        ["2026-11-18", "Road bikes", 150.005, 2],  # 100.00 and 200.01; the listing without a price is left out
        ["2026-11-20", "Cameras", 175.0, 2],
        ["2026-11-20", "Road bikes", 300.0, 1],
    ]


async def test_price_distribution(overview: dict[str, Any]) -> None:
    # active priced listings first matched in the window: 100, 200.01 and 300 (the gone one and the one
    # matched in October are left out): ten buckets of 21 from 100
    distribution = rows(overview, "price_distribution")
    assert [row[3] for row in distribution] == [1, 0, 0, 0, 1, 0, 0, 0, 0, 1]
    assert distribution[0][:3] == ["100–121", 100.0, 121.0]
    assert distribution[4][:3] == ["184–205", 184.0, 205.0]
    assert distribution[9][:3] == ["289–310", 289.0, 310.0]


async def test_findings_over_time(overview: dict[str, Any]) -> None:
    assert rows(overview, "findings_over_time") == [
        ["2026-11-10", "Shop", "high", 1],
        ["2026-11-10", "Shop", "medium", 2],
        ["2026-11-10", "Shop", "low", 2],
        ["2026-11-15", "Shop", "high", 1],
        ["2026-11-15", "Shop", "medium", 1],
        ["2026-11-15", "Shop", "low", 1],
        ["2026-11-19", "Blog", "critical", 1],
        ["2026-11-19", "Blog", "high", 1],
    ]


async def test_time_to_fix(overview: dict[str, Any]) -> None:
    # fixed_at - first_seen_at of the fixed findings: B (10 Nov 12:00) and H (9 Nov 12:00) fixed on 15 Nov 12:00,
    # 120 h and 144 h; G (8 Nov 00:00) 180 h. J was fixed before the window; K is open again (its fixed_at is ignored).
    assert rows(overview, "time_to_fix") == [["Shop", "medium", 2, 132.0, 144.0], ["Shop", "low", 1, 180.0, 180.0]]


async def test_an_empty_dashboard(services: Services) -> None:
    nobody = await create_user(services, username="nobody")
    overview = await user_dashboard(lambda: analytics_session(services), user_id=nobody.id, days=7, now=NOW)
    assert overview["cards"] == {
        "active_searches": 0,
        "new_listings_today": 0,
        "best_deals": [],
        "open_findings": [],
        "latest_risk": [],
    }
    assert all(series["rows"] == [] for series in overview["series"])
