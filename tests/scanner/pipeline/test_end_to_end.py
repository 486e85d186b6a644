"""The whole pipeline (crawler, registry, every real check) against the test apps: the vulnerable app's exact
ground truth on a full active scan, nothing of medium severity or worse on the clean app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from spyglass.core.fetch import Fetcher
from spyglass.core.retry import RetryPolicy
from spyglass.scanner.callback import CallbackListener
from spyglass.scanner.catalogue import get_finding_type
from spyglass.scanner.checks.passive.transport import TlsCheck
from spyglass.scanner.checks.registry import all_checks
from spyglass.scanner.contract import SEVERITIES
from spyglass.scanner.pipeline import run_pipeline
from tests.scanner.apps.certs import Certificates, make_certificates, server_context
from tests.scanner.apps.clean import CleanApp
from tests.scanner.apps.vulnerable import VulnerableApp, expected_findings
from tests.scanner.checks.support import finding_key, scan_plan, scan_settings
from tests.scanner.pipeline.test_pipeline import Recorder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def vulnerable_app(tmp_path: Path) -> Iterator[VulnerableApp]:
    with VulnerableApp(tmp_path) as app:
        yield app


async def test_full_active_scan_of_the_vulnerable_app_finds_exactly_the_ground_truth(
    vulnerable_app: VulnerableApp,
) -> None:
    recorder = Recorder()
    async with CallbackListener("127.0.0.1", 0) as listener, Fetcher(scan_settings(), retry=RetryPolicy(1)) as fetcher:
        plan = scan_plan(vulnerable_app.url("/"), callback_base_url=listener.base_url)
        summary = await run_pipeline(plan, fetcher, recorder)
    assert summary.stopped_reason is None and summary.errors == []
    expected = {(e.type_id, e.path, e.parameter, e.confidence) for e in expected_findings("http")}
    assert {finding_key(finding) for finding in recorder.findings} == expected
    assert summary.findings == len(recorder.findings) == len(expected)
    # Every request from Spyglass was counted (the app's own SSRF fetches come from urllib, not from us).
    ours = [r for r in vulnerable_app.requests if r.headers.get("user-agent", "").startswith("Spyglass/")]
    assert summary.requests_sent == len(ours)


async def test_passive_scan_of_the_vulnerable_app_sends_no_attack(vulnerable_app: VulnerableApp) -> None:
    recorder = Recorder()
    async with Fetcher(scan_settings(), retry=RetryPolicy(1)) as fetcher:
        plan = scan_plan(vulnerable_app.url("/"), profile="passive")
        await run_pipeline(plan, fetcher, recorder)
    expected = {(e.type_id, e.path, e.parameter, e.confidence) for e in expected_findings("http", active=False)}
    assert {finding_key(finding) for finding in recorder.findings} == expected
    assert {request.method for request in vulnerable_app.requests} == {"GET"}


async def test_full_active_scan_of_the_clean_app_finds_nothing_medium_or_worse(certs: Certificates) -> None:
    recorder = Recorder()
    with CleanApp(tls=server_context(certs.valid)) as app:
        async with (
            CallbackListener("127.0.0.1", 0) as listener,
            Fetcher(scan_settings(), retry=RetryPolicy(1), verify=certs.client_context()) as fetcher,
        ):
            # The registry's TLS check trusts the system's CAs; this one trusts the test CA, as a real site's would.
            checks = [TlsCheck(certs.client_context()) if c.id == "tls" else c for c in all_checks()]
            plan = scan_plan(app.url("/"), callback_base_url=listener.base_url)
            summary = await run_pipeline(plan, fetcher, recorder, checks=checks)
    assert summary.stopped_reason is None and summary.errors == []
    assert summary.pages_crawled > 5
    serious = [f for f in recorder.findings if SEVERITIES.index(get_finding_type(f.type_id).severity) <= 2]
    assert serious == []
