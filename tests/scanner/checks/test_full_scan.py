"""The whole pipeline (crawler, scan client, every check) over the test apps: exactly the ground truth on the
vulnerable app, nothing of medium severity or higher on the clean app."""

from __future__ import annotations

import pytest

from spyglass.core.fetch import Fetcher
from spyglass.core.retry import RetryPolicy
from spyglass.scanner.callback import CallbackListener
from spyglass.scanner.catalogue import get_finding_type
from spyglass.scanner.contract import FindingCandidate, ScanProgress
from spyglass.scanner.pipeline import run_pipeline
from tests.scanner.apps.certs import Certificates
from tests.scanner.apps.clean import CleanApp
from tests.scanner.apps.vulnerable import EXPECTED_FINDINGS, VulnerableApp, expected_findings
from tests.scanner.checks.expectations import active_checks, keys, passive_checks
from tests.scanner.checks.support import finding_key, scan_plan, scan_settings


class Collector:
    """A ScanObserver keeping what the pipeline reports."""

    def __init__(self) -> None:
        self.findings: list[FindingCandidate] = []
        self.reports: list[ScanProgress] = []

    async def progress(self, progress: ScanProgress) -> None:
        self.reports.append(progress)

    async def finding(self, finding: FindingCandidate) -> None:
        self.findings.append(finding)

    def cancelled(self) -> bool:
        return False


async def _scan(base_url: str, listener: CallbackListener, *, verify, profile: str = "active") -> Collector:  # type: ignore[no-untyped-def]
    collector = Collector()
    plan = scan_plan(base_url, profile=profile, callback_base_url=listener.base_url)
    async with Fetcher(scan_settings(), retry=RetryPolicy(attempts=1), verify=verify) as fetcher:
        summary = await run_pipeline(plan, fetcher, collector, checks=passive_checks(verify or None) + active_checks())
    assert summary.errors == [] and summary.stopped_reason is None
    return collector


@pytest.mark.slow
async def test_active_scan_of_the_vulnerable_app_finds_exactly_the_ground_truth(
    vulnerable_app: VulnerableApp, listener: CallbackListener
) -> None:
    collector = await _scan(vulnerable_app.url("/"), listener, verify=False)
    assert sorted(finding_key(f) for f in collector.findings) == keys(EXPECTED_FINDINGS)
    assert all(f.evidence for f in collector.findings)
    # non-destructive: nothing but reads, form posts, OPTIONS and TRACE reached the app
    assert {request.method for request in vulnerable_app.requests} <= {"GET", "POST", "OPTIONS", "TRACE", "HEAD"}
    # the JSON endpoints no link names were found (inline script, linked OpenAPI document), the POST-only one never
    assert vulnerable_app.hits("/api/products/2") >= 1  # a path parameter filled from the document
    assert vulnerable_app.cart_requests == []


@pytest.mark.slow
async def test_passive_scan_of_the_vulnerable_app_sends_no_attacks(
    vulnerable_app: VulnerableApp, listener: CallbackListener
) -> None:
    collector = await _scan(vulnerable_app.url("/"), listener, verify=False, profile="passive")
    assert sorted(finding_key(f) for f in collector.findings) == keys(expected_findings("http", active=False))
    assert not any("spy" in request.target for request in vulnerable_app.requests)  # no payload was sent
    assert vulnerable_app.ssrf_requests == [vulnerable_app.url("/static/")]  # only the crawler's own visit


@pytest.mark.slow
async def test_active_scan_of_the_clean_app_finds_nothing_of_medium_severity_or_higher(
    clean_app: CleanApp, certs: Certificates, listener: CallbackListener
) -> None:
    collector = await _scan(clean_app.url("/"), listener, verify=certs.client_context())
    serious = [f for f in collector.findings if get_finding_type(f.type_id).severity in {"critical", "high", "medium"}]
    assert serious == []
    assert collector.findings == []  # in fact nothing at all
    assert collector.reports[-1].pages_crawled >= 20
    # JSON endpoints from a script file and from /openapi.json were tested too; the POST-only cart never reached
    gets = {request.path for request in clean_app.requests if request.method == "GET" and request.query}
    assert {"/api/orders", "/api/greeting"} <= gets
    assert clean_app.hits("/openapi.json") == 1 and clean_app.hits("/api/products/2") >= 1
    assert clean_app.cart_requests == []
