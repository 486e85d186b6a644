"""An active scan of the deliberately vulnerable test app, end to end: launched over the API on a target
the operator vouches for, run by the embedded engine with the default checks and the SSRF callback
listener, persisted by the job kind. The stored findings are exactly the app's ground truth."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from spyglass.config import Settings
from spyglass.core.services import Services
from spyglass.engine.engine import Engine
from spyglass.scanner.models import Finding, Scan
from tests.scanner.apps.vulnerable import EXPECTED_FINDINGS, VulnerableApp
from tests.scanner.helpers import bearer, embedded_engine, make_target, scanner_settings
from tests.support.factories import create_user

Client = AsyncTestClient[Litestar]
pytestmark = pytest.mark.slow


@pytest.fixture
def app_under_test(tmp_path: Path) -> Iterator[VulnerableApp]:
    app = VulnerableApp(tmp_path)
    with app:
        yield app


@pytest.fixture
def settings(tmp_path: Path, database_url: str, db_backend: str) -> Settings:
    if db_backend != "sqlite":
        pytest.skip("25 s of scanning; storing findings on PostgreSQL is covered by test_scans.py")
    return scanner_settings(
        tmp_path, database_url, verified_targets="127.0.0.1/32", scanner_callback_enabled=True, http_timeout_seconds=10
    )


@pytest.fixture
async def engine(services: Services) -> AsyncIterator[Engine]:
    async with embedded_engine(services) as started:
        yield started


async def test_active_scan_stores_exactly_the_ground_truth(
    client: Client, services: Services, engine: Engine, app_under_test: VulnerableApp
) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    target_id = await make_target(
        services,
        alice,
        app_under_test.url("/"),
        max_pages=200,
        max_requests=20_000,
        requests_per_second=2000,
        time_limit_seconds=300,
    )
    launched = await client.post(f"/api/v1/scanner/targets/{target_id}/scans", json={"profile": "active"})
    assert launched.status_code == 202, launched.text
    scan_id = launched.json()["id"]
    deadline = time.monotonic() + 240
    while True:
        async with services.db.session() as session:
            scan = await session.get(Scan, scan_id)
            assert scan is not None
        if scan.status not in ("queued", "running"):
            break
        assert time.monotonic() < deadline, "the scan did not finish in time"
        await asyncio.sleep(0.5)
    assert scan.status == "succeeded", scan.error
    assert scan.stopped_reason is None
    async with services.db.session() as session:
        rows = (await session.scalars(select(Finding).where(Finding.scan_id == scan_id))).all()
    stored = sorted((f.type_id, urlsplit(f.url).path or "/", f.parameter, f.confidence) for f in rows)
    expected = sorted((e.type_id, e.path, e.parameter, e.confidence) for e in EXPECTED_FINDINGS)
    assert stored == expected
    assert scan.findings_count == len(expected) and scan.risk_score == 100
    critical = [f for f in rows if f.severity == "critical"]
    assert critical and all(f.threat_class in ("Critical", "High") for f in critical)
