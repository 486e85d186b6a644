"""Saved searches over the JSON API: create, read, update, delete, start/stop, run now, quotas, validation."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from spyglass.core.services import Services
from spyglass.engine.models import Run, Schedule
from spyglass.market.service import SEARCH_KIND
from tests.market.helpers import bearer, search_body
from tests.support.factories import create_user

Client = AsyncTestClient[Litestar]
URL = "https://shop.example/bikes"


async def schedule_of(services: Services, search_id: int) -> Schedule | None:
    async with services.db.session() as session:
        return await session.scalar(
            select(Schedule).where(Schedule.kind == SEARCH_KIND, Schedule.subject_id == search_id)
        )


async def test_create_read_update_delete(client: Client, services: Services) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    body = search_body(
        URL,
        keywords='"road bike" AND (carbon OR aluminium) NOT kids',
        excluded_words=["broken", "parts only"],
        price_min="100",
        price_max=900.5,
        condition="used",
        location="Boston",
        radius_km=40,
        alert_mode="digest",
    )
    created = await client.post("/api/v1/market/searches", json=body)
    assert created.status_code == 201, created.text
    search = created.json()
    assert search["name"] == "Road bikes"
    assert search["price_min"] == "100.00" and search["price_max"] == "900.50"
    assert search["excluded_words"] == ["broken", "parts only"]
    assert search["location"] == "Boston" and 42 < search["latitude"] < 43 and -72 < search["longitude"] < -70
    assert search["alert_mode"] == "digest" and search["enabled"] is True
    schedule = await schedule_of(services, search["id"])
    assert schedule is not None and schedule.enabled and schedule.interval_seconds == 600

    fetched = await client.get(f"/api/v1/market/searches/{search['id']}")
    assert fetched.status_code == 200 and fetched.json()["next_run_at"] is not None
    listed = await client.get("/api/v1/market/searches")
    assert [item["id"] for item in listed.json()["items"]] == [search["id"]]

    updated = await client.put(
        f"/api/v1/market/searches/{search['id']}", json=search_body(URL, name="Gravel", interval_seconds=3600)
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["name"] == "Gravel" and updated.json()["location"] is None
    schedule = await schedule_of(services, search["id"])
    assert schedule is not None and schedule.interval_seconds == 3600

    deleted = await client.delete(f"/api/v1/market/searches/{search['id']}")
    assert deleted.status_code == 204
    assert (await client.get(f"/api/v1/market/searches/{search['id']}")).status_code == 404
    assert await schedule_of(services, search["id"]) is None


BAD_INPUT: list[tuple[dict[str, Any], str, str]] = [
    ({"keywords": "  "}, "keywords", "at least one keyword"),
    ({"keywords": "bike AND"}, "keywords", "needs a word"),
    ({"keywords": '"unclosed phrase'}, "keywords", ""),
    ({"price_min": "500", "price_max": "100"}, "price_max", "below the minimum"),
    ({"price_min": "cheap"}, "price_min", "number"),
    ({"price_max": -3}, "price_max", "0 or more"),
    ({"marketplaces": ["nosuchmarket"]}, "marketplaces", "unknown marketplace"),
    ({"marketplaces": []}, "marketplaces", "at least one"),
    ({"location": "Qwxzzyville Nowhere"}, "location", ""),
    ({"location": "\u0663\u0663\u0663\u0663\u0663"}, "location", "city name or a ZIP code"),
    ({"radius_km": 25}, "location", "city or ZIP"),
    ({"location": "Boston", "radius_km": 5000}, "radius_km", "between"),
    ({"interval_seconds": 30}, "interval_seconds", "shortest interval"),
    ({"condition": "shiny"}, "condition", "condition"),
    ({"alert_mode": "loud"}, "alert_mode", "instant, digest or off"),
    ({"name": ""}, "name", "name"),
    ({"name": "tab\x00name"}, "name", "plain characters"),
    ({"options": {"ebay": {"url": URL}}}, "options", "does not use"),
    ({"options": {"jsonld": {"url": "ftp://x"}}}, "options", "http"),
]


async def test_bad_input_is_refused_with_a_message(client: Client, services: Services) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    failures = []
    for overrides, field, words in BAD_INPUT:
        response = await client.post("/api/v1/market/searches", json=search_body(URL, **overrides))
        detail = response.json().get("detail") or {}
        if response.status_code != 422 or field not in detail or words.lower() not in detail[field].lower():
            failures.append(f"{overrides}: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures)
    assert (await client.get("/api/v1/market/searches")).json()["total"] == 0


async def test_wrong_types_are_a_400_not_a_500(client: Client, services: Services) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    response = await client.post("/api/v1/market/searches", json=search_body(URL, marketplaces="jsonld", extra=1))
    assert response.status_code == 400
    assert response.json()["error"]


async def test_quota_and_minimum_interval_come_from_the_settings(client: Client, services: Services) -> None:
    services.settings.market_max_searches_per_user = 2
    services.settings.market_min_interval_seconds = 900
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    too_often = await client.post("/api/v1/market/searches", json=search_body(URL, interval_seconds=600))
    assert too_often.status_code == 422 and "900 seconds" in too_often.json()["detail"]["interval_seconds"]
    for number in range(2):
        ok = await client.post(
            "/api/v1/market/searches", json=search_body(URL, name=f"s{number}", interval_seconds=900)
        )
        assert ok.status_code == 201
    refused = await client.post("/api/v1/market/searches", json=search_body(URL, interval_seconds=900))
    assert refused.status_code == 409
    assert "most your account allows (2)" in refused.json()["error"]


async def test_start_stop_all_and_run_now(client: Client, services: Services) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    ids = [
        (await client.post("/api/v1/market/searches", json=search_body(URL, name=f"s{n}"))).json()["id"]
        for n in range(3)
    ]
    stopped = await client.post(f"/api/v1/market/searches/{ids[0]}/stop")
    assert stopped.status_code == 200 and stopped.json()["enabled"] is False
    assert stopped.json()["next_run_at"] is None
    schedule = await schedule_of(services, ids[0])
    assert schedule is not None and not schedule.enabled

    assert (await client.post("/api/v1/market/searches/stop-all")).json() == {"changed": 2}
    for search_id in ids:
        schedule = await schedule_of(services, search_id)
        assert schedule is not None and not schedule.enabled
    assert (await client.post("/api/v1/market/searches/start-all")).json() == {"changed": 3}
    started = await client.get(f"/api/v1/market/searches/{ids[1]}")
    assert started.json()["enabled"] is True and started.json()["next_run_at"] is not None

    run = await client.post(f"/api/v1/market/searches/{ids[2]}/run")
    assert run.status_code == 202, run.text
    async with services.db.session() as session:
        queued = await session.get(Run, run.json()["run_id"])
        assert queued is not None and queued.kind == SEARCH_KIND and queued.subject_id == ids[2]
        assert queued.user_id == alice.id
    again = await client.post(f"/api/v1/market/searches/{ids[2]}/run")
    assert again.status_code == 409 and "already queued or running" in again.json()["error"]
