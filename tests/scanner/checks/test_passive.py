"""Passive checks against the vulnerable app (exact ground truth), the clean app (nothing), and edge cases."""

from __future__ import annotations

import ssl
import warnings
from pathlib import Path

import pytest

from spyglass.core.fetch import Fetcher
from spyglass.core.retry import RetryPolicy
from spyglass.scanner.checks.passive import CHECKS as PASSIVE_CHECKS
from spyglass.scanner.checks.passive.cookies import parse_set_cookie
from spyglass.scanner.checks.passive.headers import SecurityHeadersCheck, csp_weaknesses
from spyglass.scanner.checks.passive.transport import TlsCheck
from spyglass.scanner.http import ScanClient
from tests.scanner.apps.certs import Certificates, server_context
from tests.scanner.apps.clean import SECURITY_HEADERS
from tests.scanner.apps.server import AppServer, page
from tests.scanner.apps.vulnerable import VulnerableApp, expected_findings
from tests.scanner.checks.expectations import keys, passive_checks
from tests.scanner.checks.support import Harness, crawled, finding_key, scan_plan, scan_settings
from tests.support.http_server import Reply, ServerRequest

PASSIVE_IDS = [check.id for check in PASSIVE_CHECKS if check.id != "tls"]


@pytest.mark.parametrize("check_id", PASSIVE_IDS)
async def test_each_passive_check_reports_exactly_its_ground_truth(vulnerable: Harness, check_id: str) -> None:
    check = next(c for c in passive_checks() if c.id == check_id)
    assert await vulnerable.keys(check) == keys(expected_findings("http", active=False), check_id)


async def test_passive_checks_find_nothing_on_the_clean_app(clean: Harness, certs: Certificates) -> None:
    assert await clean.run(*passive_checks(certs.client_context())) == []


async def test_passive_scan_over_https_with_a_self_signed_certificate(tmp_path: Path, certs: Certificates) -> None:
    with VulnerableApp(tmp_path, tls=server_context(certs.self_signed)) as app:
        async with crawled(app.url("/"), verify=False) as harness:
            found = await harness.keys(*passive_checks(certs.client_context()))
    assert found == keys(expected_findings("https", active=False))


async def test_headers_missing_on_most_pages_are_one_finding_at_the_base_url(vulnerable: Harness) -> None:
    findings = await vulnerable.run(SecurityHeadersCheck())
    nosniff = [f for f in findings if f.type_id == "x-content-type-options-missing"]
    assert [f.url for f in nosniff] == [vulnerable.plan.base_url]
    pages = nosniff[0].details["pages_checked"]
    assert nosniff[0].details["pages_affected"] == pages > 10
    assert f"on {pages} of {pages} pages" in nosniff[0].evidence
    csp = [f for f in findings if f.type_id == "csp-missing"]  # /account has a (weak) CSP: still one finding
    assert [f.url for f in csp] == [vulnerable.plan.base_url]
    assert csp[0].details["pages_affected"] == pages - 1
    [weak] = [f for f in findings if f.type_id == "csp-weak"]
    assert weak.url.endswith("/account") and "'unsafe-inline' without a nonce or hash" in weak.evidence


async def test_a_header_missing_on_some_pages_is_reported_on_those_pages() -> None:
    app = AppServer()

    async def home(request: ServerRequest) -> Reply:
        return page("Home", '<a href="/plain">plain</a>', headers=SECURITY_HEADERS)

    async def plain(request: ServerRequest) -> Reply:
        headers = {k: v for k, v in SECURITY_HEADERS.items() if k != "X-Content-Type-Options"}
        return page("Plain", "<p>no nosniff here</p>", headers=headers)

    app.route("/", home)
    app.route("/plain", plain)
    with app:
        async with crawled(app.url("/")) as harness:
            findings = await harness.run(SecurityHeadersCheck())
    assert [(f.type_id, f.url) for f in findings] == [("x-content-type-options-missing", app.url("/plain"))]
    assert "[[" not in findings[0].response  # the header is absent: nothing to mark, the headers are shown


