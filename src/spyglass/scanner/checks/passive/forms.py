"""Forms: password forms over HTTP, password autocomplete, and state-changing forms without an anti-CSRF token."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from selectolax.lexbor import LexborHTMLParser

from spyglass.scanner.checks.base import CheckContext, Form, Page
from spyglass.scanner.checks.passive._base import CheckBase
from spyglass.scanner.checks.passive._evidence import (
    html_pages,
    mark_first,
    origin_of,
    request_excerpt,
    response_excerpt,
    without_query,
)
from spyglass.scanner.contract import FindingCandidate

CSRF_FIELD = re.compile(r"csrf|xsrf|authenticity|nonce|token|__requestverification", re.IGNORECASE)
Report = Callable[[FindingCandidate], Awaitable[None]]
SAFE_PASSWORD_AUTOCOMPLETE = {"off", "new-password", "current-password"}  # an explicit, deliberate choice


def _password_fields(form: Form) -> list[str]:
    return [field.name for field in form.fields if field.type == "password"]


def _autocompleting_passwords(page: Page) -> list[tuple[str, str]]:
    """``(field name, its HTML)`` of password inputs with no deliberate autocomplete choice (on them or their form)."""
    found = []
    for form in LexborHTMLParser(page.exchange.body).css("form"):
        form_off = (form.attributes.get("autocomplete") or "").lower() == "off"
        for field in form.css("input"):
            if (field.attributes.get("type") or "").lower() != "password":
                continue
            value = (field.attributes.get("autocomplete") or "").strip().lower()
            if not form_off and value not in SAFE_PASSWORD_AUTOCOMPLETE:
                found.append((field.attributes.get("name") or "", field.html or ""))
    return found


class FormsCheck(CheckBase):
    """Reads the forms the crawler saw; sends nothing."""

    id = "forms"
    family = "forms"
    active = False

    async def scan(self, ctx: CheckContext) -> None:
        reported: set[tuple[str, str, str]] = set()

        async def report(finding: FindingCandidate) -> None:
            key = (finding.type_id, without_query(finding.url), finding.parameter or "")
            if key not in reported:
                reported.add(key)
                await ctx.report(finding)

        site = origin_of(ctx.plan.base_url)
        for page in html_pages(ctx):
            for form in page.forms:
                await self._over_http(page, form, report)
                if form.method.upper() == "POST" and origin_of(form.action) == site:
                    await self._csrf(page, form, report)
            for name, markup in _autocompleting_passwords(page):
                action = page.forms[0].action if len(page.forms) == 1 else page.url
                await report(
                    FindingCandidate(
                        type_id="password-autocomplete",
                        url=without_query(action),
                        parameter=name,
                        evidence=markup,
                        request=request_excerpt(page.exchange),
                        response=response_excerpt(page.exchange, needle=markup),
                        confidence="confirmed",
                    )
                )

    async def _over_http(self, page: Page, form: Form, report: Report) -> None:
        passwords = _password_fields(form)
        insecure = page.url.startswith("http://") or form.action.startswith("http://")
        if passwords and insecure:
            await report(
                FindingCandidate(
                    type_id="form-over-http",
                    url=without_query(form.action),
                    method=form.method.upper(),
                    parameter=passwords[0],
                    evidence=f"a password form on {page.url} posts to {form.action} without TLS",
                    request=request_excerpt(page.exchange),
                    response=response_excerpt(page.exchange, needle='type="password"'),
                    confidence="confirmed",
                )
            )

    async def _csrf(self, page: Page, form: Form, report: Report) -> None:
        if any(field.type == "hidden" and CSRF_FIELD.search(field.name) for field in form.fields):
            return
        body = page.exchange.body
        needle = f'action="{form.action}"'
        excerpt = mark_first(body, "<form") or ""
        await report(
            FindingCandidate(
                type_id="missing-csrf-token",
                url=without_query(form.action),
                method="POST",
                evidence=f"POST form without a hidden anti-CSRF token field: {excerpt}",
                request=request_excerpt(page.exchange),
                response=response_excerpt(page.exchange, needle="<form" if needle not in body else needle),
                confidence="tentative",  # the token may travel in a header or a SameSite cookie may protect it
                details={"fields": [field.name for field in form.fields]},
            )
        )


CHECKS = [FormsCheck()]
