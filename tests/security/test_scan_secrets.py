"""Scan login secrets (header value, form password) must never be shown back, including inside the
request excerpts that findings keep as evidence. A real passive scan runs on the embedded engine
against a local site that produces findings on every page."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from spyglass.config import Settings
from spyglass.core.services import Services
from spyglass.engine.engine import Engine
from spyglass.engine.models import Run
from spyglass.scanner.models import Scan
from tests.scanner.helpers import bearer, make_target, scanner_settings
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
    started = Engine(services, mode="embedded", concurrency=4)
    await started.start()
    try:
        yield started
    finally:
        await started.stop(grace_seconds=1)


async def _finished(services: Services, scan_id: int, timeout: float = 30.0) -> Scan:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with services.db.session() as session:
            scan = await session.get(Scan, scan_id)
            assert scan is not None
            run = await session.get(Run, scan.run_id) if scan.run_id else None
            if scan.status in ("succeeded", "failed", "cancelled") and (run is None or run.status != "running"):
                return scan
        await asyncio.sleep(0.1)
    raise AssertionError(f"scan {scan_id} did not finish")


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
    scan = await _finished(services, launched.json()["id"])
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
    scan = await _finished(services, launched.json()["id"])
    assert scan.status == "succeeded", scan.error

    shown = await _everything_shown(client, scan.id)

    assert SECRET not in shown
    target = await client.get(f"/api/v1/scanner/targets/{target_id}")
    assert SECRET not in target.text
