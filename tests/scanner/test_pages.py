"""The scanner's pages: forms with CSRF and their error messages, verification instructions, the
launcher, results with filters, the finding page (evidence escaped, marked part highlighted)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from spyglass.config import Settings
from spyglass.core.services import Services
from spyglass.scanner.contract import FindingCandidate
from spyglass.scanner.models import Finding, Scan, ScanTarget
from spyglass.scanner.tasks import ScanRecorder
from tests.scanner.helpers import make_scan, make_target, scanner_settings
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.web import login, post_form

Client = AsyncTestClient[Litestar]


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return scanner_settings(tmp_path, database_url)


async def signed_in(client: Client, services: Services, name: str = "alice") -> object:
    user = await create_user(services, username=name)
    await login(client, name, DEFAULT_PASSWORD)
    return user


async def test_add_a_target_through_the_form(client: Client, services: Services) -> None:
    await signed_in(client, services)
    page = await client.get("/scanner/targets")
    assert page.status_code == 200 and "You have no targets yet." in page.text

    without_csrf = await client.post("/scanner/targets", data={"name": "x", "base_url": "http://127.0.0.1:1/"})
    assert without_csrf.status_code == 403

    invalid = await post_form(
        client,
        "/scanner/targets",
        {"name": "", "base_url": "gopher://x", "max_pages": "many", "auth_kind": "cookie", "auth_cookie": ""},
    )
    assert invalid.status_code == 422
    assert "Give the target a name of 1 to 100 characters." in invalid.text
    assert "The address must start with http:// or https://." in invalid.text
    assert "Must be a whole number from 1 to 10000." in invalid.text
    assert "Give the Cookie header value, e.g. session=abc123." in invalid.text

    created = await post_form(
        client,
        "/scanner/targets",
        {
            "name": "My shop",
            "base_url": "http://127.0.0.1:8/",
            "exclude_paths": "/logout\n/admin/delete",
            "auth_kind": "form",
            "auth_login_url": "http://127.0.0.1:8/login",
            "auth_username_field": "user",
            "auth_username": "alice",
            "auth_password_field": "pass",
            "auth_password": "hunter2-secret",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    location = created.headers["location"]
    assert re.fullmatch(r"/scanner/targets/\d+", location)
    target_page = await client.get(location)
    assert target_page.status_code == 200
    async with services.db.session() as session:
        target = await session.scalar(select(ScanTarget))
        assert target is not None
        assert target.exclude_paths == ["/logout", "/admin/delete"]
        assert target.auth == {
            "kind": "form",
            "login_url": "http://127.0.0.1:8/login",
            "fields": {"user": "alice", "pass": "hunter2-secret"},
        }
        token = target.verification_token
    html = target_page.text
    assert "hunter2-secret" not in html
    assert "http://127.0.0.1:8/.well-known/spyglass-verification.txt" in html
    assert f"&lt;meta name=&#34;spyglass-verification&#34; content=&#34;{token}&#34;&gt;" in html
    assert "not possible: the address is an IP address, not a host name." in html  # no TXT records on 127.0.0.1
    assert 'id="profile-active" name="profile" value="active" disabled' in html

    # Saving the settings form without the password keeps the stored one.
    target_id = int(location.rsplit("/", 1)[1])
    saved = await post_form(
        client,
        f"/scanner/targets/{target_id}/edit",
        {
            "name": "Renamed",
            "base_url": "http://127.0.0.1:8/",
            "auth_kind": "form",
            "auth_login_url": "http://127.0.0.1:8/login",
            "auth_username_field": "user",
            "auth_password_field": "pass",
        },
    )
    assert saved.status_code == 200 and "Target saved." in saved.text
    async with services.db.session() as session:
        target = await session.get(ScanTarget, target_id)
        assert target is not None and target.name == "Renamed"
        assert target.auth is not None and target.auth["fields"] == {"user": "alice", "pass": "hunter2-secret"}


async def test_launch_from_the_page(client: Client, services: Services) -> None:
    alice = await signed_in(client, services)
    named = await make_target(services, alice, "http://localhost:1/", host="localhost")  # type: ignore[arg-type]
    async with services.db.session() as session:
        stored = await session.get(ScanTarget, named)
        assert stored is not None
    named_page = await client.get(f"/scanner/targets/{named}")
    assert f"spyglass-verification={stored.verification_token}" in named_page.text
    target_id = await make_target(services, alice, "http://127.0.0.1:1/")  # type: ignore[arg-type]
    refused = await post_form(client, f"/scanner/targets/{target_id}/scans", {"profile": "active"})
    assert refused.status_code == 403 and "Verify this target first" in refused.text
    launched = await post_form(client, f"/scanner/targets/{target_id}/scans", {"profile": "passive"})
    assert launched.status_code == 200
    assert "waiting for a worker" in launched.text and 'data-events-url="/runs/' in launched.text
    async with services.db.session() as session:
        scan = await session.scalar(select(Scan))
        assert scan is not None and scan.profile == "passive" and scan.status == "queued"


async def test_results_filters_and_the_finding_page(client: Client, services: Services) -> None:
    alice = await signed_in(client, services)
    target_id = await make_target(services, alice, "http://127.0.0.1:1/")  # type: ignore[arg-type]
    scan_id = await make_scan(services, alice, target_id, status="succeeded")  # type: ignore[arg-type]
    recorder = ScanRecorder(services, scan_id)
    await recorder.finding(
        FindingCandidate(
            type_id="xss-reflected",
            url="http://127.0.0.1:1/search?q=x",
            parameter="q",
            payload="<script>alert(1)</script>",
            evidence="reflected unescaped",
            request="GET /search?q=[[<script>alert(1)</script>]]",
            response="<p>Results for [[<script>alert(1)</script>]]</p>",
            confidence="confirmed",
        )
    )
    await recorder.finding(FindingCandidate(type_id="csp-missing", url="http://127.0.0.1:1/"))

    results = await client.get(f"/scanner/scans/{scan_id}")
    assert results.status_code == 200
    assert results.text.count('<tr data-severity="') == 2
    only_high = await client.get(f"/scanner/scans/{scan_id}", params={"severity": "high"})
    assert only_high.text.count('<tr data-severity="high"') == 1 and 'data-severity="low"' not in only_high.text
    by_check = await client.get(f"/scanner/scans/{scan_id}", params={"check": "csp-missing"})
    assert by_check.text.count('<tr data-severity="') == 1
    none = await client.get(f"/scanner/scans/{scan_id}", params={"status": "fixed"})
    assert "No finding matches these filters." in none.text
    bad = await client.get(f"/scanner/scans/{scan_id}", params={"severity": "<b>"})
    assert bad.status_code == 422 and "Choose critical, high, medium, low or info." in bad.text

    async with services.db.session() as session:
        finding_id = await session.scalar(select(Finding.id).where(Finding.type_id == "xss-reflected"))
    page = await client.get(f"/scanner/findings/{finding_id}")
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "Results for <mark>&lt;script&gt;alert(1)&lt;/script&gt;</mark>" in page.text
    assert "CWE-79" in page.text
    assert "high severity: <strong>+45</strong>" in page.text

    wrong = await post_form(client, f"/scanner/findings/{finding_id}/status", {"status": "accepted_risk"})
    assert wrong.status_code == 422
    assert "Say for how many days the risk is accepted (1 to 3650)." in wrong.text
    decided = await post_form(
        client,
        f"/scanner/findings/{finding_id}/status",
        {"status": "accepted_risk", "accepted_days": "7", "note": "WAF"},
    )
    assert decided.status_code == 200 and "Finding marked accepted risk." in decided.text
    async with services.db.session() as session:
        finding = await session.get(Finding, finding_id)
        assert finding is not None and finding.status == "accepted_risk" and finding.status_note == "WAF"
        assert finding.accepted_until is not None


async def test_history_trend_and_compare_form(client: Client, services: Services) -> None:
    from spyglass.core.db import utcnow

    alice = await signed_in(client, services)
    target_id = await make_target(services, alice, "http://127.0.0.1:1/")  # type: ignore[arg-type]
    scan_ids = [await make_scan(services, alice, target_id, status="succeeded") for _ in range(3)]  # type: ignore[arg-type]
    async with services.db.session(write=True) as session:
        for risk, scan_id in zip((80, 40, 10), scan_ids, strict=True):
            scan = await session.get(Scan, scan_id)
            assert scan is not None
            scan.finished_at, scan.risk_score = utcnow(), risk
            scan.severity_counts = {"critical": 0, "high": risk // 40, "medium": 0, "low": 1, "info": 0}
    page = await client.get(f"/scanner/targets/{target_id}")
    html = page.text
    meters = re.findall(r'<meter [^>]*value="(\d+)"', html)
    assert meters == ["80", "40", "10"]  # oldest first
    assert f'<option value="{scan_ids[1]}" selected>' in html.split('id="compare-base"')[1].split("</select>")[0]
    assert f'<option value="{scan_ids[2]}" selected>' in html.split('id="compare-head"')[1].split("</select>")[0]
    trend = await client.get(f"/api/v1/scanner/targets/{target_id}/trend")
    assert [s["risk_score"] for s in trend.json()["scans"]] == [80, 40, 10]
    idle = await make_target(services, alice, "http://127.0.0.1:2/", name="Idle site")  # type: ignore[arg-type]
    listing = (await client.get("/scanner/targets")).text
    row = listing.split(f'id="target-{target_id}"')[1].split("</tr>")[0]
    assert f'<a href="/scanner/scans/{scan_ids[2]}">#{scan_ids[2]}</a>' in row and "risk 10" in row
    assert "none yet" in listing.split(f'id="target-{idle}"')[1].split("</tr>")[0]
