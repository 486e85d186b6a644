"""Tenant isolation checks that every feature reuses: user B must not read or change user A's objects.

Typical use, with ``client`` signed in as B (session or bearer token) and ``owner`` signed in as A::

    await assert_isolated(
        client,
        [
            ("GET", f"/api/v1/searches/{search_id}", None),
            ("PATCH", f"/api/v1/searches/{search_id}", {"name": "mine now"}),
            ("POST", f"/searches/{search_id}/delete", {}),
        ],
        owner=owner,                       # optional: proves the GET URLs are real for A
        unchanged=check_search_untouched,  # optional: re-reads A's object afterwards
        secrets=["A's search name"],       # optional: must appear in no answer to B
    )

Requests to ``/api/...`` send ``body`` as JSON (with the CSRF header, so a cookie
client is not refused by CSRF before the ownership check); other unsafe requests
post ``body`` as a form with the CSRF field, the way the browser does. Every
request is made and every failure reported together.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from typing import Any

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.web import post_form, send_json

Client = AsyncTestClient[Litestar]
ForeignRequest = tuple[str, str, Any]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def send(client: Client, method: str, url: str, body: Any = None) -> httpx.Response:
    """Send one request the way the app's real callers do (JSON for the API, forms for pages)."""
    method = method.upper()
    if method in SAFE_METHODS:
        return await client.request(method, url, params=body)
    if url.startswith("/api/"):
        return await send_json(client, method, url, json=body)
    if method == "POST":
        return await post_form(client, url, body or {})
    return await send_json(client, method, url, json=body)


async def assert_isolated(
    client: Client,
    requests: Sequence[ForeignRequest],
    *,
    allowed: Collection[int] = (404,),
    owner: Client | None = None,
    unchanged: Callable[[], Awaitable[None]] | None = None,
    secrets: Iterable[str] = (),
) -> None:
    """Assert that each of ``requests`` (addressing another user's objects) answers a status in
    ``allowed`` and reveals none of ``secrets``; with ``owner``, that the same safe requests work
    for the owner; then run ``unchanged`` to re-check the owner's objects."""
    assert requests, "give at least one request to check"
    hidden = [value for value in secrets if value]
    failures: list[str] = []
    for method, url, body in requests:
        response = await send(client, method, url, body)
        where = f"{method} {url} -> {response.status_code}"
        if response.status_code not in allowed:
            failures.append(f"{where}, expected one of {sorted(allowed)}: {response.text[:200]!r}")
        failures.extend(f"{where} reveals {value!r}" for value in hidden if value in response.text)
        if owner is not None and method.upper() in SAFE_METHODS:
            control = await send(owner, method, url, body)
            if control.status_code >= 400:
                failures.append(f"{method} {url} fails for the owner too ({control.status_code}): not a real check")
    assert not failures, "tenant isolation broken:\n" + "\n".join(failures)
    if unchanged is not None:
        await unchanged()


async def assert_not_listed(client: Client, url: str, secrets: Iterable[str], *, params: Any = None) -> httpx.Response:
    """GET a listing as ``client`` and assert it succeeds without showing any of ``secrets``."""
    response = await client.get(url, params=params)
    assert response.status_code == 200, f"GET {url} -> {response.status_code}: {response.text[:200]!r}"
    leaked = [value for value in secrets if value and value in response.text]
    assert not leaked, f"GET {url} shows another user's data: {leaked}"
    return response
