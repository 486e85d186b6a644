"""Building the finding of an injection point from the exchange that proved it."""

from __future__ import annotations

import re

from spyglass.scanner.checks.base import Exchange, InjectionPoint
from spyglass.scanner.checks.passive._evidence import mark_match, request_excerpt, response_excerpt, without_query
from spyglass.scanner.contract import Confidence, FindingCandidate


def point_finding(
    type_id: str,
    point: InjectionPoint,
    payload: str,
    exchange: Exchange,
    match: re.Match[str] | None = None,
    *,
    evidence: str = "",
    header: str | None = None,
    needle: str | None = None,
    confidence: Confidence = "confirmed",
    **details: object,
) -> FindingCandidate:
    """A finding at the point's URL and parameter; ``match`` (in the body), ``needle`` or ``header`` is marked as
    the proof in the response excerpt."""
    return FindingCandidate(
        type_id=type_id,
        url=without_query(point.url),
        method=point.method.upper(),
        parameter=point.parameter,
        payload=payload,
        evidence=evidence or (mark_match(exchange.body, match) if match else ""),
        request=request_excerpt(exchange, marked=payload),
        response=response_excerpt(exchange, needle=needle or (match.group(0) if match else None), header=header),
        confidence=confidence,
        details=dict(details),
    )
