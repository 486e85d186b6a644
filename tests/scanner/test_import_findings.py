"""Importing another scanner's report into a target: a finished scan of profile "import" with the
findings about the target's host, severities mapped, unknown rules kept with their own title; bad
files refused with a message; the page form (multipart, CSRF); tenancy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from spyglass.config import Settings
from spyglass.core.services import Services
from spyglass.scanner.contract import FindingCandidate
from spyglass.scanner.models import Finding, Scan
from spyglass.scanner.tasks import ScanRecorder
from tests.scanner.helpers import bearer, make_scan, make_target, scanner_settings
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.tenancy import assert_isolated
from tests.support.web import csrf_token, login

Client = AsyncTestClient[Litestar]

ZAP_REPORT = {
    "@version": "2.14.0",
    "site": [
        {
            "@name": "http://127.0.0.1:1",
            "alerts": [
                {
                    "pluginid": "10038",
                    "alert": "Content Security Policy (CSP) Header Not Set",
                    "riskcode": "2",
                    "confidence": "3",
                    "cweid": "693",
                    "desc": "<p>No CSP.</p>",
                    "solution": "<p>Set one.</p>",
                    "instances": [
                        {"uri": "http://127.0.0.1:1/", "method": "GET"},
                        {"uri": "http://elsewhere.example/", "method": "GET"},
                    ],
                },
                {
                    "pluginid": "99999",
                    "alert": "Custom rule <b>bold</b>",
                    "riskcode": "3",
                    "confidence": "2",
                    "cweid": "200",
                    "desc": "<p>Something custom.</p>",
                    "solution": "<p>Fix the custom thing.</p>",
                    "instances": [{"uri": "http://127.0.0.1:1/admin/x", "method": "GET", "param": "id"}],
                },
            ],
        }
    ],
}


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return scanner_settings(tmp_path, database_url)


async def test_import_a_zap_report(client: Client, services: Services) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    target_id = await make_target(services, alice, "http://127.0.0.1:1/")
    response = await client.post(
        f"/api/v1/scanner/targets/{target_id}/imports", json={"content": json.dumps(ZAP_REPORT)}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["source"], body["imported"], body["skipped_other_hosts"]) == ("zap", 2, 1)
    assert body["scan"]["profile"] == "import" and body["scan"]["status"] == "succeeded"
    scan_id = body["scan"]["id"]
    listed = (await client.get(f"/api/v1/scanner/scans/{scan_id}/findings")).json()["items"]
    by_type = {item["type_id"]: item for item in listed}
    assert set(by_type) == {"csp-missing", "zap:99999"}
    assert by_type["csp-missing"]["severity"] == "medium"  # ZAP's risk, not the catalogue's "low"
    custom = (await client.get(f"/api/v1/scanner/findings/{by_type['zap:99999']['id']}")).json()
    assert custom["title"] == "Custom rule <b>bold</b>" and custom["severity"] == "high" and custom["cwe"] == 200
    assert custom["remediation"] == "Fix the custom thing." and custom["parameter"] == "id"
    page = await client.get(f"/scanner/findings/{custom['id']}")
    assert "Custom rule &lt;b&gt;bold&lt;/b&gt;" in page.text

    # A later scan finding the same issue carries the import's first sighting.
    later = await make_scan(services, alice, target_id)
    await ScanRecorder(services, later).finding(FindingCandidate(type_id="csp-missing", url="http://127.0.0.1:1/"))
    async with services.db.session() as session:
        again = await session.scalar(select(Finding).where(Finding.scan_id == later))
        assert again is not None and again.first_seen_scan_id == scan_id


async def test_bad_files_are_refused(client: Client, services: Services) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    target_id = await make_target(services, alice, "http://127.0.0.1:1/")
    url = f"/api/v1/scanner/targets/{target_id}/imports"
    not_json = await client.post(url, json={"content": "hello"})
    assert not_json.status_code == 422
    assert not_json.json()["error"] == "The file is neither JSON nor Nuclei JSON Lines."
    empty = await client.post(url, json={"content": "  "})
    assert empty.status_code == 422 and empty.json()["detail"] == {"file": "The file is empty."}
    wrong_tool = await client.post(url, json={"content": "{}", "format": "zap"})
    assert wrong_tool.status_code == 422
    unknown = await client.post(url, json={"content": "{}", "format": "burp"})
    assert unknown.status_code == 400
    async with services.db.session() as session:
        assert (await session.scalars(select(Scan))).all() == []


async def test_import_through_the_page(client: Client, services: Services) -> None:
    alice = await create_user(services, username="alice")
    target_id = await make_target(services, alice, "http://127.0.0.1:1/")
    await login(client, "alice", DEFAULT_PASSWORD)
    token = await csrf_token(client)
    bad = await client.post(
        f"/scanner/targets/{target_id}/imports",
        data={"_csrf_token": token, "format": ""},
        files={"file": ("report.json", b"[1, 2]", "application/json")},
    )
    assert bad.status_code == 422
    assert "The file is not a ZAP, Nuclei, Wapiti or SARIF report Spyglass can read." in bad.text
    good = await client.post(
        f"/scanner/targets/{target_id}/imports",
        data={"_csrf_token": token, "format": "zap"},
        files={"file": ("zap.json", json.dumps(ZAP_REPORT).encode(), "application/json")},
    )
    assert good.status_code == 200
    assert "Imported 2 findings from zap (1 about other hosts left out)." in good.text
    no_csrf = await client.post(
        f"/scanner/targets/{target_id}/imports", files={"file": ("zap.json", b"{}", "application/json")}
    )
    assert no_csrf.status_code == 403


async def test_imports_into_another_users_target_are_refused(client: Client, services: Services) -> None:
    alice = await create_user(services)
    bob = await create_user(services)
    target_id = await make_target(services, alice, "http://127.0.0.1:1/")
    client.headers.update(await bearer(services, bob))
    await assert_isolated(
        client, [("POST", f"/api/v1/scanner/targets/{target_id}/imports", {"content": json.dumps(ZAP_REPORT)})]
    )
    async with services.db.session() as session:
        assert (await session.scalars(select(Scan))).all() == []
