"""Findings not seen again are fixed: a complete scan that looked for a finding and did not report it marks
it fixed (when, by which scan); its return is a regression. Scans that stopped early, were cancelled, ran
fewer checks or had a check fail fix nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from spyglass.accounts.models import User
from spyglass.config import Settings
from spyglass.core.services import Services
from spyglass.engine.engine import Engine
from spyglass.scanner import findings
from spyglass.scanner.contract import FindingCandidate
from spyglass.scanner.models import Finding, Scan, ScanTarget
from tests.scanner.helpers import bearer, embedded_engine, make_target, scanner_settings, wait_for_scan
from tests.support.factories import create_user
from tests.support.http_server import LocalHttpServer, Reply, ServerRequest

Client = AsyncTestClient[Litestar]
SITE = "http://127.0.0.1:1/"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return scanner_settings(tmp_path, database_url)


def candidate(type_id: str, url: str = SITE, **extra: object) -> FindingCandidate:
    return FindingCandidate(type_id=type_id, url=url, evidence="seen", **extra)  # type: ignore[arg-type]


async def scan_with(
    services: Services,
    user: User,
    target_id: int,
    found: list[FindingCandidate],
    *,
    profile: str = "passive",
    families: list[str] | None = None,
    status: str = "succeeded",
    stopped_reason: str | None = None,
    complete: bool = True,
) -> int:
    """A scan of ``target_id`` that reported ``found`` and ended as said (the handler's own calls)."""
    async with services.db.session(write=True) as session:
        scan = Scan(user_id=user.id, target_id=target_id, profile=profile, families=families or [], status="running")
        session.add(scan)
        await session.flush()
        for item in found:
            await findings.record_finding(session, scan=scan, candidate=item)
        target = await session.get(ScanTarget, target_id)
        assert target is not None
        await findings.complete_scan(
            session,
            scan=scan,
            target=target,
            status=status,
            stopped_reason=stopped_reason,
            high_risk_priority=100,
            notify_completion=False,
            complete=complete,
        )
        return scan.id


async def rows_of(services: Services, scan_id: int) -> dict[str, Finding]:
    async with services.db.session() as session:
        return {f.type_id: f for f in (await session.scalars(select(Finding).where(Finding.scan_id == scan_id))).all()}


async def test_a_finding_not_seen_again_is_fixed_and_its_return_is_a_regression(
    client: Client, services: Services
) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    target_id = await make_target(services, alice, SITE)
    first = await scan_with(services, alice, target_id, [candidate("csp-missing"), candidate("hsts-missing")])
    second = await scan_with(services, alice, target_id, [candidate("csp-missing")])

    gone = (await rows_of(services, first))["hsts-missing"]
    assert gone.status == "fixed" and gone.fixed_by_scan_id == second and gone.fixed_at is not None
    assert gone.fixed_at >= gone.first_seen_at
    still = (await rows_of(services, first))["csp-missing"]
    assert still.status == "open" and still.fixed_at is None

    scan_api = (await client.get(f"/api/v1/scanner/scans/{second}")).json()
    assert [(f["type_id"], f["status"], f["fixed_by_scan_id"]) for f in scan_api["fixed_findings"]] == [
        ("hsts-missing", "fixed", second)
    ]
    finding_api = (await client.get(f"/api/v1/scanner/findings/{gone.id}")).json()
    assert finding_api["fixed_at"] and finding_api["regression"] is False
    page = await client.get(f"/scanner/scans/{second}")
    assert 'id="fixed-findings"' in page.text and f"/scanner/findings/{gone.id}" in page.text
    finding_page = await client.get(f"/scanner/findings/{gone.id}")
    assert f'not found again by <a href="/scanner/scans/{second}">scan #{second}</a>' in finding_page.text

    # Completing the same scan again (a re-executed run) fixes nothing twice.
    async with services.db.session(write=True) as session:
        again = await session.get(Scan, second)
        assert again is not None
        assert await findings.mark_fixed(session, scan=again) == []

    third = await scan_with(services, alice, target_id, [candidate("csp-missing"), candidate("hsts-missing")])
    back = (await rows_of(services, third))["hsts-missing"]
    assert back.status == "open" and back.regression is True and back.first_seen_scan_id == first
    assert (await rows_of(services, first))["hsts-missing"].status == "fixed"  # history keeps the fix
    assert (await client.get(f"/api/v1/scanner/findings/{back.id}")).json()["regression"] is True
    assert 'id="regression"' in (await client.get(f"/scanner/findings/{back.id}")).text
    assert "regression</span>" in (await client.get(f"/scanner/scans/{third}")).text
    assert (await rows_of(services, third))["csp-missing"].regression is False


async def test_only_a_complete_scan_that_looked_for_it_fixes_a_finding(services: Services) -> None:
    alice = await create_user(services)
    target_id = await make_target(services, alice, SITE)
    sql = candidate("sql-injection", f"{SITE}login", parameter="user", confidence="confirmed")
    first = await scan_with(services, alice, target_id, [candidate("csp-missing"), sql], profile="active")

    async def injection_status() -> str:
        return (await rows_of(services, first))["sql-injection"].status

    # A passive scan does not run the injection checks; stopped, cancelled, failed or incomplete scans prove nothing.
    await scan_with(services, alice, target_id, [candidate("csp-missing")], profile="passive")
    await scan_with(services, alice, target_id, [], profile="active", stopped_reason="budget")
    await scan_with(services, alice, target_id, [], profile="active", stopped_reason="time limit")
    await scan_with(services, alice, target_id, [], profile="active", status="cancelled", stopped_reason="cancelled")
    await scan_with(services, alice, target_id, [], profile="active", status="failed")
    await scan_with(services, alice, target_id, [], profile="active", complete=False)
    # A custom scan of other families, and an import, do not look for these either.
    await scan_with(services, alice, target_id, [], profile="custom", families=["cookies", "xss"])
    await scan_with(services, alice, target_id, [], profile="import", families=["zap"])
    assert await injection_status() == "open"

    custom = await scan_with(services, alice, target_id, [], profile="custom", families=["sqli"])
    assert await injection_status() == "fixed"
    assert (await rows_of(services, first))["sql-injection"].fixed_by_scan_id == custom


async def test_decisions_are_kept_and_a_newer_sighting_wins(services: Services) -> None:
    alice = await create_user(services)
    target_id = await make_target(services, alice, SITE)
    first = await scan_with(services, alice, target_id, [candidate("csp-missing"), candidate("hsts-missing")])
    async with services.db.session(write=True) as session:
        row = await session.scalar(select(Finding).where(Finding.scan_id == first, Finding.type_id == "csp-missing"))
        assert row is not None
        await findings.change_status(session, finding=row, status="false_positive", note="CDN", accepted_until=None)
    await scan_with(services, alice, target_id, [])
    rows = await rows_of(services, first)
    assert rows["csp-missing"].status == "false_positive" and rows["csp-missing"].fixed_at is None
    assert rows["hsts-missing"].status == "fixed"

    # An older scan finishing after a newer one that saw the finding does not mark it fixed.
    other = await make_target(services, alice, "http://127.0.0.1:2/")
    async with services.db.session(write=True) as session:
        slow = Scan(user_id=alice.id, target_id=other, profile="passive", families=[], status="running")
        session.add(slow)
        await session.flush()
        slow_id = slow.id
    newer = await scan_with(services, alice, other, [candidate("hsts-missing", "http://127.0.0.1:2/")])
    earlier = await scan_with(services, alice, other, [candidate("hsts-missing", "http://127.0.0.1:2/")])
    async with services.db.session(write=True) as session:
        slow_scan, target = await session.get(Scan, slow_id), await session.get(ScanTarget, other)
        assert slow_scan is not None and target is not None
        await findings.complete_scan(
            session, scan=slow_scan, target=target, status="succeeded", stopped_reason=None, high_risk_priority=100
        )
    assert (await rows_of(services, earlier))["hsts-missing"].status == "open"
    assert (await rows_of(services, newer))["hsts-missing"].status == "open"


async def test_marking_fixed_by_hand_records_when(client: Client, services: Services) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    target_id = await make_target(services, alice, SITE)
    first = await scan_with(services, alice, target_id, [candidate("csp-missing")])
    finding_id = (await rows_of(services, first))["csp-missing"].id
    fixed = (await client.patch(f"/api/v1/scanner/findings/{finding_id}", json={"status": "fixed"})).json()
    assert fixed["status"] == "fixed" and fixed["fixed_at"] and fixed["fixed_by_scan_id"] is None
    assert "marked fixed by hand" in (await client.get(f"/scanner/findings/{finding_id}")).text
    reopened = (await client.patch(f"/api/v1/scanner/findings/{finding_id}", json={"status": "open"})).json()
    assert reopened["status"] == "open" and reopened["fixed_at"] is None

    bob = await create_user(services)
    client.headers.update(await bearer(services, bob))
    assert (await client.get(f"/api/v1/scanner/scans/{first}")).status_code == 404


@pytest.fixture
def site() -> Iterator[LocalHttpServer]:
    """A page whose Server header the test can take away (a fix of server-version-disclosure)."""
    headers = {"content-type": "text/html; charset=utf-8", "server": "Apache/2.4.1"}
    with LocalHttpServer() as server:

        async def page(_: ServerRequest) -> Reply:
            return Reply(200, b"<!doctype html><html><head><title>Shop</title></head><body>Hi</body></html>", headers)

        server.route("/", page)
        server.headers = headers  # type: ignore[attr-defined]
        yield server


@pytest.fixture
async def engine(services: Services) -> AsyncIterator[Engine]:
    async with embedded_engine(services) as started:
        yield started


async def test_scans_through_the_engine_fix_what_the_site_fixed(
    client: Client, services: Services, engine: Engine, site: LocalHttpServer
) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    target_id = await make_target(services, alice, site.url("/"), max_pages=2)

    async def scan() -> int:
        launched = await client.post(f"/api/v1/scanner/targets/{target_id}/scans", json={"profile": "passive"})
        assert launched.status_code == 202, launched.text
        done = await wait_for_scan(services, launched.json()["id"])
        assert done.status == "succeeded", done.error
        return done.id

    first = await scan()
    assert (await rows_of(services, first))["server-version-disclosure"].status == "open"
    del site.headers["server"]  # type: ignore[attr-defined]
    second = await scan()
    assert "server-version-disclosure" not in await rows_of(services, second)
    gone = (await rows_of(services, first))["server-version-disclosure"]
    assert gone.status == "fixed" and gone.fixed_by_scan_id == second
    body = (await client.get(f"/api/v1/scanner/scans/{second}")).json()
    assert "server-version-disclosure" in [f["type_id"] for f in body["fixed_findings"]]
