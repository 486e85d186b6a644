"""The queries the scanner's API and pages share: owner-scoped, paginated lists, filters, the trend,
scan comparison and the ownership check (which runs without holding a write transaction)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.core.errors import InvalidInput
from spyglass.core.pagination import Page, PageRequest, paginate
from spyglass.core.services import Services
from spyglass.core.tenancy import get_owned, owned_by
from spyglass.scanner import findings, service, verification
from spyglass.scanner.contract import SEVERITIES
from spyglass.scanner.models import Finding, FindingStatus, Scan, ScanTarget

TREND_POINTS = 30


def page_request(services: Services, page: int, size: int | None = None) -> PageRequest:
    """The page asked for, its size capped by the settings."""
    settings = services.settings
    return PageRequest.from_query(page, size, default_size=settings.default_page_size, max_size=settings.max_page_size)


async def list_targets(
    db: AsyncSession, services: Services, user_id: int, page: int, size: int | None = None
) -> Page[Any]:
    """The user's targets, newest first."""
    statement = owned_by(select(ScanTarget), ScanTarget, user_id).order_by(
        ScanTarget.created_at.desc(), ScanTarget.id.desc()
    )
    return await paginate(db, statement, page_request(services, page, size))


async def list_scans(
    db: AsyncSession, services: Services, user_id: int, page: int, size: int | None = None, target_id: int | None = None
) -> Page[Any]:
    """The user's scans (of one target when given), newest first, mirrored from their runs."""
    statement = owned_by(select(Scan), Scan, user_id).order_by(Scan.created_at.desc(), Scan.id.desc())
    if target_id is not None:
        statement = statement.where(Scan.target_id == target_id)
    result = await paginate(db, statement, page_request(services, page, size))
    for scan in result.items:
        await service.sync_with_run(db, scan)
    return result


#: What a finding type id looks like; anything else is refused before it reaches the database.
CHECK_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def finding_filters(severity: str | None, status: str | None, check: str | None) -> dict[str, str]:
    """The validated result filters (only those given); InvalidInput names each bad one."""
    errors: dict[str, str] = {}
    if severity and severity not in SEVERITIES:
        errors["severity"] = "Choose critical, high, medium, low or info."
    if status and status not in {s.value for s in FindingStatus}:
        errors["status"] = "Choose open, fixed, false_positive or accepted_risk."
    if check and not CHECK_ID.fullmatch(check):
        errors["check"] = "A check id is at most 64 letters, digits, dots, dashes and underscores."
    if errors:
        raise InvalidInput(detail=errors)
    return {k: v for k, v in {"severity": severity, "status": status, "check": check}.items() if v}


async def list_findings(
    db: AsyncSession, services: Services, scan: Scan, filters: dict[str, str], page: int, size: int | None = None
) -> Page[Any]:
    """A scan's findings matching ``filters``, highest priority first."""
    statement = select(Finding).where(Finding.scan_id == scan.id, Finding.user_id == scan.user_id)
    if "severity" in filters:
        statement = statement.where(Finding.severity == filters["severity"])
    if "status" in filters:
        statement = statement.where(Finding.status == filters["status"])
    if "check" in filters:
        statement = statement.where(Finding.type_id == filters["check"])
    statement = statement.order_by(Finding.priority.desc(), Finding.id)
    return await paginate(db, statement, page_request(services, page, size))


async def trend(db: AsyncSession, target: ScanTarget) -> list[Scan]:
    """The target's last finished scans, oldest first (history and trend)."""
    statement = (
        select(Scan)
        .where(Scan.target_id == target.id, Scan.user_id == target.user_id, Scan.finished_at.is_not(None))
        .order_by(Scan.created_at.desc(), Scan.id.desc())
        .limit(TREND_POINTS)
    )
    return list(reversed((await db.scalars(statement)).all()))


async def compare(db: AsyncSession, user_id: int, base: int, head: int) -> tuple[Scan, Scan, findings.ScanDiff]:
    """Two of the user's scans of one target and what changed between them."""
    older = await service.get_scan(db, user_id=user_id, scan_id=base)
    newer = await service.get_scan(db, user_id=user_id, scan_id=head)
    if older.target_id != newer.target_id:
        raise InvalidInput("Compare two scans of the same target.", detail={"head": "Another target's scan."})
    return older, newer, await findings.compare_scans(db, older=older, newer=newer)


async def verify(
    services: Services, user_id: int, target_id: int, method: Any
) -> tuple[ScanTarget, verification.VerificationResult]:
    """Check a target's proof without holding a write transaction during the network round-trips."""
    chosen = service.parse_method(method)
    async with services.db.session() as session:
        target = await service.get_target(session, user_id=user_id, target_id=target_id)
        session.expunge(target)
    result = await verification.verify(
        settings=services.settings,
        fetcher=services.fetcher,
        base_url=target.base_url,
        host=target.host,
        token=target.verification_token,
        method=chosen,
    )
    async with services.db.session(write=True) as session:
        fresh = await service.get_target(session, user_id=user_id, target_id=target_id)
        service.record_verification(fresh, result)
        await session.flush()
        session.expunge(fresh)
    return fresh, result


async def get_finding(db: AsyncSession, user_id: int, finding_id: int) -> Finding:
    """A finding the user owns, or NotFound."""
    return await get_owned(db, Finding, finding_id, user_id, what="finding")


async def latest_scans(db: AsyncSession, user_id: int, target_ids: list[int]) -> dict[int, Scan]:
    """The newest scan of each of these targets (for the targets list)."""
    if not target_ids:
        return {}
    newest = (
        select(func.max(Scan.id))
        .where(Scan.user_id == user_id, Scan.target_id.in_(target_ids))
        .group_by(Scan.target_id)
        .scalar_subquery()
    )
    rows = (await db.scalars(select(Scan).where(Scan.id.in_(newest)))).all()
    return {scan.target_id: scan for scan in rows}
