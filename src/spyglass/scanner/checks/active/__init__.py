"""Active checks: they send attack payloads (non-destructive ones only) and run only on verified targets."""

from __future__ import annotations

from spyglass.scanner.checks.active import files, injection, jsonp, methods, redirects, sqli, ssrf, xss, xxe
from spyglass.scanner.checks.base import Check

CHECKS: list[Check] = [
    *xss.CHECKS,
    *sqli.CHECKS,
    *injection.CHECKS,
    *redirects.CHECKS,
    *xxe.CHECKS,
    *ssrf.CHECKS,
    *files.CHECKS,
    *methods.CHECKS,
    *jsonp.CHECKS,
]
