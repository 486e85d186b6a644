"""Scans: launch rules, the scanner.scan kind on the embedded engine with the real pipeline against a
local site, findings recorded once per fingerprint (re-execution adds nothing), status carried to later
scans, scan comparison, status changes, cancellation, notifications and tenancy."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from spyglass.config import Settings
from spyglass.core.services import Services
from spyglass.engine.engine import Engine
from spyglass.engine.models import Run
from spyglass.notifications.models import Notification
from spyglass.scanner import findings
from spyglass.scanner.catalogue import get_finding_type
from spyglass.scanner.contract import FindingCandidate, ScanProgress
from spyglass.scanner.models import Finding, Scan, ScanTarget
from spyglass.scanner.priority import compute_priority, scan_risk_score
from spyglass.scanner.tasks import ScanRecorder
from tests.scanner.helpers import bearer, embedded_engine, make_scan, make_target, scanner_settings, wait_for_scan
from tests.support.factories import create_user
from tests.support.http_server import LocalHttpServer, Reply, ServerRequest
from tests.support.tenancy import assert_isolated, assert_not_listed

Client = AsyncTestClient[Litestar]

HOME = """<!doctype html><html><head><title>Shop</title></head><body>
<a href="/about">About</a> <a href="/login">Log in</a>
</body></html>"""
LOGIN = """<!doctype html><html><head><title>Log in</title></head><body>
<form action="/login" method="post"><input name="user"><input type="password" name="password">
<button>Log in</button></form></body></html>"""


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return scanner_settings(tmp_path, database_url, scanner_high_risk_priority=70, scanner_max_active_scans_per_user=2)


@pytest.fixture
def site() -> Iterator[LocalHttpServer]:
    with LocalHttpServer() as server:
        for path, body in (("/", HOME), ("/about", "<html><body>About us</body></html>"), ("/login", LOGIN)):

            async def page(_: ServerRequest, body: str = body) -> Reply:
                return Reply(200, body.encode(), {"content-type": "text/html; charset=utf-8", "server": "Apache/2.4.1"})

            server.route(path, page)
        yield server


@pytest.fixture
async def engine(services: Services) -> AsyncIterator[Engine]:
    async with embedded_engine(services, concurrency=10) as started:
        yield started


def sqli(**overrides: object) -> FindingCandidate:
    values: dict[str, object] = {
        "type_id": "sql-injection",
        "url": "http://127.0.0.1:1/login?next=/",
        "method": "POST",
        "parameter": "user",
        "payload": "'",
        "evidence": "You have an error in your SQL syntax",
        "request": "POST /login\n\nuser=[[']]",
        "response": "<p>[[You have an error in your SQL syntax]]</p>",
        "confidence": "confirmed",
    }
    values.update(overrides)
    return FindingCandidate(**values)  # type: ignore[arg-type]


def csp(url: str = "http://127.0.0.1:1/") -> FindingCandidate:
    return FindingCandidate(type_id="csp-missing", url=url, evidence="no Content-Security-Policy header")


async def test_passive_scan_runs_through_the_engine(
    client: Client, services: Services, engine: Engine, site: LocalHttpServer
) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    target_id = await make_target(services, alice, site.url("/"))

    refused = await client.post(f"/api/v1/scanner/targets/{target_id}/scans", json={"profile": "active"})
    assert refused.status_code == 403
    assert refused.json()["error"].startswith("Active checks send attack payloads, so they run only on targets")
    custom_active = await client.post(
        f"/api/v1/scanner/targets/{target_id}/scans", json={"profile": "custom", "families": ["sqli"]}
    )
    assert custom_active.status_code == 403
    bad = await client.post(f"/api/v1/scanner/targets/{target_id}/scans", json={"profile": "custom", "families": []})
    assert bad.status_code == 422 and bad.json()["detail"] == {
        "families": "A custom scan needs at least one check family."
    }
    unknown = await client.post(
        f"/api/v1/scanner/targets/{target_id}/scans", json={"profile": "custom", "families": ["nope"]}
    )
    assert unknown.status_code == 422 and unknown.json()["detail"]["families"].startswith("Unknown check family 'nope'")

    launched = await client.post(f"/api/v1/scanner/targets/{target_id}/scans", json={"profile": "passive"})
    assert launched.status_code == 202, launched.text
    scan_id = launched.json()["id"]
    assert launched.json()["status"] == "queued" and launched.json()["run_id"]

    scan = await wait_for_scan(services, scan_id)
    assert scan.status == "succeeded", scan.error
    assert scan.pages_crawled >= 3 and scan.requests_sent >= 3
    assert site.hits("/about") >= 1 and site.hits("/login") >= 1
    async with services.db.session() as session:
        rows = list((await session.scalars(select(Finding).where(Finding.scan_id == scan_id))).all())
        run = await session.get(Run, scan.run_id)
        completed = (
            await session.scalars(select(Notification).where(Notification.event == "scanner.scan_completed"))
        ).all()
    assert rows, "a page without security headers must give passive findings"
    assert all(not get_finding_type(f.type_id).active for f in rows)  # no active check on an unverified target
    assert {"csp-missing", "server-version-disclosure"} <= {f.type_id for f in rows}
    assert len({f.fingerprint for f in rows}) == len(rows) == scan.findings_count
    assert sum(scan.severity_counts.values()) == len(rows)
    assert scan.risk_score == scan_risk_score(f.priority for f in rows)
    assert run is not None and run.status == "succeeded" and run.stats["findings"] == len(rows)
    assert [n.payload["scan_id"] for n in completed] == [scan_id]
    assert completed[0].payload["risk_score"] == scan.risk_score

    listed = await client.get(f"/api/v1/scanner/scans/{scan_id}/findings", params={"severity": "low"})
    assert listed.status_code == 200
    assert {f["severity"] for f in listed.json()["items"]} == {"low"}
    assert listed.json()["total"] == scan.severity_counts["low"]
    priorities = [
        f["priority"] for f in (await client.get(f"/api/v1/scanner/scans/{scan_id}/findings")).json()["items"]
    ]
    assert priorities == sorted(priorities, reverse=True)
    bad_filter = await client.get(f"/api/v1/scanner/scans/{scan_id}/findings", params={"severity": "urgent"})
    assert bad_filter.status_code == 422

    # A second execution of the same run (after a crash) finds the scan finished and adds nothing.
    from spyglass.scanner.tasks import run_scan

    class Ctx:
        subject_id = scan_id
        payload: dict[str, object] = {}
        stats: dict[str, object] = {}
        cancelled = asyncio.Event()

        def __init__(self) -> None:
            self.services = services

        async def progress(self, percent: int, stage: str = "") -> None:
            return None

    assert await run_scan(Ctx()) == {"skipped": "the scan had already finished"}  # type: ignore[arg-type]
    async with services.db.session() as session:
        assert await session.scalar(select(func.count()).where(Finding.scan_id == scan_id)) == len(rows)


async def test_active_scan_rechecks_ownership_before_running(
    client: Client, services: Services, engine: Engine, site: LocalHttpServer
) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    target_id = await make_target(services, alice, site.url("/"), verified=True)  # proven once, proof since removed
    launched = await client.post(f"/api/v1/scanner/targets/{target_id}/scans", json={"profile": "active"})
    assert launched.status_code == 202
    scan = await wait_for_scan(services, launched.json()["id"])
    assert scan.status == "failed"
    assert scan.error is not None and scan.error.startswith("Active checks were not run: the ownership proof")
    assert site.hits("/.well-known/spyglass-verification.txt") == 1
    async with services.db.session() as session:
        target = await session.get(ScanTarget, target_id)
        assert target is not None and target.verified_at is None
        assert await session.scalar(select(func.count()).where(Finding.scan_id == scan.id)) == 0


async def test_findings_are_deduplicated_carried_and_compared(client: Client, services: Services) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    target_id = await make_target(services, alice, "http://127.0.0.1:1/")
    first = await make_scan(services, alice, target_id)

    recorder = ScanRecorder(services, first)
    await recorder.progress(ScanProgress(stage="crawling", percent=10, pages_crawled=2, requests_sent=5))
    for candidate in (sqli(), csp(), sqli(confidence="tentative", evidence="weaker"), csp("http://127.0.0.1:1")):
        await recorder.finding(candidate)
    # The same findings again, as a re-executed run would report them.
    await recorder.finding(sqli())
    await recorder.finding(csp())
    assert recorder.found == 2

    async with services.db.session(write=True) as session:
        scan = await session.get(Scan, first)
        target = await session.get(ScanTarget, target_id)
        assert scan is not None and target is not None
        rows = {f.type_id: f for f in (await session.scalars(select(Finding).where(Finding.scan_id == first))).all()}
        assert set(rows) == {"sql-injection", "csp-missing"}
        injection = rows["sql-injection"]
        assert injection.evidence == "You have an error in your SQL syntax"  # the weaker duplicate did not win
        assert injection.severity == "critical" and injection.cwe == 89
        expected = compute_priority(
            severity="critical",
            confidence="confirmed",
            url=injection.url,
            cvss_vector=get_finding_type("sql-injection").cvss_vector,
            active=True,
            first_seen_at=injection.first_seen_at,
            now=injection.first_seen_at,
        )
        assert (injection.priority, injection.threat_class) == (expected.score, expected.threat_class)
        assert {item["factor"] for item in injection.priority_why} >= {"severity", "exposure", "asset"}
        assert {"factor": "asset", "points": 8, "why": "on a login page"} in injection.priority_why
        totals = await findings.complete_scan(
            session, scan=scan, target=target, status="succeeded", stopped_reason=None, high_risk_priority=70
        )
        assert totals.by_severity == {"critical": 1, "high": 0, "medium": 0, "low": 1, "info": 0}
        assert totals.risk_score == scan_risk_score([rows["sql-injection"].priority, rows["csp-missing"].priority])
        # Completing twice (a re-run) queues no second notification.
        await findings.complete_scan(
            session, scan=scan, target=target, status="succeeded", stopped_reason=None, high_risk_priority=70
        )
        sql_id, csp_id = rows["sql-injection"].id, rows["csp-missing"].id
        sql_priority = rows["sql-injection"].priority
    async with services.db.session() as session:
        events = sorted(
            (n.event, n.payload.get("finding_id")) for n in (await session.scalars(select(Notification))).all()
        )
    assert events == sorted([("scanner.scan_completed", None), ("scanner.high_risk_finding", sql_id)])
    assert sql_priority >= 70
    async with services.db.session() as session:
        done = await session.scalar(select(Notification).where(Notification.event == "scanner.scan_completed"))
        assert done is not None
    assert done.payload["counts"] == {"critical": 1, "high": 0, "medium": 0, "low": 1, "info": 0}
    assert [item["title"] for item in done.payload["top_findings"]] == [
        get_finding_type("sql-injection").title,
        get_finding_type("csp-missing").title,
    ]
    assert done.payload["target_url"] == "http://127.0.0.1:1/"

    # The owner's decisions: the CSP finding is a false positive; the injection an accepted risk for 30 days.
    marked = await client.patch(f"/api/v1/scanner/findings/{csp_id}", json={"status": "false_positive", "note": "CDN"})
    assert marked.status_code == 200 and marked.json()["status"] == "false_positive"
    missing_days = await client.patch(f"/api/v1/scanner/findings/{sql_id}", json={"status": "accepted_risk"})
    assert missing_days.status_code == 422
    assert missing_days.json()["detail"] == {"accepted_days": "Say for how many days the risk is accepted (1 to 3650)."}
    accepted = await client.patch(
        f"/api/v1/scanner/findings/{sql_id}", json={"status": "accepted_risk", "accepted_days": 30}
    )
    assert accepted.json()["status"] == "accepted_risk" and accepted.json()["accepted_until"]
    assert (await client.get(f"/api/v1/scanner/scans/{first}")).json()["risk_score"] == 0

    # A later scan: the injection again (status carried), the CSP finding gone, a new one.
    second = await make_scan(services, alice, target_id)
    recorder = ScanRecorder(services, second)
    await recorder.finding(sqli(url="http://127.0.0.1:1/login/?other=1"))
    await recorder.finding(FindingCandidate(type_id="hsts-missing", url="http://127.0.0.1:1/"))
    async with services.db.session() as session:
        again = await session.scalar(
            select(Finding).where(Finding.scan_id == second, Finding.type_id == "sql-injection")
        )
        assert again is not None
        assert again.status == "accepted_risk" and again.first_seen_scan_id == first
        assert again.accepted_until is not None

    compared = await client.get("/api/v1/scanner/compare", params={"base": first, "head": second})
    assert compared.status_code == 200
    body = compared.json()
    assert [f["type_id"] for f in body["new"]] == ["hsts-missing"]
    assert [f["type_id"] for f in body["still_open"]] == ["sql-injection"]
    assert [f["type_id"] for f in body["fixed"]] == ["csp-missing"]
    page = await client.get("/scanner/compare", params={"base": first, "head": second})
    assert page.status_code == 200 and "Fixed (1)" in page.text and "New (1)" in page.text

    other_target = await make_target(services, alice, "http://127.0.0.1:2/")
    elsewhere = await make_scan(services, alice, other_target)
    mixed = await client.get("/api/v1/scanner/compare", params={"base": first, "head": elsewhere})
    assert mixed.status_code == 422


async def test_cancel_a_queued_scan(client: Client, services: Services) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    target_id = await make_target(services, alice, "http://127.0.0.1:1/")
    scan_id = (await client.post(f"/api/v1/scanner/targets/{target_id}/scans", json={})).json()["id"]
    cancelled = await client.post(f"/api/v1/scanner/scans/{scan_id}/cancel")
    assert cancelled.status_code == 202
    assert cancelled.json() == {"id": scan_id, "status": "cancelled", "run_status": "cancelled"}
    again = await client.post(f"/api/v1/scanner/scans/{scan_id}/cancel")
    assert again.status_code == 409 and again.json()["error"] == "This scan has already finished (cancelled)."


async def test_scans_and_findings_are_private(client: Client, services: Services) -> None:
    alice = await create_user(services)
    bob = await create_user(services)
    target_id = await make_target(services, alice, "http://127.0.0.1:1/", name="Alice's shop")
    scan_id = await make_scan(services, alice, target_id)
    await ScanRecorder(services, scan_id).finding(sqli(evidence="alice-secret-evidence"))
    async with services.db.session() as session:
        finding_id = await session.scalar(select(Finding.id).where(Finding.scan_id == scan_id))
    other_scan = await make_scan(services, bob, await make_target(services, bob, "http://127.0.0.1:2/"))
    client.headers.update(await bearer(services, bob))
    await assert_isolated(
        client,
        [
            ("GET", f"/api/v1/scanner/scans/{scan_id}", None),
            ("POST", f"/api/v1/scanner/scans/{scan_id}/cancel", {}),
            ("GET", f"/api/v1/scanner/scans/{scan_id}/findings", None),
            ("GET", f"/api/v1/scanner/findings/{finding_id}", None),
            ("PATCH", f"/api/v1/scanner/findings/{finding_id}", {"status": "false_positive"}),
            ("GET", "/api/v1/scanner/compare", {"base": scan_id, "head": other_scan}),
            ("GET", "/api/v1/scanner/compare", {"base": other_scan, "head": scan_id}),
            ("GET", f"/scanner/scans/{scan_id}", None),
            ("POST", f"/scanner/scans/{scan_id}/cancel", {}),
            ("GET", f"/scanner/findings/{finding_id}", None),
            ("POST", f"/scanner/findings/{finding_id}/status", {"status": "fixed"}),
            ("GET", "/scanner/compare", {"base": scan_id, "head": other_scan}),
        ],
        secrets=["alice-secret-evidence", "Alice's shop"],
    )
    await assert_not_listed(client, "/api/v1/scanner/scans", ["alice-secret-evidence"], params={"target_id": target_id})
    async with services.db.session() as session:
        finding = await session.get(Finding, finding_id)
        scan = await session.get(Scan, scan_id)
        assert finding is not None and finding.status == "open"
        assert scan is not None and scan.status == "running"


def many_pages_site(server: LocalHttpServer, *, pages: int, delay: float = 0.0) -> None:
    """A home page linking to ``pages`` pages, each answering after ``delay`` seconds."""
    links = "".join(f'<a href="/p/{n}">page {n}</a> ' for n in range(pages))

    async def home(_: ServerRequest) -> Reply:
        return Reply(200, f"<html><body>{links}</body></html>".encode(), {"content-type": "text/html"})

    async def one(_: ServerRequest) -> Reply:
        await asyncio.sleep(delay)
        return Reply(200, b"<html><body>a page</body></html>", {"content-type": "text/html"})

    server.route("/", home)
    for n in range(pages):
        server.route(f"/p/{n}", one)


async def test_a_scan_stops_when_its_request_budget_is_spent(
    client: Client, services: Services, engine: Engine
) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    with LocalHttpServer() as server:
        many_pages_site(server, pages=40)
        target_id = await make_target(services, alice, server.url("/"), max_requests=12, max_pages=100)
        scan_id = (await client.post(f"/api/v1/scanner/targets/{target_id}/scans", json={})).json()["id"]
        scan = await wait_for_scan(services, scan_id)
        served = len(server.requests)
    assert scan.status == "succeeded" and scan.stopped_reason == "budget"
    assert scan.requests_sent <= 12 and served <= 12
    assert scan.pages_crawled < 40


async def test_cancel_a_running_scan(client: Client, services: Services, engine: Engine) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    with LocalHttpServer() as server:
        many_pages_site(server, pages=60, delay=0.2)
        target_id = await make_target(services, alice, server.url("/"), max_pages=100, concurrency=1)
        scan_id = (await client.post(f"/api/v1/scanner/targets/{target_id}/scans", json={})).json()["id"]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and server.hits("/p/0") + server.hits("/p/1") == 0:
            await asyncio.sleep(0.05)
        answer = await client.post(f"/api/v1/scanner/scans/{scan_id}/cancel")
        assert answer.status_code == 202 and answer.json()["run_status"] == "running"
        scan = await wait_for_scan(services, scan_id, timeout=10)
        served = len(server.requests)
        await asyncio.sleep(0.5)
        assert len(server.requests) == served  # nothing sent after the scan stopped
    assert scan.status == "cancelled" and scan.stopped_reason == "cancelled"
    async with services.db.session() as session:
        run = await session.get(Run, scan.run_id)
        assert run is not None and run.status == "cancelled"


async def test_scans_at_once_are_capped_and_a_run_that_ended_frees_its_place(
    client: Client, services: Services
) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    target_id = await make_target(services, alice, "http://127.0.0.1:1/")
    url = f"/api/v1/scanner/targets/{target_id}/scans"
    first, second = [(await client.post(url, json={})).json() for _ in range(2)]
    third = await client.post(url, json={})
    assert third.status_code == 409
    assert third.json()["error"] == "You already have 2 scans queued or running; wait for one to finish."
    deleting = await client.delete(f"/api/v1/scanner/targets/{target_id}")
    assert deleting.status_code == 409

    # The engine gave up on the first scan's run (its handler never got to say so).
    async with services.db.session(write=True) as session:
        run = await session.get(Run, first["run_id"])
        assert run is not None
        run.status, run.error = "failed", "Took longer than the 14400 s limit. (after 2 attempts)"
    shown = (await client.get(f"/api/v1/scanner/scans/{first['id']}")).json()
    assert shown["status"] == "failed" and shown["error"] == "Took longer than the 14400 s limit. (after 2 attempts)"
    assert (await client.post(url, json={})).status_code == 202
    assert second["status"] == "queued"


async def test_an_expired_risk_acceptance_counts_as_open_again(client: Client, services: Services) -> None:
    from datetime import timedelta

    from spyglass.core.db import utcnow

    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    target_id = await make_target(services, alice, "http://127.0.0.1:1/")
    first = await make_scan(services, alice, target_id)
    await ScanRecorder(services, first).finding(sqli())
    async with services.db.session(write=True) as session:
        finding = await session.scalar(select(Finding).where(Finding.scan_id == first))
        assert finding is not None
        finding.status, finding.accepted_until = "accepted_risk", utcnow() - timedelta(minutes=1)
        finding_id, priority = finding.id, finding.priority
    shown = (await client.get(f"/api/v1/scanner/findings/{finding_id}")).json()
    assert shown["status"] == "open"
    async with services.db.session() as session:
        assert (await findings.scan_totals(session, first)).risk_score == priority
    second = await make_scan(services, alice, target_id)
    await ScanRecorder(services, second).finding(sqli())
    async with services.db.session() as session:
        again = await session.scalar(select(Finding).where(Finding.scan_id == second))
        assert again is not None and again.status == "open" and again.accepted_until is None


async def test_a_site_that_cannot_be_reached_fails_the_scan(client: Client, services: Services, engine: Engine) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    with LocalHttpServer() as server:
        closed = server.url("/")  # the port is free once the server stops
    target_id = await make_target(services, alice, closed)
    scan_id = (await client.post(f"/api/v1/scanner/targets/{target_id}/scans", json={})).json()["id"]
    scan = await wait_for_scan(services, scan_id)
    assert scan.status == "failed"
    assert scan.error is not None and scan.error.startswith(f"Nothing could be scanned: {closed} could not be reached")
    async with services.db.session() as session:
        run = await session.get(Run, scan.run_id)
        assert run is not None and run.status == "failed" and run.error == scan.error
        assert (await session.scalars(select(Notification))).all() == []


async def test_the_same_finding_reported_at_once_is_stored_once(services: Services) -> None:
    alice = await create_user(services)
    target_id = await make_target(services, alice, "http://127.0.0.1:1/")
    scan_id = await make_scan(services, alice, target_id)
    await asyncio.gather(*(ScanRecorder(services, scan_id).finding(sqli()) for _ in range(6)))
    async with services.db.session() as session:
        assert await session.scalar(select(func.count()).where(Finding.scan_id == scan_id)) == 1
