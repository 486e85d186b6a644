"""A stored scan's report over HTTP in each format: JSON, CSV, SARIF 2.1.0 (valid against its schema)
and the printable page (escaped, no script allowed), for the owner only."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import jsonschema  # type: ignore[import-untyped]
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from spyglass.config import Settings
from spyglass.core.services import Services
from spyglass.scanner import findings
from spyglass.scanner.contract import FindingCandidate
from spyglass.scanner.models import Finding, Scan, ScanTarget
from spyglass.scanner.tasks import ScanRecorder
from tests.scanner.helpers import bearer, make_scan, make_target, scanner_settings
from tests.support.factories import create_user
from tests.support.tenancy import assert_isolated

Client = AsyncTestClient[Litestar]
SCHEMA = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text())
NASTY = "<script>alert('r')</script>"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return scanner_settings(tmp_path, database_url)


async def scanned(services: Services, user: object) -> int:
    target_id = await make_target(services, user, "http://127.0.0.1:1/")  # type: ignore[arg-type]
    scan_id = await make_scan(services, user, target_id)  # type: ignore[arg-type]
    recorder = ScanRecorder(services, scan_id)
    await recorder.finding(
        FindingCandidate(
            type_id="xss-reflected",
            url="http://127.0.0.1:1/search?q=1",
            parameter="q",
            payload=NASTY,
            response=f"<p>[[{NASTY}]]</p>",
            confidence="confirmed",
        )
    )
    await recorder.finding(FindingCandidate(type_id="csp-missing", url="http://127.0.0.1:1/"))
    async with services.db.session(write=True) as session:
        scan = await session.get(Scan, scan_id)
        target = await session.get(ScanTarget, target_id)
        assert scan is not None and target is not None
        await findings.complete_scan(
            session, scan=scan, target=target, status="succeeded", stopped_reason=None, high_risk_priority=101
        )
        csp = await session.scalar(select(Finding).where(Finding.type_id == "csp-missing"))
        assert csp is not None
        csp.status = "false_positive"
    return scan_id


async def test_reports_in_every_format(client: Client, services: Services) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    scan_id = await scanned(services, alice)

    as_json = await client.get(f"/api/v1/scanner/scans/{scan_id}/report")
    assert as_json.status_code == 200 and as_json.headers["content-type"].startswith("application/json")
    assert as_json.headers["content-disposition"] == f'attachment; filename="spyglass-scan-{scan_id}.json"'
    document = as_json.json()
    assert document["scan"]["id"] == scan_id and document["scan"]["target"] == "http://127.0.0.1:1/"
    assert [(f["type"], f["status"]) for f in document["findings"]] == [
        ("xss-reflected", "open"),
        ("csp-missing", "false_positive"),
    ]
    assert document["findings"][0]["cwe"] == 79 and document["findings"][0]["payload"] == NASTY

    as_csv = await client.get(f"/api/v1/scanner/scans/{scan_id}/report", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [row["type"] for row in rows] == ["xss-reflected", "csp-missing"]

    as_sarif = await client.get(f"/api/v1/scanner/scans/{scan_id}/report", params={"format": "sarif"})
    sarif = json.loads(as_sarif.text)
    jsonschema.validate(sarif, SCHEMA)
    assert len(sarif["runs"][0]["results"]) == 2

    page = await client.get(f"/scanner/scans/{scan_id}/report")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert "script-src" not in page.headers["content-security-policy"]
    assert NASTY not in page.text and "&lt;script&gt;" in page.text

    wrong = await client.get(f"/api/v1/scanner/scans/{scan_id}/report", params={"format": "pdf"})
    assert wrong.status_code == 422 and wrong.json()["detail"] == {"format": "Choose one of json, csv, sarif, html."}

    bob = await create_user(services)
    client.headers.update(await bearer(services, bob))
    await assert_isolated(
        client,
        [
            ("GET", f"/api/v1/scanner/scans/{scan_id}/report", None),
            ("GET", f"/scanner/scans/{scan_id}/report", {"format": "json"}),
        ],
        secrets=[NASTY, "xss-reflected"],
    )
