"""Browser-like helpers for the test client: CSRF-protected form posts and signing in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from spyglass.core.csrf import CSRF_COOKIE, CSRF_HEADER

Client = AsyncTestClient[Litestar]


async def csrf_token(client: Client) -> str:
    """The CSRF token of this client, fetching a page first when it has none yet. A client that
    authenticates with a bearer token needs none (the app skips CSRF for it): the token is empty."""
    if client.headers.get("authorization", "").lower().startswith("bearer "):
        return client.cookies.get(CSRF_COOKIE) or ""
    token = client.cookies.get(CSRF_COOKIE)
    if not token:
        await client.get("/")  # a matched, non-excluded route (middleware does not run for unmatched 404s)
        token = client.cookies.get(CSRF_COOKIE)
    assert token, "the app did not set a CSRF cookie"
    return token


async def post_form(client: Client, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
    """POST a form the way the browser does, with the hidden CSRF field."""
    form = {**(data or {}), "_csrf_token": await csrf_token(client)}
    return await client.post(url, data=form, **kwargs)


async def send_json(client: Client, method: str, url: str, json: Any = None, **kwargs: Any) -> httpx.Response:
    """A cookie-authenticated JSON request with the CSRF header (as htmx or fetch would send it)."""
    headers = {CSRF_HEADER: await csrf_token(client), **kwargs.pop("headers", {})}
    return await client.request(method, url, json=json, headers=headers, **kwargs)


async def login(client: Client, login: str, password: str) -> httpx.Response:
    """Sign in through the login form; asserts it succeeded (303 redirect)."""
    response = await post_form(client, "/login", {"login": login, "password": password}, follow_redirects=False)
    assert response.status_code == 303, f"login failed: {response.status_code} {response.text[:300]}"
    return response


async def signed_in_client(app: Litestar, user: Any) -> AsyncIterator[Client]:
    """A client of its own for ``app``, signed in as ``user`` (with the default test password); for fixtures
    that need several users signed in at once: ``async for c in signed_in_client(app, alice): yield c``."""
    from tests.conftest import BASE_URL
    from tests.support.client import app_client
    from tests.support.factories import DEFAULT_PASSWORD

    async with app_client(app, base_url=BASE_URL, lifespan=False, follow_redirects=False) as raw:
        await login(raw, user.username, DEFAULT_PASSWORD)
        yield raw
