"""Admin analytics over HTTP: admins only (404 for everyone else), cached with a manual refresh."""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser
from sqlalchemy import select

from spyglass.audit.models import AuditEvent
from spyglass.core.services import Services
from tests.analytics.conftest import Client
from tests.analytics.seed import seed_admin_world
from tests.support.factories import create_user
from tests.support.web import post_form, send_json

YEAR = {"days": "365"}
ADMIN_URLS = [
    ("GET", "/admin/analytics"),
    ("GET", "/api/v1/admin/analytics"),
    ("GET", "/api/v1/admin/analytics/series?name=signups_per_day"),
    ("GET", "/api/v1/admin/analytics/series.csv?name=signups_per_day"),
    ("POST", "/admin/analytics/refresh"),
    ("POST", "/api/v1/admin/analytics/refresh"),
]


def signups(overview: dict[str, object]) -> int:
    series = next(s for s in overview["series"] if s["name"] == "signups_per_day")  # type: ignore[attr-defined]
    return sum(row[1] for row in series["rows"])


async def test_only_admins_find_it(owner_client: Client, client: Client, admin_client: Client) -> None:
    for browser in (owner_client, client):
        for method, url in ADMIN_URLS:
            if method == "POST":
                response = await post_form(browser, url)
            else:
                response = await browser.get(url)
            assert response.status_code == 404, (method, url, response.status_code)
    assert (await admin_client.get("/admin/analytics")).status_code == 200


async def test_admin_figures_over_http(admin_client: Client, services: Services) -> None:
    await seed_admin_world(services)
    overview = (await admin_client.get("/api/v1/admin/analytics", params=YEAR)).json()
    # the four seeded users plus the signed-in admin (created today)
    assert signups(overview) == 4 + 1
    errors = await admin_client.get("/api/v1/admin/analytics/series.csv", params={"name": "marketplace_errors", **YEAR})
    assert errors.status_code == 200
    assert errors.text == "marketplace,errors\r\nebay,2\r\ncraigslist,1\r\n"
    assert 'filename="spyglass-admin-marketplace_errors.csv"' in errors.headers["content-disposition"]
    bad = await admin_client.get("/api/v1/admin/analytics", params={"days": "9999"})
    assert bad.status_code == 422 and "from 1 to 365" in bad.text


async def test_cached_until_refreshed(admin_client: Client, services: Services) -> None:
    stats = services.cache.stats["analytics"]
    first = (await admin_client.get("/api/v1/admin/analytics", params=YEAR)).json()
    misses, hits = stats.misses, stats.hits
    await create_user(services, username="newcomer")

    again = (await admin_client.get("/api/v1/admin/analytics", params=YEAR)).json()
    assert again == first  # served from the cache: the newcomer is not counted yet
    assert (stats.misses, stats.hits) == (misses, hits + 1)
    page = await admin_client.get("/admin/analytics", params=YEAR)
    assert first["computed_at"] in page.text  # the page reads the same cached figures

    refreshed = await post_form(admin_client, "/admin/analytics/refresh")
    assert refreshed.status_code == 303 and refreshed.headers["location"] == "/admin/analytics"
    after = (await admin_client.get("/api/v1/admin/analytics", params=YEAR)).json()
    assert signups(after) == signups(first) + 1
    assert after["computed_at"] >= first["computed_at"]
    async with services.db.session() as session:
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert "admin.analytics_refreshed" in actions


async def test_refresh_through_the_api(admin_client: Client, services: Services) -> None:
    first = (await admin_client.get("/api/v1/admin/analytics")).json()
    await create_user(services, username="newcomer")
    response = await send_json(admin_client, "POST", "/api/v1/admin/analytics/refresh")
    assert response.status_code == 200 and response.json() == {"refreshed": True}
    assert signups((await admin_client.get("/api/v1/admin/analytics")).json()) == signups(first) + 1


async def test_admin_page_has_charts_tables_and_a_refresh_form(admin_client: Client, services: Services) -> None:
    await seed_admin_world(services)
    response = await admin_client.get("/admin/analytics", params=YEAR)
    html = LexborHTMLParser(response.text)
    form = html.css_first('form[action="/admin/analytics/refresh"]')
    assert form is not None and form.css_first('input[name="_csrf_token"]') is not None
    cards = {card.attributes["data-card"]: card.css_first(".card-value").text() for card in html.css("[data-card]")}  # type: ignore[union-attr]
    assert cards["notifications_sent"] == "3" and cards["notifications_failed"] == "1"
    for name in ("signups_per_day", "runs_per_day", "schedule_lag", "notifications_per_day", "feedback",
                 "marketplace_errors", "kinds_by_failures", "listings_per_day", "scans_per_day",
                 "findings_by_severity"):  # fmt: skip
        panel = html.css_first(f'[data-series="{name}"]')
        assert panel is not None and panel.css_first("canvas") is not None, name
        assert panel.css("table tbody tr"), name
