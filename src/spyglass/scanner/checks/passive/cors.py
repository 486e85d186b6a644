"""CORS misconfiguration: an API that reflects any Origin (or trusts ``null``) in Access-Control-Allow-Origin."""

from __future__ import annotations

from spyglass.scanner.checks.base import CheckContext, Page
from spyglass.scanner.checks.passive._base import CheckBase, send
from spyglass.scanner.checks.passive._evidence import path_of, request_excerpt, response_excerpt, unique_by_path
from spyglass.scanner.contract import FindingCandidate

PROBE_ORIGIN = "https://spyglass-cors-probe.invalid"
MAX_PAGES = 30  # CORS is configured per application, rarely per page: a sample is enough


def _candidates(ctx: CheckContext) -> list[Page]:
    """Pages that answer with CORS headers or look like an API, and the base page."""
    pages = []
    for page in unique_by_path(ctx.pages):
        headers = page.exchange.headers
        looks_like_api = "/api" in path_of(page.url) or "json" in headers.get("content-type", "")
        if looks_like_api or "access-control-allow-origin" in headers or page.url == ctx.plan.base_url:
            pages.append(page)
    return pages[:MAX_PAGES]


class CorsCheck(CheckBase):
    """Sends one GET with a foreign (and one with a ``null``) Origin and reads the CORS answer."""

    id = "cors"
    family = "cors"
    active = False

    async def scan(self, ctx: CheckContext) -> None:
        for page in _candidates(ctx):
            for origin in (PROBE_ORIGIN, "null"):
                exchange = await send(ctx, "GET", page.url, headers={"Origin": origin})
                if exchange is None:
                    break
                allowed = exchange.headers.get("access-control-allow-origin", "").strip()
                credentials = exchange.headers.get("access-control-allow-credentials", "").strip().lower() == "true"
                if allowed != origin:
                    continue
                await ctx.report(
                    FindingCandidate(
                        type_id="cors-misconfiguration",
                        url=page.url,
                        parameter="Origin",
                        payload=origin,
                        evidence=f"Access-Control-Allow-Origin: {allowed}"
                        + (" with Access-Control-Allow-Credentials: true" if credentials else ""),
                        request=request_excerpt(exchange, marked=origin),
                        response=response_excerpt(exchange, header="access-control-allow-origin"),
                        confidence="confirmed",
                        details={"origin_sent": origin, "credentials": credentials},
                    )
                )
                break


CHECKS = [CorsCheck()]
