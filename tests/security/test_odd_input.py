"""Odd query values on the new features' lists must answer a clear 4xx (or a normal page), never a 500."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from spyglass.accounts.models import Role
from spyglass.core.services import Services
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.web import login

Client = AsyncTestClient[Litestar]
HUGE_PAGE = "99999999999999999999"  # past a 64-bit OFFSET


async def test_delivery_log_page_refuses_a_huge_page_number(client: Client, services: Services) -> None:
    user = await create_user(services)
    await login(client, user.username, DEFAULT_PASSWORD)

    response = await client.get("/notifications/deliveries", params={"page": HUGE_PAGE})

    assert response.status_code < 500, response.text[-300:]


async def test_delivery_log_api_refuses_a_huge_page_number(client: Client, services: Services) -> None:
    user = await create_user(services)
    await login(client, user.username, DEFAULT_PASSWORD)

    response = await client.get("/api/v1/notifications/deliveries", params={"page": HUGE_PAGE})

    assert response.status_code < 500, response.text[-300:]


async def test_admin_delivery_log_refuses_a_huge_page_number(client: Client, services: Services) -> None:
    admin = await create_user(services, role=Role.ADMIN)
    await login(client, admin.username, DEFAULT_PASSWORD)

    page = await client.get("/admin/notifications", params={"page": HUGE_PAGE})
    api = await client.get("/api/v1/admin/notifications/deliveries", params={"page": HUGE_PAGE})

    assert page.status_code < 500, page.text[-300:]
    assert api.status_code < 500, api.text[-300:]


@pytest.mark.parametrize(
    "url",
    [
        "/feedback",
        "/api/v1/feedback",
        "/scanner/targets",
        "/api/v1/scanner/targets",
        "/api/v1/scanner/scans",
        "/market/listings",
        "/api/v1/market/listings",
        "/api/v1/market/searches",
        "/api/v1/market/favorites",
    ],
)
async def test_other_lists_answer_a_huge_page_without_a_500(client: Client, services: Services, url: str) -> None:
    user = await create_user(services)
    await login(client, user.username, DEFAULT_PASSWORD)

    response = await client.get(url, params={"page": HUGE_PAGE})

    assert response.status_code < 500, response.text[-300:]
