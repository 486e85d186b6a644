"""Information disclosure: server and framework versions, stack traces and debug pages, private IP
addresses, and JavaScript source maps."""

from __future__ import annotations

import re
from urllib.parse import urljoin

from spyglass.scanner.checks.base import CheckContext, Exchange, Page
from spyglass.scanner.checks.passive._base import CheckBase, send
from spyglass.scanner.checks.passive._evidence import (
    mark_match,
    origin_of,
    request_excerpt,
    response_excerpt,
    site_url,
    unique_by_path,
)
from spyglass.scanner.contract import FindingCandidate

VERSION_HEADERS = (
    "Server",
    "X-Powered-By",
    "X-AspNet-Version",
    "X-AspNetMvc-Version",
    "X-Generator",
    "X-Runtime-Version",
)
VERSION = re.compile(r"\d+\.\d+")

STACK_TRACES = (
    re.compile(r"Traceback \(most recent call last\):"),  # Python
    re.compile(r"\bat [\w$.]+\([\w$]+\.java:\d+\)"),  # Java
    re.compile(r"(?:Fatal error|Parse error|Warning)</b>:\s.{1,300}? on line <b>\d+", re.S),  # PHP
    re.compile(r"Server Error in '[^']*' Application"),  # ASP.NET yellow screen
    re.compile(
        r"Werkzeug Debugger|Whoops! There was an error|You're seeing this error because you have <code>DEBUG = True"
    ),
    re.compile(r"Action Controller: Exception caught"),  # Rails
    re.compile(r"\bat [\w$.<>]+ \((?:/|[A-Za-z]:\\)[^)]+\.js:\d+:\d+\)"),  # Node.js
)

_OCTET = r"(?:25[0-5]|2[0-4]\d|1?\d?\d)"
PRIVATE_IP = re.compile(rf"(?<![\d.])(?:10\.{_OCTET}|172\.(?:1[6-9]|2\d|3[01])|192\.168)\.{_OCTET}\.{_OCTET}(?!\.?\d)")
SOURCE_MAP = re.compile(r"[#@]\s*sourceMappingURL=(\S+)")


def _is_script(page: Page) -> bool:
    return "javascript" in page.exchange.headers.get("content-type", "") or page.url.split("?")[0].endswith(".js")


async def script_exchanges(ctx: CheckContext) -> list[Exchange]:
    """Every same-origin script of the site: crawled ones as they are, the others fetched once."""
    scripts = {page.url: page.exchange for page in unique_by_path(ctx.pages) if _is_script(page)}
    origin = origin_of(ctx.plan.base_url)
    for page in ctx.pages:
        for src in page.scripts:
            if src not in scripts and origin_of(src) == origin:
                exchange = await send(ctx, "GET", src)
                if exchange is not None and exchange.status == 200:
                    scripts[src] = exchange
    return list(scripts.values())


class DisclosureCheck(CheckBase):
    """Reports what a site tells about its internals that an attacker can use."""

    id = "information-disclosure"
    family = "disclosure"
    active = False

    async def scan(self, ctx: CheckContext) -> None:
        await self._versions(ctx)
        for page in unique_by_path(ctx.pages):
            await self._stack_trace(ctx, page)
            await self._private_ip(ctx, page)
        for exchange in await script_exchanges(ctx):
            await self._source_map(ctx, exchange)

    async def _versions(self, ctx: CheckContext) -> None:
        for header in VERSION_HEADERS:
            for page in ctx.pages:
                value = page.exchange.headers.get(header, "")
                if VERSION.search(value):
                    await ctx.report(
                        FindingCandidate(
                            type_id="server-version-disclosure",
                            url=site_url(ctx),
                            parameter=header,
                            evidence=f"{header}: {value}",
                            request=request_excerpt(page.exchange),
                            response=response_excerpt(page.exchange, header=header),
                            confidence="firm",
                        )
                    )
                    break

    async def _stack_trace(self, ctx: CheckContext, page: Page) -> None:
        for pattern in STACK_TRACES:
            match = pattern.search(page.exchange.body)
            if match:
                await ctx.report(
                    FindingCandidate(
                        type_id="stack-trace-disclosure",
                        url=page.url,
                        evidence=mark_match(page.exchange.body, match),
                        request=request_excerpt(page.exchange),
                        response=response_excerpt(page.exchange, needle=match.group(0)),
                        confidence="firm",
                        details={"status": page.exchange.status},
                    )
                )
                return

    async def _private_ip(self, ctx: CheckContext, page: Page) -> None:
        match = PRIVATE_IP.search(page.exchange.body)
        if match and match.group(0) not in page.url:
            await ctx.report(
                FindingCandidate(
                    type_id="private-ip-disclosure",
                    url=page.url,
                    evidence=mark_match(page.exchange.body, match),
                    request=request_excerpt(page.exchange),
                    response=response_excerpt(page.exchange, needle=match.group(0)),
                    confidence="firm",
                    details={"address": match.group(0)},
                )
            )

    async def _source_map(self, ctx: CheckContext, exchange: Exchange) -> None:
        match = SOURCE_MAP.search(exchange.body[-2000:])
        header = exchange.headers.get("sourcemap") or exchange.headers.get("x-sourcemap")
        reference = header or (match.group(1) if match else None)
        if not reference or reference.startswith("data:"):
            return
        map_url = urljoin(exchange.url, reference)
        confidence: str = "tentative"
        if origin_of(map_url) == origin_of(ctx.plan.base_url):
            fetched = await send(ctx, "GET", map_url)
            if fetched is not None and fetched.status == 200 and '"mappings"' in fetched.body:
                confidence = "confirmed"
        tail = exchange.body[-2000:]
        await ctx.report(
            FindingCandidate(
                type_id="source-map-exposed",
                url=exchange.url,
                evidence=mark_match(tail, match) if match else f"SourceMap: {header}",
                request=request_excerpt(exchange),
                response=response_excerpt(exchange, needle=match.group(0) if match else None),
                confidence=confidence,  # type: ignore[arg-type]
                details={"source_map": map_url},
            )
        )


CHECKS = [DisclosureCheck()]
