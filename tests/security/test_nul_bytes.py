"""A NUL byte in a filter must answer a clear 4xx or an empty result. PostgreSQL refuses NUL in text
parameters (asyncpg raises), so a value that reaches SQL unchecked is a 500 there (SQLite accepts it)."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from spyglass.core.services import Services
from tests.scanner.helpers import make_scan, make_target
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.web import login

Client = AsyncTestClient[Litestar]


@pytest.mark.parametrize("url", ["/api/v1/market/listings", "/market/listings", "/market/listings/export.csv"])
async def test_a_nul_byte_in_the_marketplace_filter_is_not_a_500(client: Client, services: Services, url: str) -> None:
    user = await create_user(services)
    await login(client, user.username, DEFAULT_PASSWORD)

    response = await client.get(url, params={"marketplace": "ebay\x00"})

    assert 400 <= response.status_code < 500, response.text[-300:]


async def test_a_nul_byte_in_the_scan_page_check_filter_is_not_a_500(client: Client, services: Services) -> None:
    user = await create_user(services)
    await login(client, user.username, DEFAULT_PASSWORD)
    scan_id = await make_scan(services, user, await make_target(services, user, "http://127.0.0.1:9/"))

    page = await client.get(f"/scanner/scans/{scan_id}", params={"check": "a\x00b"})
    api = await client.get(f"/api/v1/scanner/scans/{scan_id}/findings", params={"check": "a\x00b"})

    assert 400 <= api.status_code < 500, api.text[-300:]
    assert 400 <= page.status_code < 500, page.text[-300:]


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("/api/v1/market/listings", "search"),
        ("/api/v1/market/listings", "status"),
        ("/api/v1/feedback", "status"),
        ("/api/v1/scanner/scans/{scan}/findings", "severity"),
    ],
)
async def test_other_filters_take_a_nul_byte_without_a_500(
    client: Client, services: Services, url: str, key: str
) -> None:
    user = await create_user(services)
    await login(client, user.username, DEFAULT_PASSWORD)
    scan_id = await make_scan(services, user, await make_target(services, user, "http://127.0.0.1:9/"))

    response = await client.get(url.format(scan=scan_id), params={key: "a\x00b"})

    assert response.status_code < 500, response.text[-300:]
