"""Personal API tokens through the JSON API: bearer authentication, shown once, stored hashed,
revocation and expiry effective on the very next request, CSRF only for cookie callers."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime, timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text, update

from spyglass.accounts.auth import forget_user
from spyglass.accounts.models import ApiToken, User
from spyglass.audit.models import AuditEvent
from spyglass.audit.service import AuditAction
from spyglass.core.db import utcnow
from spyglass.core.services import Services
from tests.api.helpers import bearer, issue_token, sign_in
from tests.support.factories import create_user
from tests.support.web import send_json

Client = AsyncTestClient[Litestar]


async def test_token_is_shown_once_stored_hashed_and_authenticates(client: Client, services: Services) -> None:
    user = await create_user(services)
    bootstrap, _ = await issue_token(services, user)

    created = await client.post(
        "/api/v1/tokens", json={"name": "  backup script  ", "expires_in_days": 30}, headers=bearer(bootstrap)
    )

    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    body = created.json()
    secret = body["token"]
    assert secret.startswith("sg_") and len(secret) >= 40
    assert body["name"] == "backup script"
    assert body["prefix"] == secret[:10]
    assert body["status"] == "active" and body["revoked_at"] is None and body["last_used_at"] is None
    assert timedelta(days=29, hours=23) < _parse(body["expires_at"]) - _parse(body["created_at"]) <= timedelta(days=30)

    me = await client.get("/api/v1/tokens", headers=bearer(secret))
    assert me.status_code == 200
    listed = {item["id"]: item for item in me.json()["items"]}
    assert body["id"] in listed and "token" not in listed[body["id"]]
    assert secret not in me.text

    async with services.db.session() as session:
        row = await session.get(ApiToken, body["id"])
        assert row is not None and row.user_id == user.id
        assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == AuditAction.TOKEN_CREATED))
        assert event is not None and event.user_id == user.id
        assert event.details["name"] == "backup script" and event.details["prefix"] == secret[:10]
    await _assert_secret_nowhere_in_database(services, secret)


async def test_last_used_is_recorded_when_a_token_is_used(client: Client, services: Services) -> None:
    user = await create_user(services)
    secret, token_id = await issue_token(services, user)
    before = utcnow()

    response = await client.get("/api/v1/tokens", headers=bearer(secret))

    assert response.status_code == 200
    async with services.db.session() as session:
        row = await session.get(ApiToken, token_id)
        assert row is not None and row.last_used_at is not None and row.last_used_at >= before - timedelta(seconds=1)
    listed = (await client.get("/api/v1/tokens", headers=bearer(secret))).json()["items"]
    assert listed[0]["last_used_at"] is not None


async def test_revoked_token_is_refused_on_the_next_request(client: Client, services: Services) -> None:
    user = await create_user(services)
    keeper, _ = await issue_token(services, user, name="keeper")
    doomed, doomed_id = await issue_token(services, user, name="doomed")
    assert (await client.get("/api/v1/tokens", headers=bearer(doomed))).status_code == 200  # now cached

    revoked = await client.delete(f"/api/v1/tokens/{doomed_id}", headers=bearer(keeper))

    assert revoked.status_code == 204
    refused = await client.get("/api/v1/tokens", headers=bearer(doomed))
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/json")
    assert set(refused.json()) == {"error", "detail"}
    items = {i["id"]: i for i in (await client.get("/api/v1/tokens", headers=bearer(keeper))).json()["items"]}
    assert items[doomed_id]["status"] == "revoked" and items[doomed_id]["revoked_at"] is not None
    again = await client.delete(f"/api/v1/tokens/{doomed_id}", headers=bearer(keeper))
    assert again.status_code == 204  # revoking twice is harmless and audited once
    async with services.db.session() as session:
        events = (await session.scalars(select(AuditEvent).where(AuditEvent.action == AuditAction.TOKEN_REVOKED))).all()
    assert [e.details["name"] for e in events] == ["doomed"]


async def test_a_token_can_revoke_itself(client: Client, services: Services) -> None:
    user = await create_user(services)
    secret, token_id = await issue_token(services, user)

    assert (await client.delete(f"/api/v1/tokens/{token_id}", headers=bearer(secret))).status_code == 204
    assert (await client.get("/api/v1/tokens", headers=bearer(secret))).status_code == 401


async def test_expired_token_is_refused_once_its_time_passes(client: Client, services: Services) -> None:
    user = await create_user(services)
    secret, _ = await issue_token(services, user, expires_at=utcnow() + timedelta(seconds=1.5))
    assert (await client.get("/api/v1/tokens", headers=bearer(secret))).status_code == 200

    await asyncio.sleep(1.6)

    refused = await client.get("/api/v1/tokens", headers=bearer(secret))
    assert refused.status_code == 401
    assert refused.json()["error"]


async def test_deactivated_users_token_is_refused_at_once(client: Client, services: Services) -> None:
    user = await create_user(services)
    secret, _ = await issue_token(services, user)
    assert (await client.get("/api/v1/tokens", headers=bearer(secret))).status_code == 200

    async with services.db.session(write=True) as session:
        await session.execute(update(User).where(User.id == user.id).values(is_active=False))
    await forget_user(services, user.id)

    assert (await client.get("/api/v1/tokens", headers=bearer(secret))).status_code == 401


async def test_invalid_bearer_is_not_rescued_by_a_session_cookie(client: Client, services: Services) -> None:
    user = await create_user(services)
    await sign_in(client, user)
    assert (await client.get("/api/v1/tokens")).status_code == 200  # the session alone works

    for header in ("Bearer sg_not-a-real-token", "Bearer ", "Bearer garbage", "Basic dXNlcjpwYXNz"):
        response = await client.get("/api/v1/tokens", headers={"Authorization": header})
        assert response.status_code == 401, header
    revoked, _ = await issue_token(services, user, revoked_at=utcnow())
    assert (await client.get("/api/v1/tokens", headers=bearer(revoked))).status_code == 401


async def test_bearer_requests_skip_csrf_but_cookie_requests_need_it(client: Client, services: Services) -> None:
    user = await create_user(services)
    secret, _ = await issue_token(services, user)

    by_token = await client.post("/api/v1/tokens", json={"name": "from a script"}, headers=bearer(secret))
    assert by_token.status_code == 201, by_token.text

    await sign_in(client, user)
    without_csrf = await client.post("/api/v1/tokens", json={"name": "forged"})
    assert without_csrf.status_code == 403
    assert without_csrf.json()["error"]
    wrong_csrf = await client.post("/api/v1/tokens", json={"name": "forged"}, headers={"x-csrf-token": "nope"})
    assert wrong_csrf.status_code == 403
    with_csrf = await send_json(client, "POST", "/api/v1/tokens", {"name": "from the browser"})
    assert with_csrf.status_code == 201, with_csrf.text

    names = [i["name"] for i in (await client.get("/api/v1/tokens")).json()["items"]]
    assert "forged" not in names and {"from a script", "from the browser"} <= set(names)


async def test_new_token_fields_are_validated(client: Client, services: Services) -> None:
    user = await create_user(services)
    secret, _ = await issue_token(services, user)
    cases = [
        ({"name": "   "}, 422, "name"),
        ({"name": ""}, 400, "name"),
        ({"name": "x" * 81}, 400, "name"),
        ({"name": 12}, 400, "name"),
        ({}, 400, "name"),
        ({"name": "ok", "expires_in_days": 0}, 400, "expires_in_days"),
        ({"name": "ok", "expires_in_days": 366}, 400, "expires_in_days"),
        ({"name": "ok", "expires_in_days": "ten"}, 400, "expires_in_days"),
        ({"name": "ok", "expires_in_days": 1.5}, 400, "expires_in_days"),
    ]
    for payload, status, field in cases:
        response = await client.post("/api/v1/tokens", json=payload, headers=bearer(secret))
        assert response.status_code == status, (payload, response.text)
        body = response.json()
        assert body["error"] and field in body["detail"], (payload, body)
    items = (await client.get("/api/v1/tokens", headers=bearer(secret))).json()["items"]
    assert len(items) == 1  # nothing was created
    longest = await client.post(
        "/api/v1/tokens", json={"name": "y" * 80, "expires_in_days": 365}, headers=bearer(secret)
    )
    assert longest.status_code == 201


async def test_usable_tokens_are_capped(client: Client, services: Services) -> None:
    user = await create_user(services)
    secret, first_id = await issue_token(services, user)
    for number in range(48):
        await issue_token(services, user, name=f"bulk {number}")
    await issue_token(services, user, name="old", expires_at=utcnow() - timedelta(days=1))  # does not count
    await issue_token(services, user, name="gone", revoked_at=utcnow())  # does not count
    assert (await client.post("/api/v1/tokens", json={"name": "fiftieth"}, headers=bearer(secret))).status_code == 201

    refused = await client.post("/api/v1/tokens", json={"name": "fifty-first"}, headers=bearer(secret))

    assert refused.status_code == 409
    assert "50" in refused.json()["error"] and "Revoke" in refused.json()["error"]
    bulk_id = first_id + 1
    assert (await client.delete(f"/api/v1/tokens/{bulk_id}", headers=bearer(secret))).status_code == 204
    replacement = await client.post("/api/v1/tokens", json={"name": "replacement"}, headers=bearer(secret))
    assert replacement.status_code == 201


async def test_token_list_is_paginated_with_a_capped_size(client: Client, services: Services) -> None:
    user = await create_user(services)
    secret, _ = await issue_token(services, user, name="token 0")
    for number in range(1, 7):
        await issue_token(services, user, name=f"token {number}")

    first = (await client.get("/api/v1/tokens", params={"size": 3}, headers=bearer(secret))).json()
    third = (await client.get("/api/v1/tokens", params={"size": 3, "page": 3}, headers=bearer(secret))).json()
    huge = (await client.get("/api/v1/tokens", params={"size": 1000}, headers=bearer(secret))).json()

    assert (first["total"], first["pages"], first["size"]) == (7, 3, 3)
    assert [i["name"] for i in first["items"]] == ["token 6", "token 5", "token 4"]
    assert [i["name"] for i in third["items"]] == ["token 0"]
    assert huge["size"] == services.settings.max_page_size and len(huge["items"]) == 7
    bad = await client.get("/api/v1/tokens", params={"page": 0}, headers=bearer(secret))
    assert bad.status_code == 400 and "page" in bad.json()["detail"]


async def test_unknown_token_ids_answer_404(client: Client, services: Services) -> None:
    user = await create_user(services)
    secret, _ = await issue_token(services, user)
    for token_id in ("999999", str(2**63 - 1)):
        response = await client.delete(f"/api/v1/tokens/{token_id}", headers=bearer(secret))
        assert response.status_code == 404, response.text
    for token_id in ("0", str(2**63), str(10**30), "abc"):
        response = await client.delete(f"/api/v1/tokens/{token_id}", headers=bearer(secret))
        assert response.status_code in (400, 404), (token_id, response.text)


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def _assert_secret_nowhere_in_database(services: Services, secret: str) -> None:
    """No table holds the token in plain text (the audit log included)."""
    async with services.db.session() as session:
        for table in ("api_tokens", "audit_events", "users"):
            rows = (await session.execute(text(f"SELECT * FROM {table}"))).all()  # noqa: S608 - fixed names
            assert rows or table != "api_tokens"
            assert all(secret not in str(row) for row in rows), table
            assert all(secret[3:] not in str(row) for row in rows), table
