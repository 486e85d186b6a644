"""The /account/tokens pages: list and create form, the token shown once, revoke, form errors."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from spyglass.accounts.models import ApiToken
from spyglass.core.services import Services
from tests.api.helpers import bearer, issue_token, sign_in
from tests.support.factories import create_user
from tests.support.web import post_form

Client = AsyncTestClient[Litestar]
TOKEN_IN_PAGE = re.compile(r'value="(sg_[A-Za-z0-9_-]{40,})"')


async def test_create_a_token_in_the_browser_and_see_it_once(client: Client, services: Services) -> None:
    user = await create_user(services)
    await sign_in(client, user)

    page = await client.get("/account/tokens")
    assert page.status_code == 200
    assert 'name="_csrf_token"' in page.text and 'action="/account/tokens"' in page.text
    assert "You have no API tokens yet." in page.text

    created = await post_form(client, "/account/tokens", {"name": "laptop", "expires_in_days": "7"})

    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    found = TOKEN_IN_PAGE.search(created.text)
    assert found, created.text
    secret = found.group(1)
    assert "Copy this token now" in created.text and 'data-copy-target="#new-token"' in created.text
    assert (await client.get("/api/v1/tokens", headers=bearer(secret))).status_code == 200

    listing = await client.get("/account/tokens")
    assert secret not in listing.text
    assert "laptop" in listing.text and f"{secret[:10]}…" in listing.text
    assert 'data-status="active"' in listing.text


async def test_revoke_from_the_list(client: Client, services: Services) -> None:
    user = await create_user(services)
    secret, token_id = await issue_token(services, user, name="old script")
    await sign_in(client, user)

    response = await post_form(client, f"/account/tokens/{token_id}/revoke", follow_redirects=False)

    assert response.status_code == 303 and response.headers["location"] == "/account/tokens"
    listing = await client.get("/account/tokens")
    assert "is revoked" in listing.text
    assert f'id="token-{token_id}" data-status="revoked"' in listing.text
    assert f"/account/tokens/{token_id}/revoke" not in listing.text
    assert (await client.get("/api/v1/tokens", headers=bearer(secret))).status_code == 401


async def test_form_errors_are_shown_next_to_the_fields(client: Client, services: Services) -> None:
    user = await create_user(services)
    await sign_in(client, user)

    response = await post_form(client, "/account/tokens", {"name": "   ", "expires_in_days": "400"})

    assert response.status_code == 422
    text = response.text
    assert 'id="field-name"' in text and 'id="field-name-error"' in text
    assert re.search(r'id="field-name"[^>]*aria-invalid="true"', text)
    assert re.search(r'id="field-name"[^>]*aria-describedby="[^"]*field-name-error', text)
    assert re.search(r'id="field-expires_in_days"[^>]*aria-invalid="true"', text)
    assert 'value="400"' in text  # what the person typed is kept
    assert "Give the token a name" in text and "between 1 and 365 days" in text
    for days in ("abc", "-3", "1.5", "0"):
        bad = await post_form(client, "/account/tokens", {"name": "fine", "expires_in_days": days})
        assert bad.status_code == 422, days
        assert "field-expires_in_days-error" in bad.text
    long = await post_form(client, "/account/tokens", {"name": "n" * 81})
    assert long.status_code == 422 and "at most 80 characters" in long.text
    async with services.db.session() as session:
        assert (await session.scalars(select(ApiToken))).all() == []


async def test_pages_need_a_browser_session(client: Client, services: Services) -> None:
    user = await create_user(services)
    secret, token_id = await issue_token(services, user)
    client.follow_redirects = False

    anonymous = await client.get("/account/tokens")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=/account/tokens")
    by_token = await client.get("/account/tokens", headers=bearer(secret))
    assert by_token.status_code == 303  # an API token does not open the pages
    revoke = await client.post(f"/account/tokens/{token_id}/revoke", headers=bearer(secret))
    assert revoke.status_code == 303
    assert (await client.get("/api/v1/tokens", headers=bearer(secret))).status_code == 200


async def test_form_without_csrf_field_is_refused(client: Client, services: Services) -> None:
    user = await create_user(services)
    await sign_in(client, user)

    response = await client.post("/account/tokens", data={"name": "forged"})

    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    async with services.db.session() as session:
        assert (await session.scalars(select(ApiToken))).all() == []
