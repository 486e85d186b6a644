"""Vulnerable JavaScript libraries, recognised by ``spyglass.scanner.jslibs``'s versioned signatures."""

from __future__ import annotations

from spyglass.scanner import jslibs
from spyglass.scanner.checks.base import CheckContext
from spyglass.scanner.checks.passive._base import CheckBase
from spyglass.scanner.checks.passive._evidence import mark_first, request_excerpt, response_excerpt
from spyglass.scanner.checks.passive.disclosure import script_exchanges
from spyglass.scanner.contract import FindingCandidate


class VulnerableJsLibraryCheck(CheckBase):
    """Reports each same-origin script that is a library version with known vulnerabilities."""

    id = "vulnerable-js-library"
    family = "components"
    active = False

    async def scan(self, ctx: CheckContext) -> None:
        for exchange in await script_exchanges(ctx):
            for detection in jslibs.detect(exchange.url, exchange.body):
                if not detection.vulnerabilities:
                    continue
                ids = sorted({i for v in detection.vulnerabilities for i in v.ids})
                marked = mark_first(exchange.body[:2000], detection.version) or exchange.url
                await ctx.report(
                    FindingCandidate(
                        type_id="vulnerable-js-library",
                        url=exchange.url,
                        parameter=detection.library,
                        evidence=f"{detection.library} {detection.version} ({', '.join(ids)}): {marked}",
                        request=request_excerpt(exchange),
                        response=response_excerpt(exchange, needle=detection.version),
                        confidence="firm" if detection.source == "content" else "tentative",
                        details={
                            "library": detection.library,
                            "version": detection.version,
                            "recognised_by": detection.source,
                            "vulnerabilities": [
                                {
                                    "ids": list(v.ids),
                                    "summary": v.summary,
                                    "fixed_in": v.below,
                                    "severity": v.severity,
                                    "reference": v.reference,
                                }
                                for v in detection.vulnerabilities
                            ],
                        },
                    )
                )


CHECKS = [VulnerableJsLibraryCheck()]
