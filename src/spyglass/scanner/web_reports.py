"""Scan reports over HTTP: a scan's stored findings rendered by ``spyglass.scanner.reports`` as
printable HTML, JSON, CSV or SARIF 2.1.0, as a page link and in the API."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from litestar import Response, get
from litestar.params import PathParameter, QueryParameter
from litestar.types import ControllerRouterHandler
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.auth import CurrentUser, require_user
from spyglass.core.errors import InvalidInput
from spyglass.scanner import service
from spyglass.scanner.contract import SEVERITIES, FindingCandidate
from spyglass.scanner.findings import finding_type_of
from spyglass.scanner.models import Finding, Scan, ScanTarget
from spyglass.scanner.reports import MEDIA_TYPES, REPORT_FORMATS, ReportItem, ReportMeta, render_report

MAX_REPORT_FINDINGS = 10_000
#: The printable report carries its own inline styles and no script at all.
HTML_REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)

Id = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="The scan's id.")]
Format = Annotated[str, QueryParameter(description="html, json, csv or sarif.")]


def report_item(finding: Finding) -> ReportItem:
    """A stored finding as a report item (the catalogue entry with the severity the finding was given)."""
    kind = finding_type_of(finding.type_id, finding.details)
    if finding.severity in SEVERITIES and finding.severity != kind.severity:
        kind = dataclasses.replace(kind, severity=finding.severity)
    candidate = FindingCandidate(
        type_id=finding.type_id,
        url=finding.url,
        method=finding.method,
        parameter=finding.parameter,
        payload=finding.payload,
        evidence=finding.evidence,
        request=finding.request_excerpt,
        response=finding.response_excerpt,
        confidence=finding.confidence,  # type: ignore[arg-type]
        details=dict(finding.details or {}),
    )
    return ReportItem(
        finding=candidate,
        type=kind,
        priority=finding.priority,
        status=finding.effective_status(),
        threat_class=finding.threat_class,
    )


async def build_report(session: AsyncSession, *, scan: Scan, target: ScanTarget) -> tuple[list[ReportItem], ReportMeta]:
    """The items and metadata of one scan's report."""
    rows = (
        await session.scalars(
            select(Finding)
            .where(Finding.scan_id == scan.id, Finding.user_id == scan.user_id)
            .order_by(Finding.priority.desc(), Finding.id)
            .limit(MAX_REPORT_FINDINGS)
        )
    ).all()
    meta = ReportMeta(
        target=target.base_url,
        scan_id=scan.id,
        started_at=scan.started_at,
        finished_at=scan.finished_at,
        profile=scan.profile,
        risk_score=scan.risk_score or 0,
        pages_crawled=scan.pages_crawled,
        requests_sent=scan.requests_sent,
        stopped_reason=scan.stopped_reason,
    )
    return [report_item(row) for row in rows], meta


async def _report(db: AsyncSession, me: CurrentUser, scan_id: int, report_format: str) -> Response[str]:
    if report_format not in REPORT_FORMATS:
        raise InvalidInput(detail={"format": f"Choose one of {', '.join(REPORT_FORMATS)}."})
    scan = await service.get_scan(db, user_id=me.id, scan_id=scan_id)
    target = await service.get_target(db, user_id=me.id, target_id=scan.target_id)
    items, meta = await build_report(db, scan=scan, target=target)
    body = render_report(report_format, items, meta)
    headers = {"cache-control": "no-store"}
    if report_format == "html":
        headers["content-security-policy"] = HTML_REPORT_CSP
    else:
        headers["content-disposition"] = f'attachment; filename="spyglass-scan-{scan.id}.{report_format}"'
    return Response(body, media_type=MEDIA_TYPES[report_format], headers=headers)


@get("/scanner/scans/{scan_id:int}/report", guards=[require_user], include_in_schema=False)
async def report_page(db: AsyncSession, me: CurrentUser, scan_id: Id, format: Format = "html") -> Response[str]:
    """A scan's report: printable HTML, or a JSON, CSV or SARIF download."""
    return await _report(db, me, scan_id, format)


@get(
    "/api/v1/scanner/scans/{scan_id:int}/report",
    guards=[require_user],
    tags=["Security scans"],
    summary="A scan's report",
)
async def report_api(db: AsyncSession, me: CurrentUser, scan_id: Id, format: Format = "json") -> Response[str]:
    """The scan's findings as JSON, CSV, SARIF 2.1.0 or printable HTML (``format``)."""
    return await _report(db, me, scan_id, format)


ROUTES: list[ControllerRouterHandler] = [report_page, report_api]
