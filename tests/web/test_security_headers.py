"""Security headers on every page: CSP without inline scripts, nosniff, frame-ancestors,
Referrer-Policy; HSTS only when Spyglass is served over HTTPS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from spyglass.app import create_app
from spyglass.core.services import Services
from tests.conftest import make_settings
from tests.support.client import app_client

PAGES = ["/", "/login", "/register", "/does-not-exist", "/static/css/spyglass.css", "/api/v1/does-not-exist"]


def csp_directives(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


@pytest.mark.parametrize("path", PAGES)
async def test_every_response_carries_the_security_headers(client: AsyncTestClient[Litestar], path: str) -> None:
    response = await client.get(path)

    csp = csp_directives(response.headers["content-security-policy"])
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    assert "'unsafe-eval'" not in response.headers["content-security-policy"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert response.headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in response.headers  # served over plain http


@pytest.fixture
async def https_client(tmp_path: Path, database_url: str) -> AsyncIterator[AsyncTestClient[Litestar]]:
    settings = make_settings(tmp_path, database_url, base_url="https://spyglass.example.org")
    services = Services.build(settings)
    async with app_client(create_app(settings, services=services), base_url="https://spyglass.example.org") as c:
        yield c


async def test_hsts_only_over_https(https_client: AsyncTestClient[Litestar]) -> None:
    response = await https_client.get("/")

    assert response.status_code == 200
    hsts = response.headers["strict-transport-security"]
    assert "max-age=63072000" in hsts
    assert "includeSubDomains" in hsts
    # and the session / CSRF cookies are Secure there
    assert all("secure" in cookie.lower() for cookie in response.headers.get_list("set-cookie"))
