"""Per-user market quotas: an admin sets a user's maximum saved searches and shortest interval (user page
form with CSRF, or the admin API), the change is audited, and creating searches obeys it at once; nobody
else can set them."""

from __future__ import annotations

from typing import Any

from spyglass.accounts.models import User
from spyglass.audit.service import AuditAction
from spyglass.core.services import Services
from tests.admin.conftest import Client, audit_rows, bearer, issue_token, sign_in
from tests.support.web import post_form

URL = "https://shop.example/bikes"


def _search(name: str, interval: int = 3600) -> dict[str, Any]:
    return {
        "name": name,
        "marketplaces": ["jsonld"],
        "keywords": "bike",
        "options": {"jsonld": {"url": URL}},
        "interval_seconds": interval,
    }


async def _create(client: Client, token: str, name: str, interval: int = 3600) -> Any:
    return await client.post("/api/v1/market/searches", json=_search(name, interval), headers=bearer(token))


async def test_admin_raises_and_lowers_a_users_search_quota_from_the_user_page(
    admin_client: Client, services: Services, admin: User, member: User
) -> None:
    services.settings.market_max_searches_per_user = 1
    token = await issue_token(services, member)
    assert (await _create(admin_client, token, "first")).status_code == 201
    refused = await _create(admin_client, token, "second")
    assert refused.status_code == 409 and "most your account allows (1)" in refused.json()["error"]

    page = await admin_client.get(f"/admin/users/{member.id}")
    assert 'action="/admin/users/' in page.text and 'name="max_searches"' in page.text and "_csrf_token" in page.text

    saved = await post_form(admin_client, f"/admin/users/{member.id}/market-quotas", {"max_searches": "3"})
    assert saved.status_code == 303 and saved.headers["location"] == f"/admin/users/{member.id}"
    shown = await admin_client.get(saved.headers["location"])
    assert "The market quotas of alice are saved." in shown.text and 'value="3"' in shown.text
    for name in ("second", "third"):
        assert (await _create(admin_client, token, name)).status_code == 201
    fourth = await _create(admin_client, token, "fourth")
    assert fourth.status_code == 409 and "most your account allows (3)" in fourth.json()["error"]

    [event] = await audit_rows(services, AuditAction.ADMIN_MARKET_QUOTAS_CHANGED)
    assert (event.actor_id, event.user_id) == (admin.id, member.id)
    assert event.details["old"] == {"max_searches": None, "min_interval_seconds": None}
    assert event.details["new"] == {"max_searches": 3, "min_interval_seconds": None}

    # Back to the global setting (empty field): three searches already, one allowed, so none more.
    cleared = await post_form(admin_client, f"/admin/users/{member.id}/market-quotas", {"max_searches": ""})
    assert cleared.status_code == 303
    again = await _create(admin_client, token, "fifth")
    assert again.status_code == 409 and "(1)" in again.json()["error"]
    assert len(await audit_rows(services, AuditAction.ADMIN_MARKET_QUOTAS_CHANGED)) == 2


async def test_a_zero_quota_stops_new_searches_and_only_that_user_is_affected(
    admin_client: Client, services: Services, admin: User, member: User
) -> None:
    services.settings.market_max_searches_per_user = 5
    admin_token = await issue_token(services, admin)
    response = await admin_client.put(
        f"/api/v1/admin/users/{member.id}/market-quotas", json={"max_searches": 0}, headers=bearer(admin_token)
    )
    assert response.status_code == 200
    assert response.json() == {
        "max_searches": 0,
        "min_interval_seconds": services.settings.market_min_interval_seconds,
        "override": {"max_searches": 0, "min_interval_seconds": None},
    }
    member_token = await issue_token(services, member)
    refused = await _create(admin_client, member_token, "none allowed")
    assert refused.status_code == 409 and "most your account allows (0)" in refused.json()["error"]
    assert (await _create(admin_client, admin_token, "the admin's own")).status_code == 201


