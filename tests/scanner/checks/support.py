"""A small real crawler and HTTP client for check tests, until the scan pipeline's own land.

``crawl(base_url)`` fetches the app with httpx (a real client, real sockets to 127.0.0.1), follows
same-origin links, forms and scripts, and builds the ``CheckContext`` the pipeline would give checks.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

import httpx
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from spyglass.scanner.checks.base import Check, CheckContext, Exchange, Form, FormField, InjectionPoint, Page
from spyglass.scanner.contract import FindingCandidate, ScanPlan


class RealHttp:
    """``ScanHttp`` over httpx: stays on the scan's origin, counts requests."""

    def __init__(self, base_url: str, verify: ssl.SSLContext | bool = False) -> None:
        self.origin = urlsplit(base_url)[:2]
        self.client = httpx.AsyncClient(verify=verify, timeout=10)
        self.requests = 0

    async def send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        content: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = False,
    ) -> Exchange:
        if urlsplit(url)[:2] != self.origin:
            raise ValueError(f"out of scope: {url}")
        self.requests += 1
        started = time.monotonic()
        response = await self.client.request(
            method, url, params=params, data=data, content=content, headers=headers, follow_redirects=follow_redirects
        )
        elapsed = time.monotonic() - started
        request = response.request
        return Exchange(
            method=method,
            url=str(request.url),
            request_headers=dict(request.headers),
            request_body=request.content.decode("utf-8", "replace"),
            status=response.status_code,
            headers=response.headers,
            body=response.text,
            elapsed=elapsed,
            set_cookies=response.headers.get_list("set-cookie"),
            redirect_location=response.headers.get("location"),
        )

    async def aclose(self) -> None:
        await self.client.aclose()


@dataclass
class Harness:
    """A crawled site, its client and the findings checks report."""

    plan: ScanPlan
    http: RealHttp
    pages: list[Page]
    injection_points: list[InjectionPoint]
    findings: list[FindingCandidate] = field(default_factory=list)

    def context(self) -> CheckContext:
        async def report(finding: FindingCandidate) -> None:
            self.findings.append(finding)

        return CheckContext(self.plan, self.http, self.pages, self.injection_points, report)

    async def run(self, *checks: Check) -> list[FindingCandidate]:
        """Run ``checks`` one after the other; the findings they report (also kept in ``findings``)."""
        start = len(self.findings)
        for check in checks:
            await check.run(self.context())
        return self.findings[start:]


def _same_origin(url: str, base: str) -> bool:
    return urlsplit(url)[:2] == urlsplit(base)[:2]


def _extract(url: str, body: str) -> tuple[list[str], list[Form], list[str]]:
    tree = HTMLParser(body)
    links = [urljoin(url, a.attributes.get("href") or "") for a in tree.css("a[href]")]
    scripts = [urljoin(url, s.attributes.get("src") or "") for s in tree.css("script[src]")]
    forms = []
    for node in tree.css("form"):
        fields = []
        for element in node.css("input, textarea, select"):
            name = element.attributes.get("name")
            if name:
                kind = element.tag if element.tag != "input" else (element.attributes.get("type") or "text").lower()
                fields.append(FormField(name, kind, element.attributes.get("value") or ""))
        forms.append(
            Form(
                page_url=url,
                action=urljoin(url, node.attributes.get("action") or url),
                method=(node.attributes.get("method") or "GET").upper(),
                fields=fields,
                enctype=node.attributes.get("enctype") or "application/x-www-form-urlencoded",
            )
        )
    return links, forms, scripts


def _points(pages: Sequence[Page]) -> list[InjectionPoint]:
    points: dict[tuple[str, str, str], InjectionPoint] = {}
    for page in pages:
        parts = urlsplit(page.url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        bare = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        for name, _value in query:
            points.setdefault(("GET", bare, name), InjectionPoint("GET", bare, name, "query", tuple(query), page.url))
        for form in page.forms:
            values = tuple((f.name, f.value) for f in form.fields if f.type not in {"submit", "button"})
            location = "xml" if "xml" in form.enctype else "form" if form.method == "POST" else "query"
            for name, _value in values:
                if name == "csrf_token":
                    continue
                key = (form.method, form.action, name)
                points.setdefault(key, InjectionPoint(form.method, form.action, name, location, values, page.url))
    return list(points.values())


async def crawl(
    base_url: str, *, plan: ScanPlan | None = None, verify: ssl.SSLContext | bool = False, max_pages: int = 60
) -> Harness:
    """Crawl ``base_url`` breadth-first (same origin, GET only) and return the harness for checks."""
    http = RealHttp(base_url, verify)
    queue, seen, pages = [base_url], {base_url}, []
    while queue and len(pages) < max_pages:
        url = queue.pop(0)
        exchange = await http.send("GET", url)
        links, forms, scripts = (
            _extract(url, exchange.body) if "html" in exchange.headers.get("content-type", "") else ([], [], [])
        )
        pages.append(Page(url, exchange, links=links, forms=forms, scripts=scripts,
                          content_type=exchange.headers.get("content-type", "")))  # fmt: skip
        for link in [*links, *scripts]:
            link = link.split("#")[0]
            if _same_origin(link, base_url) and link not in seen:
                seen.add(link)
                queue.append(link)
    plan = plan or ScanPlan(base_url=base_url, profile="active", active_allowed=True)
    return Harness(plan, http, pages, _points(pages))
