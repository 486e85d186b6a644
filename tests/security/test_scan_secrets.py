"""Scan login secrets (header value, form password) must never be shown back, including inside the
request excerpts that findings keep as evidence. A real passive scan runs on the embedded engine
against a local site that produces findings on every page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from spyglass.config import Settings
from spyglass.core.services import Services
from spyglass.engine.engine import Engine
from tests.scanner.helpers import bearer, embedded_engine, make_target, scanner_settings, wait_for_scan
from tests.support.factories import create_user
from tests.support.http_server import LocalHttpServer, Reply, ServerRequest

Client = AsyncTestClient[Litestar]

SECRET = "s3cr3t-session-value-7f1c2a"
PASSWORD = "hunter2-form-password-9d3e"
HOME = b"""<!doctype html><html><head><title>Shop</title></head><body>
<a href="/about">About</a><form action="/login" method="post"><input name="user"><input type="password" name="pw">
</form></body></html>"""


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return scanner_settings(tmp_path, database_url)


@pytest.fixture
def site() -> Iterator[LocalHttpServer]:
    with LocalHttpServer() as server:

        async def page(_: ServerRequest) -> Reply:
            # No security headers and a version banner: the passive checks report findings here.
            return Reply(200, HOME, {"content-type": "text/html; charset=utf-8", "server": "Apache/2.4.1"})

        for path in ("/", "/about", "/login"):
            server.route(path, page)
        yield server


@pytest.fixture
async def engine(services: Services) -> AsyncIterator[Engine]:
    async with embedded_engine(services) as started:
        yield started


async def _everything_shown(client: Client, scan_id: int) -> str:
    """Every finding of the scan as the API and the pages show it, concatenated."""
    listed = await client.get(f"/api/v1/scanner/scans/{scan_id}/findings", params={"size": 100})
    assert listed.status_code == 200, listed.text
    ids = [item["id"] for item in listed.json()["items"]]
    assert ids, "the local site should have produced findings"
    shown = [listed.text]
    for finding_id in ids:
        one = await client.get(f"/api/v1/scanner/findings/{finding_id}")
        assert one.status_code == 200
        shown.append(one.text)
    return "\n".join(shown)


@pytest.mark.slow
async def test_a_custom_auth_header_value_never_appears_in_findings(
    client: Client, services: Services, engine: Engine, site: LocalHttpServer
) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    auth = {"kind": "header", "header_name": "X-Session-Token", "header_value": SECRET}
    target_id = await make_target(services, alice, site.url("/"), auth=auth)

    launched = await client.post(f"/api/v1/scanner/targets/{target_id}/scans", json={"profile": "passive"})
    assert launched.status_code == 202, launched.text
    scan = await wait_for_scan(services, launched.json()["id"])
    assert scan.status == "succeeded", scan.error
    assert any(SECRET in str(request.headers) for request in site.requests), "the scan did not send the header"

    shown = await _everything_shown(client, scan.id)

    assert SECRET not in shown


@pytest.mark.slow
async def test_a_standard_secret_header_is_redacted_in_findings(
    client: Client, services: Services, engine: Engine, site: LocalHttpServer
) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    auth = {"kind": "header", "header_name": "Authorization", "header_value": f"Bearer {SECRET}"}
    target_id = await make_target(services, alice, site.url("/"), auth=auth)

    launched = await client.post(f"/api/v1/scanner/targets/{target_id}/scans", json={"profile": "passive"})
    assert launched.status_code == 202, launched.text
    scan = await wait_for_scan(services, launched.json()["id"])
    assert scan.status == "succeeded", scan.error

    shown = await _everything_shown(client, scan.id)

    assert SECRET not in shown
    target = await client.get(f"/api/v1/scanner/targets/{target_id}")
    assert SECRET not in target.text
