"""The market pages in a signed-in browser session: forms with CSRF, validation messages, every page renders."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from spyglass.core.services import Services
from spyglass.engine.models import Run, RunStatus
from spyglass.market.models import Favorite, SavedSearch
from tests.market.helpers import execute_search, listings_by_sku
from tests.market.shop import Product, Shop
from tests.support.client import app_client
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.tenancy import assert_isolated, assert_not_listed
from tests.support.web import login, post_form

Client = AsyncTestClient[Litestar]


def search_form(url: str, **overrides: str) -> dict[str, object]:
    form: dict[str, object] = {
        "name": "Espresso machines",
        "marketplaces": ["jsonld"],
        "keywords": "espresso NOT capsule",
        "excluded_words": "broken, spares",
        "price_max": "400",
        "interval_minutes": "30",
        "alert_mode": "instant",
        "options": f'{{"jsonld": {{"url": "{url}"}}}}',
        "enabled": "true",
    }
    form.update(overrides)
    return form


def machines() -> list[Product]:
    return [
        Product("e1", "Gaggia espresso machine", "180.00", "Works well"),
        Product("e2", "Capsule espresso maker", "40.00"),
        Product("e3", "Rancilio espresso machine", "390.00"),
    ]


async def test_create_a_search_run_it_and_browse_the_pages(client: Client, services: Services, shop: Shop) -> None:
    alice = await create_user(services, username="alice")
    signed_out = await client.get("/market/listings", follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/login")
    await login(client, "alice", DEFAULT_PASSWORD)
    styles = await client.get("/static/css/market.css")
    assert styles.status_code == 200 and ".price-chart" in styles.text
    url = shop.serve("/coffee", machines())
    assert (await client.get("/market/searches")).status_code == 200
    assert "no saved searches" in (await client.get("/market/searches")).text
    editor = await client.get("/market/searches/new")
    assert editor.status_code == 200 and 'name="marketplaces" value="jsonld"' in editor.text

    refused = await post_form(client, "/market/searches", search_form(url, keywords="", price_min="500"))
    assert refused.status_code == 422
    assert "Enter at least one keyword." in refused.text
    assert "The maximum price is below the minimum price." in refused.text
    assert 'value="Espresso machines"' in refused.text  # what was typed is kept

    created = await post_form(client, "/market/searches", search_form(url), follow_redirects=False)
    assert created.status_code == 303 and created.headers["location"] == "/market/searches"
    async with services.db.session() as session:
        search = await session.scalar(select(SavedSearch))
        assert search is not None and search.interval_seconds == 1800 and search.excluded_words == ["broken", "spares"]
    dashboard = await client.get("/market/searches")
    assert "Espresso machines" in dashboard.text and "Search “Espresso machines” saved." in dashboard.text

    preview = await post_form(client, "/market/searches/preview", search_form(url))
    assert preview.status_code == 200
    assert "2 of 3 listings match. Nothing was saved." in preview.text and "Gaggia espresso machine" in preview.text

    run = await post_form(client, f"/market/searches/{search.id}/run", {}, follow_redirects=False)
    assert run.status_code == 303 and run.headers["location"].startswith("/runs/")
    async with services.db.session() as session:
        queued = await session.scalar(select(Run).where(Run.subject_id == search.id))
        assert queued is not None and queued.status == RunStatus.QUEUED.value
    from spyglass.engine.runner import Runner

    await Runner(services, concurrency=1, mode="embedded").execute(queued.id)

    table = await client.get("/market/listings", params={"sort": "price_asc"})
    assert table.status_code == 200
    assert table.text.index("Gaggia espresso machine") < table.text.index("Rancilio espresso machine")
    assert "Capsule espresso maker" not in table.text
    bad_filter = await client.get("/market/listings", params={"price_min": "abc"})
    assert bad_filter.status_code == 422 and "Enter a number." in bad_filter.text

    stored = await listings_by_sku(services)
    page = await client.get(f"/market/listings/{stored['e1'].id}")
    assert page.status_code == 200 and "Gaggia espresso machine" in page.text and "Price history" in page.text
    favorite = await post_form(client, f"/market/listings/{stored['e1'].id}/favorite", {"note": "descale first"})
    assert favorite.status_code == 200 and "Saved to your favorites." in favorite.text
    alert = await post_form(client, f"/market/listings/{stored['e1'].id}/price-alert", {"target_price": "abc"})
    assert "Price alert not saved: Enter a number." in alert.text
    alert = await post_form(client, f"/market/listings/{stored['e1'].id}/price-alert", {"drop_percent": "10"})
    assert "Price alert saved." in alert.text

    shop.pages["/coffee"] = [Product("e1", "Gaggia espresso machine", "150.00", "Works well")]
    await execute_search(services, search.id, alice.id)
    chart = await client.get(f"/market/listings/{stored['e1'].id}")
    assert "<svg" in chart.text and "$180.00" in chart.text and "$150.00" in chart.text
    alerts = await client.get("/market/alerts")
    assert "dropped from $180.00 to $150.00" in alerts.text and "2 new listings for “Espresso machines”" in alerts.text
    assert "Marked 2 alerts read." in (await post_form(client, "/market/alerts/read", {})).text

    favorites = await client.get("/market/favorites")
    assert "descale first" in favorites.text
    async with services.db.session() as session:
        saved = await session.scalar(select(Favorite))
        assert saved is not None
    assert "Note saved." in (await post_form(client, f"/market/favorites/{saved.id}", {"note": "sold?"})).text
    assert "Removed from your favorites." in (await post_form(client, f"/market/favorites/{saved.id}/delete", {})).text

    csv_export = await client.get("/market/listings/export.csv")
    assert csv_export.status_code == 200 and "Gaggia espresso machine" in csv_export.text
    json_export = await client.get("/market/listings/export.json")
    assert {item["external_id"] for item in json_export.json()} == {"e1", "e3"}

    stopped = await post_form(client, f"/market/searches/{search.id}/stop", {})
    assert "stopped" in stopped.text
    assert "Started 1 search." in (await post_form(client, "/market/searches/start-all", {})).text
    assert "Stopped 1 search." in (await post_form(client, "/market/searches/stop-all", {})).text
    edited = await post_form(client, f"/market/searches/{search.id}", search_form(url, name="Grinders"))
    assert "Search “Grinders” updated." in edited.text
    deleted = await post_form(client, f"/market/searches/{search.id}/delete", {})
    assert "Search “Grinders” deleted." in deleted.text


async def test_forms_need_the_csrf_token(client: Client, services: Services, shop: Shop) -> None:
    await create_user(services, username="carol")
    await login(client, "carol", DEFAULT_PASSWORD)
    response = await client.post("/market/searches", data=search_form(shop.url("/coffee")))
    assert response.status_code == 403
    async with services.db.session() as session:
        assert await session.scalar(select(SavedSearch)) is None


async def test_pages_of_another_user_are_not_found(app: Litestar, services: Services, shop: Shop) -> None:
    alice = await create_user(services, username="alice")
    await create_user(services, username="bob")
    url = shop.serve("/coffee", machines())
    async with app_client(app) as owner, app_client(app) as intruder:
        await login(owner, "alice", DEFAULT_PASSWORD)  # type: ignore[arg-type]
        await login(intruder, "bob", DEFAULT_PASSWORD)  # type: ignore[arg-type]
        await post_form(owner, "/market/searches", search_form(url))  # type: ignore[arg-type]
        async with services.db.session() as session:
            search = await session.scalar(select(SavedSearch))
            assert search is not None
        await execute_search(services, search.id, alice.id)
        listing = (await listings_by_sku(services))["e1"]
        await post_form(owner, f"/market/listings/{listing.id}/favorite", {"note": "alice only"})  # type: ignore[arg-type]
        async with services.db.session() as session:
            favorite = await session.scalar(select(Favorite))
            assert favorite is not None
        await assert_isolated(
            intruder,  # type: ignore[arg-type]
            [
                ("GET", f"/market/searches/{search.id}", None),
                ("POST", f"/market/searches/{search.id}", search_form(url, name="bob's now")),
                ("POST", f"/market/searches/{search.id}/run", {}),
                ("POST", f"/market/searches/{search.id}/stop", {}),
                ("POST", f"/market/searches/{search.id}/delete", {}),
                ("GET", f"/market/listings/{listing.id}", None),
                ("POST", f"/market/listings/{listing.id}/favorite", {"note": "bob"}),
                ("POST", f"/market/listings/{listing.id}/price-alert", {"target_price": "1"}),
                ("POST", f"/market/listings/{listing.id}/seen", {}),
                ("POST", f"/market/favorites/{favorite.id}", {"note": "bob"}),
                ("POST", f"/market/favorites/{favorite.id}/delete", {}),
            ],
            owner=owner,  # type: ignore[arg-type]
            secrets=["Espresso machines", "alice only", "Gaggia"],
        )
        for page in ("/market/searches", "/market/listings", "/market/favorites", "/market/alerts"):
            await assert_not_listed(intruder, page, ["Espresso machines", "Gaggia", "alice only"])  # type: ignore[arg-type]
        async with services.db.session() as session:
            kept = await session.get(SavedSearch, search.id)
            assert kept is not None and kept.name == "Espresso machines" and kept.enabled