async def test_evidence_marks_the_matching_part_and_hides_cookies(vulnerable: Harness) -> None:
    findings = {finding_key(f)[:3]: f for f in await vulnerable.run(*passive_checks())}
    server = findings[("server-version-disclosure", "/", "Server")]
    assert "[[server: Apache/2.4.29 (Ubuntu)]]" in server.response
    trace = findings[("stack-trace-disclosure", "/error", None)]
    assert "[[Traceback (most recent call last):]]" in trace.evidence
    private_ip = findings[("private-ip-disclosure", "/", None)]
    assert "[[10.0.3.17]]" in private_ip.evidence and private_ip.details["address"] == "10.0.3.17"
    cors = findings[("cors-misconfiguration", "/api/data", "Origin")]
    assert "[[https://spyglass-cors-probe.invalid]]" in cors.request and cors.details["credentials"] is True
    library = findings[("vulnerable-js-library", "/static/jquery-1.8.3.min.js", "jquery")]
    assert library.details["version"] == "1.8.3"
    assert {"CVE-2020-11022", "CVE-2019-11358"} <= {i for v in library.details["vulnerabilities"] for i in v["ids"]}
    for finding in findings.values():  # the scanner's cookie jar holds PHPSESSID; it never reaches a finding
        assert "4f2a9c1e7b" not in finding.request


async def test_tls_expired_certificate(tmp_path: Path, certs: Certificates) -> None:
    with AppServer(tls=server_context(certs.expired)) as app:
        async with crawled(app.url("/"), verify=False) as harness:
            findings = await harness.run(TlsCheck(certs.client_context()))
    assert [(f.type_id, f.confidence) for f in findings] == [("tls-certificate-invalid", "confirmed")]
    assert "[[certificate has expired]]" in findings[0].evidence


async def test_tls_certificate_expiring_within_thirty_days(certs: Certificates) -> None:
    with AppServer(tls=server_context(certs.expiring)) as app:
        async with crawled(app.url("/"), verify=certs.client_context()) as harness:
            findings = await harness.run(TlsCheck(certs.client_context()))
    assert [f.type_id for f in findings] == ["tls-certificate-expiring"]
    assert "days" in findings[0].evidence


async def test_tls_untrusted_issuer_and_valid_certificate(certs: Certificates) -> None:
    with AppServer(tls=server_context(certs.valid)) as app:
        async with crawled(app.url("/"), verify=certs.client_context()) as harness:
            untrusted = await harness.run(TlsCheck())  # the system trust store does not know the test CA
            trusted = await harness.run(TlsCheck(certs.client_context()))
    assert [f.type_id for f in untrusted] == ["tls-certificate-invalid"]
    assert "unable to get local issuer certificate" in untrusted[0].evidence
    assert trusted == []  # valid for a year, trusted, TLS 1.2+ only


def test_csp_weaknesses() -> None:
    assert csp_weaknesses("default-src 'self'; object-src 'none'") == []
    assert csp_weaknesses("script-src 'nonce-abc' 'unsafe-inline'; object-src 'none'") == []
    assert csp_weaknesses("default-src 'self' 'unsafe-inline'") == [
        "script sources allow 'unsafe-inline' without a nonce or hash"
    ]
    assert "script sources allow *" in csp_weaknesses("default-src *")
    assert "script sources allow https:" in csp_weaknesses("script-src https:; object-src 'none'")
    assert csp_weaknesses("img-src 'self'") == [
        "no script-src or default-src directive: scripts from anywhere are allowed"
    ]
    assert csp_weaknesses("script-src 'self'") == ["no object-src or default-src directive: plugins are allowed"]


def test_parse_set_cookie() -> None:
    cookie = parse_set_cookie("sid=abc; Path=/; Secure; HttpOnly; SameSite=Lax")
    assert cookie is not None and cookie.name == "sid"
    assert cookie.attributes == {"path": "/", "secure": "", "httponly": "", "samesite": "Lax"}
    assert parse_set_cookie("garbage") is None


async def test_tls_legacy_protocol_accepted(certs: Certificates) -> None:
    legacy = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    legacy.load_cert_chain(str(certs.valid[0]), str(certs.valid[1]))
    legacy.set_ciphers("ALL:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        legacy.minimum_version = ssl.TLSVersion.TLSv1
    with AppServer(tls=legacy) as app:
        async with crawled(app.url("/"), verify=certs.client_context()) as harness:
            findings = await harness.run(TlsCheck(certs.client_context()))
    assert [(f.type_id, f.details["problem"]) for f in findings] == [
        ("tls-legacy-protocol", "the server accepts TLSv1")
    ]


async def test_tls_check_asks_the_url_policy_first(certs: Certificates) -> None:
    with AppServer(tls=server_context(certs.expired)) as app:
        strict = scan_settings(allow_private_targets="")  # loopback is refused, as in production
        async with Fetcher(strict, retry=RetryPolicy(attempts=1), verify=False) as fetcher:
            plan = scan_plan(app.url("/"))
            harness = Harness(plan, ScanClient(plan, fetcher), [], [])
            # the certificate has expired (test_tls_expired_certificate), but the policy refuses the host first
            assert await harness.run(TlsCheck(certs.client_context())) == []