async def test_minimum_interval_override_lowers_and_raises_the_floor(
    admin_client: Client, services: Services, member: User, admin: User
) -> None:
    services.settings.market_min_interval_seconds = 3600
    admin_token = await issue_token(services, admin)
    member_token = await issue_token(services, member)
    too_often = await _create(admin_client, member_token, "hourly is the least", interval=600)
    assert too_often.status_code == 422 and "3600 seconds" in too_often.json()["detail"]["interval_seconds"]

    lower = await admin_client.put(
        f"/api/v1/admin/users/{member.id}/market-quotas",
        json={"min_interval_seconds": 300},
        headers=bearer(admin_token),
    )
    assert lower.status_code == 200 and lower.json()["min_interval_seconds"] == 300
    created = await _create(admin_client, member_token, "every ten minutes", interval=600)
    assert created.status_code == 201
    # The jsonld adapter's own politeness (300 s) still applies below the user's minimum.
    assert (await _create(admin_client, member_token, "too fast", interval=120)).status_code == 422

    higher = await admin_client.put(
        f"/api/v1/admin/users/{member.id}/market-quotas",
        json={"min_interval_seconds": 7200},
        headers=bearer(admin_token),
    )
    assert higher.status_code == 200
    search_id = created.json()["id"]
    edited = await admin_client.put(
        f"/api/v1/market/searches/{search_id}", json=_search("still often", 3600), headers=bearer(member_token)
    )
    assert edited.status_code == 422 and "7200 seconds" in edited.json()["detail"]["interval_seconds"]
    got = await admin_client.get(f"/api/v1/admin/users/{member.id}/market-quotas", headers=bearer(admin_token))
    assert got.json()["override"] == {"max_searches": None, "min_interval_seconds": 7200}
    assert len(await audit_rows(services, AuditAction.ADMIN_MARKET_QUOTAS_CHANGED)) == 2


async def test_bad_quota_values_are_refused_with_a_message(
    admin_client: Client, services: Services, admin: User, member: User
) -> None:
    admin_token = await issue_token(services, admin)
    url = f"/api/v1/admin/users/{member.id}/market-quotas"
    for body in ({"max_searches": -1}, {"max_searches": "many"}, {"min_interval_seconds": 0}, {"other": 1},
                 {"max_searches": True}, {"max_searches": 10_001}):  # fmt: skip
        response = await admin_client.put(url, json=body, headers=bearer(admin_token))
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]
    form = await post_form(admin_client, f"/admin/users/{member.id}/market-quotas", {"max_searches": "lots"})
    assert form.status_code == 303
    page = await admin_client.get(form.headers["location"])
    assert "Enter a whole number" in page.text
    missing = await admin_client.put(
        "/api/v1/admin/users/999999/market-quotas", json={"max_searches": 3}, headers=bearer(admin_token)
    )
    assert missing.status_code == 404
    assert await audit_rows(services, AuditAction.ADMIN_MARKET_QUOTAS_CHANGED) == []


async def test_non_admins_cannot_see_or_set_quotas(
    client: Client, other_client: Client, services: Services, member: User
) -> None:
    token = await issue_token(services, member)
    url = f"/api/v1/admin/users/{member.id}/market-quotas"
    assert (await client.put(url, json={"max_searches": 100}, headers=bearer(token))).status_code == 404
    assert (await client.get(url, headers=bearer(token))).status_code == 404
    assert (await client.put(url, json={"max_searches": 100})).status_code in {401, 403, 404}
    await sign_in(other_client, member)
    form = await post_form(other_client, f"/admin/users/{member.id}/market-quotas", {"max_searches": "100"})
    assert form.status_code == 404
    assert await audit_rows(services, AuditAction.ADMIN_MARKET_QUOTAS_CHANGED) == []
    services.settings.market_max_searches_per_user = 0
    refused = await _create(client, token, "still none")
    assert refused.status_code == 409
