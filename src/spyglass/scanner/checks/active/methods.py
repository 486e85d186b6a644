"""Dangerous HTTP methods: TRACE echoing requests (cross-site tracing), and PUT, DELETE or WebDAV methods
advertised by OPTIONS. Nothing is ever PUT or DELETEd: only OPTIONS and TRACE are sent."""

from __future__ import annotations

from spyglass.scanner.checks.active._inject import token
from spyglass.scanner.checks.base import CheckContext
from spyglass.scanner.checks.passive._base import CheckBase, send
from spyglass.scanner.checks.passive._evidence import mark_first, request_excerpt, response_excerpt, site_url
from spyglass.scanner.contract import FindingCandidate

DANGEROUS = ("PUT", "DELETE", "TRACE", "CONNECT", "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK")
TRACE_HEADER = "X-Spyglass-Trace"


class HttpMethodsCheck(CheckBase):
    id = "http-methods"
    family = "methods"
    active = True

    async def scan(self, ctx: CheckContext) -> None:
        url = site_url(ctx)
        options = await send(ctx, "OPTIONS", url)
        if options is not None and 200 <= options.status < 300:
            header = "allow" if "allow" in options.headers else "public"
            allowed = [m.strip().upper() for m in options.headers.get(header, "").split(",") if m.strip()]
            dangerous = [method for method in allowed if method in DANGEROUS]
            if dangerous:
                await ctx.report(
                    FindingCandidate(
                        type_id="http-dangerous-methods",
                        url=url,
                        method="OPTIONS",
                        evidence=f"OPTIONS lists {', '.join(dangerous)}",
                        request=request_excerpt(options),
                        response=response_excerpt(options, header=header),
                        confidence="tentative",  # advertised; not tried, since trying PUT or DELETE changes data
                        details={"methods": dangerous},
                    )
                )
        marker = token()
        trace = await send(ctx, "TRACE", url, headers={TRACE_HEADER: marker})
        if trace is not None and trace.status == 200 and marker in trace.body:
            await ctx.report(
                FindingCandidate(
                    type_id="http-trace-enabled",
                    url=url,
                    method="TRACE",
                    payload=marker,
                    evidence=mark_first(trace.body, marker) or marker,
                    request=request_excerpt(trace, marked=marker),
                    response=response_excerpt(trace, needle=marker),
                    confidence="confirmed",
                )
            )


CHECKS = [HttpMethodsCheck()]
