"""The analytics over HTTP: JSON and CSV of each series, the pages, input checks, tenancy and admin-only access."""

from __future__ import annotations

import csv
import io

from selectolax.lexbor import LexborHTMLParser

from tests.analytics.conftest import Client
from tests.analytics.seed import UserWorld
from tests.support.tenancy import assert_not_listed

# The seeded rows are in November 2026; a year's window holds them whatever day the tests run on.
YEAR = {"days": "365"}


async def test_dashboard_api_shows_the_callers_figures(owner_client: Client, world: UserWorld) -> None:
    response = await owner_client.get("/api/v1/analytics", params=YEAR)
    assert response.status_code == 200
    overview = response.json()
    assert overview["days"] == 365
    assert overview["cards"]["active_searches"] == 2
    assert [s["name"] for s in overview["series"]] == [
        "listings_per_day", "median_price", "price_distribution", "findings_over_time", "time_to_fix",
    ]  # fmt: skip
    listings = next(s for s in overview["series"] if s["name"] == "listings_per_day")
    assert listings["rows"] == [
        ["2026-10-11", "ebay", 1],
        ["2026-11-18", "ebay", 3],
        ["2026-11-20", "craigslist", 2],
    ]
    assert listings["chart"] == {"type": "bar", "x": "day", "y": ["listings"], "group": "marketplace", "stacked": True}


async def test_one_series_as_json_and_csv(owner_client: Client, world: UserWorld) -> None:
    series = await owner_client.get("/api/v1/analytics/series", params={"name": "median_price", **YEAR})
    assert series.status_code == 200
    assert series.json()["rows"][0] == ["2026-10-11", "Road bikes", 1000.0, 1]

    response = await owner_client.get("/api/v1/analytics/series.csv", params={"name": "median_price", **YEAR})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="spyglass-median_price.csv"' in response.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(response.text)))
    assert table[0] == ["day", "search", "median_price", "listings"]
    assert table[1:] == [[str(v) for v in row] for row in series.json()["rows"]]


async def test_other_users_see_none_of_it(other_client: Client, owner_client: Client, world: UserWorld) -> None:
    mine = world.listing_titles  # the other user's search, listing and target names
    for url in ("/api/v1/analytics", "/dashboard"):
        await assert_not_listed(owner_client, url, mine.values(), params=YEAR)
    for name in ("listings_per_day", "median_price", "findings_over_time", "time_to_fix"):
        await assert_not_listed(
            owner_client, "/api/v1/analytics/series.csv", mine.values(), params={"name": name, **YEAR}
        )

    theirs = (await other_client.get("/api/v1/analytics", params=YEAR)).json()
    assert theirs["cards"]["active_searches"] == 1
    assert [d["title"] for d in theirs["cards"]["best_deals"]] == ["Bike one", "Their secret listing"]
    assert [t["target"] for t in theirs["cards"]["latest_risk"]] == ["Their site"]
    assert theirs["cards"]["latest_risk"][0]["risk_score"] == 0  # its latest scan, not the riskier earlier one
    assert theirs["cards"]["open_findings"] == []  # Z was found by the earlier scan only
    (listings,) = [s for s in theirs["series"] if s["name"] == "listings_per_day"]
    assert listings["rows"] == [["2026-11-20", "ebay", 2]]


async def test_bad_input_is_refused_with_a_reason(owner_client: Client) -> None:
    for days in ("0", "366", "abc", "-3", "1e3", "ab" * 1000):
        response = await owner_client.get("/api/v1/analytics", params={"days": days})
        assert response.status_code == 422, days
        assert "from 1 to 365" in response.text
    page = await owner_client.get("/dashboard", params={"days": "0"})
    assert page.status_code == 422 and "from 1 to 365" in page.text
    unknown = await owner_client.get("/api/v1/analytics/series", params={"name": "../secrets"})
    assert unknown.status_code == 404
    missing = await owner_client.get("/api/v1/analytics/series.csv")
    assert missing.status_code == 400


async def test_anonymous_callers_are_sent_to_sign_in(client: Client) -> None:
    assert (await client.get("/api/v1/analytics")).status_code == 401
    page = await client.get("/dashboard")
    assert page.status_code in (302, 303) and page.headers["location"].startswith("/login")


async def test_dashboard_page_has_a_chart_a_table_and_a_csv_link_per_series(
    owner_client: Client, world: UserWorld
) -> None:
    response = await owner_client.get("/dashboard", params=YEAR)
    assert response.status_code == 200
    html = LexborHTMLParser(response.text)
    source = html.css_first("[data-chart-source]")
    assert source is not None and source.attributes["data-chart-source"] == "/api/v1/analytics?days=365"
    for name in ("listings_per_day", "median_price", "price_distribution", "findings_over_time", "time_to_fix"):
        panel = html.css_first(f'[data-series="{name}"]')
        assert panel is not None, name
        assert panel.css_first(f'canvas[data-chart="{name}"]') is not None, name
        assert panel.css("table tbody tr"), name
        link = panel.css_first("a[download]")
        assert link is not None and link.attributes["href"] == f"/api/v1/analytics/series.csv?name={name}&days=365"
    cards = {card.attributes["data-card"]: card.css_first(".card-value").text() for card in html.css("[data-card]")}  # type: ignore[union-attr]
    assert cards["active_searches"] == "2"
    assert cards["open_critical"] == "1"
    deals = html.css_first('section[aria-labelledby="deals-title"]')
    assert deals is not None and "Bike and camera" in deals.text()
    sources = [script.attributes.get("src") or "" for script in html.css("script")]
    assert any(src.startswith("/static/vendor/chart.umd.min") for src in sources), sources
