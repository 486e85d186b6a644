"""Security headers: CSP (missing or weak), HSTS, X-Content-Type-Options, clickjacking, Referrer-Policy,
Permissions-Policy. A problem on most pages is one finding at the site's base URL, not one per page."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from spyglass.scanner.checks.base import CheckContext, Page
from spyglass.scanner.checks.passive._evidence import html_pages, request_excerpt, response_excerpt, site_url
from spyglass.scanner.contract import FindingCandidate

HSTS_MIN_AGE = 15_552_000  # 180 days, the common minimum (e.g. Mozilla Observatory)
UNSAFE_REFERRER_POLICIES = {"unsafe-url", "no-referrer-when-downgrade"}
WEAK_SCRIPT_SOURCES = {"*", "http:", "https:", "data:", "'unsafe-eval'"}


def parse_csp(value: str) -> dict[str, list[str]]:
    """A Content-Security-Policy value as ``{directive: [sources]}`` (first occurrence of a directive wins)."""
    policy: dict[str, list[str]] = {}
    for part in value.split(";"):
        words = part.strip().split()
        if words:
            policy.setdefault(words[0].lower(), [w.lower() for w in words[1:]])
    return policy


def csp_weaknesses(value: str) -> list[str]:
    """Why a CSP does not stop injected scripts (empty when it does)."""
    policy = parse_csp(value)
    scripts = policy.get("script-src", policy.get("default-src"))
    if scripts is None:
        return ["no script-src or default-src directive: scripts from anywhere are allowed"]
    reasons = [f"script sources allow {source}" for source in scripts if source in WEAK_SCRIPT_SOURCES]
    has_nonce_or_hash = any(s.startswith(("'nonce-", "'sha256-", "'sha384-", "'sha512-")) for s in scripts)
    if "'unsafe-inline'" in scripts and not has_nonce_or_hash:
        reasons.append("script sources allow 'unsafe-inline' without a nonce or hash")
    if "object-src" not in policy and "default-src" not in policy:
        reasons.append("no object-src or default-src directive: plugins are allowed")
    return reasons


def _header(page: Page, name: str) -> str | None:
    return page.exchange.headers.get(name)


def _csp_missing(page: Page) -> str | None:
    return None if _header(page, "content-security-policy") else "Content-Security-Policy"


def _csp_weak(page: Page) -> str | None:
    value = _header(page, "content-security-policy")
    if not value:
        return None
    return "; ".join(csp_weaknesses(value)) or None


def _hsts(page: Page) -> str | None:
    if not page.url.startswith("https://"):
        return None
    value = _header(page, "strict-transport-security")
    if not value:
        return "Strict-Transport-Security"
    age = re.search(r"max-age\s*=\s*\"?(\d+)", value, re.IGNORECASE)
    if age is None or int(age.group(1)) < HSTS_MIN_AGE:
        return f"Strict-Transport-Security max-age below {HSTS_MIN_AGE} seconds"
    return None


def _nosniff(page: Page) -> str | None:
    value = (_header(page, "x-content-type-options") or "").strip().lower()
    return None if value == "nosniff" else "X-Content-Type-Options"


def _clickjacking(page: Page) -> str | None:
    frame_options = (_header(page, "x-frame-options") or "").strip().lower()
    ancestors = "frame-ancestors" in parse_csp(_header(page, "content-security-policy") or "")
    return None if frame_options in {"deny", "sameorigin"} or ancestors else "X-Frame-Options"


def _referrer(page: Page) -> str | None:
    value = (_header(page, "referrer-policy") or "").strip().lower()
    if not value:
        return "Referrer-Policy"
    last = value.split(",")[-1].strip()  # browsers use the last policy they understand
    return f"Referrer-Policy {last}" if last in UNSAFE_REFERRER_POLICIES else None


def _permissions(page: Page) -> str | None:
    return None if _header(page, "permissions-policy") else "Permissions-Policy"


@dataclass(frozen=True)
class HeaderRule:
    type_id: str
    header: str  # the header to mark in the response excerpt
    problem: Callable[[Page], str | None]  # None: the page is fine; else what is wrong


RULES = (
    HeaderRule("csp-missing", "content-security-policy", _csp_missing),
    HeaderRule("csp-weak", "content-security-policy", _csp_weak),
    HeaderRule("hsts-missing", "strict-transport-security", _hsts),
    HeaderRule("x-content-type-options-missing", "x-content-type-options", _nosniff),
    HeaderRule("clickjacking-protection-missing", "x-frame-options", _clickjacking),
    HeaderRule("referrer-policy-missing", "referrer-policy", _referrer),
    HeaderRule("permissions-policy-missing", "permissions-policy", _permissions),
)


class SecurityHeadersCheck:
    """Flags missing or weak security headers on HTML pages: once per site when more than half the pages have the
    problem (the details count them), else once per page that has it."""

    id = "security-headers"
    family = "headers"
    active = False

    async def run(self, ctx: CheckContext) -> None:
        pages = html_pages(ctx)
        for rule in RULES:
            failing = [(page, problem) for page in pages if (problem := rule.problem(page)) is not None]
            if not failing:
                continue
            site_wide = len(failing) * 2 > len(pages)  # most pages: a site-wide configuration, one finding
            where = f"on {len(failing)} of {len(pages)} pages" if site_wide else "on this page"
            for page, problem in failing[:1] if site_wide else failing:
                await ctx.report(
                    FindingCandidate(
                        type_id=rule.type_id,
                        url=site_url(ctx) if site_wide else page.url,
                        evidence=f"{problem} ({where})",
                        request=request_excerpt(page.exchange),
                        response=response_excerpt(page.exchange, header=rule.header),
                        confidence="firm",
                        details={"pages_affected": len(failing), "pages_checked": len(pages), "problem": problem},
                    )
                )


CHECKS = [SecurityHeadersCheck()]
