"""Which finding types each check reports, and check instances tuned for tests (short SQL sleep, short wait)."""

from __future__ import annotations

import ssl

from spyglass.scanner.checks.active import CHECKS as ACTIVE_CHECKS
from spyglass.scanner.checks.active.injection import CommandInjectionCheck
from spyglass.scanner.checks.active.sqli import SqlInjectionCheck
from spyglass.scanner.checks.active.ssrf import SsrfCheck
from spyglass.scanner.checks.base import Check
from spyglass.scanner.checks.passive import CHECKS as PASSIVE_CHECKS
from spyglass.scanner.checks.passive.transport import TlsCheck
from tests.scanner.apps.vulnerable import Expected

TYPES_BY_CHECK = {
    "security-headers": {"csp-missing", "csp-weak", "hsts-missing", "x-content-type-options-missing",
                         "clickjacking-protection-missing", "referrer-policy-missing", "permissions-policy-missing"},
    "cookie-flags": {"cookie-no-secure", "cookie-no-httponly", "cookie-no-samesite"},
    "cors": {"cors-misconfiguration"},
    "information-disclosure": {"server-version-disclosure", "stack-trace-disclosure", "private-ip-disclosure",
                               "source-map-exposed"},
    "forms": {"form-over-http", "password-autocomplete", "missing-csrf-token"},
    "page-content": {"directory-listing", "cacheable-sensitive-page", "mixed-content"},
    "vulnerable-js-library": {"vulnerable-js-library"},
    "tls": {"tls-certificate-invalid", "tls-certificate-expiring", "tls-legacy-protocol"},
    "https-redirect": {"http-not-redirected-to-https"},
    "xss-reflected": {"xss-reflected"},
    "xss-stored": {"xss-stored"},
    "sql-injection": {"sql-injection"},
    "os-command-injection": {"os-command-injection"},
    "ssti": {"ssti"},
    "path-traversal": {"path-traversal"},
    "open-redirect": {"open-redirect"},
    "crlf-injection": {"crlf-injection"},
    "xxe": {"xxe"},
    "ssrf": {"ssrf"},
    "exposed-files": {"exposed-sensitive-file"},
    "http-methods": {"http-trace-enabled", "http-dangerous-methods"},
    "jsonp-callback": {"jsonp-callback-injection"},
}  # fmt: skip

SQL_DELAY = 0.8  # seconds; large enough that a loaded test machine does not blur delayed and control requests


def fast(check: Check, verify: ssl.SSLContext | None = None) -> Check:
    """The same check with test-sized waits (and the test CA for TLS)."""
    if check.id == "sql-injection":
        return SqlInjectionCheck(delay=SQL_DELAY, rounds=3)
    if check.id == "os-command-injection":
        return CommandInjectionCheck(delay=SQL_DELAY, rounds=3)
    if check.id == "ssrf":
        return SsrfCheck(wait_seconds=1.5)
    if check.id == "tls":
        return TlsCheck(verify)
    return check


def passive_checks(verify: ssl.SSLContext | None = None) -> list[Check]:
    return [fast(check, verify) for check in PASSIVE_CHECKS]


def active_checks() -> list[Check]:
    return [fast(check) for check in ACTIVE_CHECKS]


def keys(expected: set[Expected], check_id: str | None = None) -> list[tuple[str, str, str | None, str]]:
    """Sorted ground-truth keys, only the types of ``check_id`` when given."""
    types = TYPES_BY_CHECK[check_id] if check_id else None
    return sorted(
        (e.type_id, e.path, e.parameter, e.confidence) for e in expected if types is None or e.type_id in types
    )
