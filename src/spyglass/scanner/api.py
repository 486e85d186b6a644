"""The scanner's JSON API under ``/api/v1/scanner``: targets, ownership checks, scans, findings,
imports and comparison. Every lookup is scoped to the caller; another user's ids answer 404."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import delete, get, patch, post, put
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.auth import CurrentUser, require_user
from spyglass.core.services import Services
from spyglass.scanner import findings, import_service, schedules, schemas, service
from spyglass.scanner.params import CONTROLS, BaseScan, HeadScan, Id, PageNumber, PageSize, TargetFilter
from spyglass.scanner.queries import (
    compare,
    finding_filters,
    get_finding,
    list_findings,
    list_scans,
    list_targets,
    trend,
    verify,
)
from spyglass.web.api_docs import error_responses

TAGS = ["Security scans"]


@get("/api/v1/scanner/targets", guards=[require_user], tags=TAGS, summary="List your scan targets")
async def list_targets_api(
    db: AsyncSession, services: Services, me: CurrentUser, page: PageNumber = 1, size: PageSize = None
) -> dict[str, Any]:
    """Your targets, newest first; scan logins are masked."""
    result = await list_targets(db, services, me.id, page, size)
    return result.to_dict([schemas.target_out(t, services.settings) for t in result.items])


@post(
    "/api/v1/scanner/targets",
    guards=[require_user],
    tags=TAGS,
    summary="Register a target",
    status_code=HTTP_201_CREATED,
    responses=error_responses(400, 401, 409, 422, 429),
)
async def create_target_api(
    db: AsyncSession, services: Services, me: CurrentUser, data: JSONBody[schemas.TargetIn]
) -> dict[str, Any]:
    """Register a website to scan. It starts unverified: publish the token (file, meta tag or DNS
    record) and call verify before running active scans."""
    clean = service.clean_target(data.given(), settings=services.settings)
    target = await service.create_target(
        db, settings=services.settings, fetcher=services.fetcher, user_id=me.id, data=clean
    )
    return schemas.target_out(target, services.settings)


@get("/api/v1/scanner/targets/{target_id:int}", guards=[require_user], tags=TAGS, summary="A target")
async def get_target_api(db: AsyncSession, services: Services, me: CurrentUser, target_id: Id) -> dict[str, Any]:
    """One of your targets with its verification instructions."""
    target = await service.get_target(db, user_id=me.id, target_id=target_id)
    return schemas.target_out(target, services.settings)


@patch(
    "/api/v1/scanner/targets/{target_id:int}",
    guards=[require_user],
    tags=TAGS,
    summary="Change a target",
    responses=error_responses(400, 401, 404, 422, 429),
)
async def update_target_api(
    db: AsyncSession, services: Services, me: CurrentUser, target_id: Id, data: JSONBody[schemas.TargetIn]
) -> dict[str, Any]:
    """Change some fields of a target; a new host must be verified again."""
    target = await service.get_target(db, user_id=me.id, target_id=target_id)
    clean = service.clean_target(data.given(), settings=services.settings, partial=True, existing=target)
    await service.update_target(db, fetcher=services.fetcher, target=target, data=clean)
    return schemas.target_out(target, services.settings)


@delete(
    "/api/v1/scanner/targets/{target_id:int}",
    guards=[require_user],
    tags=TAGS,
    summary="Delete a target",
    status_code=HTTP_204_NO_CONTENT,
)
async def delete_target_api(db: AsyncSession, me: CurrentUser, target_id: Id) -> None:
    """Delete a target with its scans and findings."""
    target = await service.get_target(db, user_id=me.id, target_id=target_id)
    await service.delete_target(db, target=target)


@post(
    "/api/v1/scanner/targets/{target_id:int}/verify",
    guards=[require_user],
    tags=TAGS,
    summary="Check a target's ownership proof",
    status_code=200,
    opt=CONTROLS,
)
async def verify_target_api(
    services: Services, me: CurrentUser, target_id: Id, data: JSONBody[schemas.VerifyIn | None] = None
) -> dict[str, Any]:
    """Look for the token file, the meta tag or the DNS TXT record now; ``verified`` says whether one was found."""
    target, result = await verify(services, me.id, target_id, data.method if data else None)
    return {
        "verified": result.verified,
        "method": result.method.value if result.method else None,
        "message": result.message,
        "target": schemas.target_out(target, services.settings),
    }


@get(
    "/api/v1/scanner/targets/{target_id:int}/schedule", guards=[require_user], tags=TAGS, summary="A target's schedule"
)
async def get_schedule_api(db: AsyncSession, me: CurrentUser, target_id: Id) -> dict[str, Any]:
    """The target's recurring scan: whether it is on, how often, which profile, and when it runs next."""
    target = await service.get_target(db, user_id=me.id, target_id=target_id)
    return (await schedules.get_schedule(db, target)).to_dict()


@put(
    "/api/v1/scanner/targets/{target_id:int}/schedule",
    guards=[require_user],
    tags=TAGS,
    summary="Set a target's recurring scan",
    responses=error_responses(400, 401, 403, 404, 409, 422, 429),
)
async def put_schedule_api(
    db: AsyncSession, services: Services, me: CurrentUser, target_id: Id, data: JSONBody[schemas.ScheduleIn]
) -> dict[str, Any]:
    """Scan the target every ``interval_hours`` (the first an interval from now); active profiles need a
    verified target."""
    target = await service.get_target(db, user_id=me.id, target_id=target_id)
    raw = msgspec.structs.asdict(data)
    return (await schedules.save_schedule(db, settings=services.settings, target=target, raw=raw)).to_dict()


@get("/api/v1/scanner/targets/{target_id:int}/trend", guards=[require_user], tags=TAGS, summary="A target's trend")
async def target_trend_api(db: AsyncSession, me: CurrentUser, target_id: Id) -> dict[str, Any]:
    """Risk score and findings by severity of the target's last finished scans, oldest first."""
    target = await service.get_target(db, user_id=me.id, target_id=target_id)
    return {"target_id": target.id, "scans": [schemas.scan_out(scan) for scan in await trend(db, target)]}


@post(
    "/api/v1/scanner/targets/{target_id:int}/scans",
    guards=[require_user],
    tags=TAGS,
    summary="Start a scan",
    status_code=HTTP_202_ACCEPTED,
    opt=CONTROLS,
    responses=error_responses(400, 401, 403, 404, 409, 422, 429),
)
async def launch_scan_api(
    db: AsyncSession, services: Services, me: CurrentUser, target_id: Id, data: JSONBody[schemas.ScanLaunchIn]
) -> dict[str, Any]:
    """Queue a scan. Active checks (profile ``active``, or custom with active families) need a
    verified target: 403 otherwise."""
    target = await service.get_target(db, user_id=me.id, target_id=target_id)
    profile, families, active = service.parse_launch(data.profile, data.families)
    scan = await service.launch_scan(
        db, settings=services.settings, target=target, profile=profile, families=families, active=active
    )
    return schemas.scan_out(scan)


@post(
    "/api/v1/scanner/targets/{target_id:int}/imports",
    guards=[require_user],
    tags=TAGS,
    summary="Import another scanner's report",
    status_code=HTTP_201_CREATED,
    opt=CONTROLS,
    responses=error_responses(400, 401, 404, 413, 422, 429),
)
async def import_api(
    db: AsyncSession, services: Services, me: CurrentUser, target_id: Id, data: JSONBody[schemas.ImportIn]
) -> dict[str, Any]:
    """Import an OWASP ZAP JSON, Nuclei JSONL, Wapiti JSON or SARIF report into the target as a finished
    scan (findings about other hosts are left out)."""
    target = await service.get_target(db, user_id=me.id, target_id=target_id)
    source, found = import_service.parse_upload(data.content, data.format)
    result = await import_service.import_findings(db, target=target, source=source, imported=found)
    return {
        "scan": schemas.scan_out(result.scan),
        "source": result.source,
        "imported": result.imported,
        "skipped_other_hosts": result.skipped_other_hosts,
    }


@get("/api/v1/scanner/scans", guards=[require_user], tags=TAGS, summary="List your scans")
async def list_scans_api(
    db: AsyncSession,
    services: Services,
    me: CurrentUser,
    page: PageNumber = 1,
    size: PageSize = None,
    target_id: TargetFilter = None,
) -> dict[str, Any]:
    """Your scans, newest first, optionally of one target."""
    result = await list_scans(db, services, me.id, page, size, target_id)
    return result.to_dict([schemas.scan_out(scan) for scan in result.items])


@get("/api/v1/scanner/scans/{scan_id:int}", guards=[require_user], tags=TAGS, summary="A scan")
async def get_scan_api(db: AsyncSession, me: CurrentUser, scan_id: Id) -> dict[str, Any]:
    """A scan's status, counts and risk score (its run's live progress is at /api/v1/runs/{run_id}), and
    ``fixed_findings``: earlier findings this scan found gone (up to 100, highest priority first)."""
    scan = await service.get_scan(db, user_id=me.id, scan_id=scan_id)
    fixed = await findings.fixed_by_scan(db, scan)
    return {**schemas.scan_out(scan), "fixed_findings": [schemas.finding_out(f) for f in fixed]}


@post(
    "/api/v1/scanner/scans/{scan_id:int}/cancel",
    guards=[require_user],
    tags=TAGS,
    summary="Cancel a scan",
    status_code=HTTP_202_ACCEPTED,
    opt=CONTROLS,
)
async def cancel_scan_api(db: AsyncSession, me: CurrentUser, scan_id: Id) -> dict[str, Any]:
    """Cancel a queued scan at once, or ask a running one to stop (within about 2 s)."""
    scan = await service.get_scan(db, user_id=me.id, scan_id=scan_id)
    run_status = await service.cancel_scan(db, scan=scan, user_id=me.id)
    return {"id": scan.id, "status": scan.status, "run_status": run_status}


@get("/api/v1/scanner/scans/{scan_id:int}/findings", guards=[require_user], tags=TAGS, summary="A scan's findings")
async def list_findings_api(
    db: AsyncSession,
    services: Services,
    me: CurrentUser,
    scan_id: Id,
    page: PageNumber = 1,
    size: PageSize = None,
    severity: str | None = None,
    status: str | None = None,
    check: str | None = None,
) -> dict[str, Any]:
    """The scan's findings, highest priority first; filter by ``severity``, ``status`` and ``check`` (type id)."""
    scan = await service.get_scan(db, user_id=me.id, scan_id=scan_id)
    result = await list_findings(db, services, scan, finding_filters(severity, status, check), page, size)
    return result.to_dict([schemas.finding_out(f) for f in result.items])


@get("/api/v1/scanner/findings/{finding_id:int}", guards=[require_user], tags=TAGS, summary="A finding")
async def get_finding_api(db: AsyncSession, me: CurrentUser, finding_id: Id) -> dict[str, Any]:
    """A finding with its evidence (marked parts between [[ and ]]), priority reasons and remediation."""
    finding = await get_finding(db, me.id, finding_id)
    return schemas.finding_out(finding, full=True)


@patch(
    "/api/v1/scanner/findings/{finding_id:int}",
    guards=[require_user],
    tags=TAGS,
    summary="Change a finding's status",
    responses=error_responses(400, 401, 404, 422, 429),
)
async def update_finding_api(
    db: AsyncSession, me: CurrentUser, finding_id: Id, data: JSONBody[schemas.FindingStatusIn]
) -> dict[str, Any]:
    """Mark a finding fixed, a false positive, or an accepted risk for some days; later scans of the
    target keep false positives and accepted risks."""
    finding = await get_finding(db, me.id, finding_id)
    status, note, until = findings.parse_status_change(
        status=data.status, note=data.note, accepted_days=data.accepted_days
    )
    await findings.change_status(db, finding=finding, status=status, note=note, accepted_until=until)
    return schemas.finding_out(finding, full=True)


@get("/api/v1/scanner/compare", guards=[require_user], tags=TAGS, summary="Compare two scans")
async def compare_api(
    db: AsyncSession,
    me: CurrentUser,
    base: BaseScan,
    head: HeadScan,
) -> dict[str, Any]:
    """Findings new in ``head``, still open in both, and fixed (only in ``base``), matched by fingerprint."""
    older, newer, diff = await compare(db, me.id, base, head)
    return {
        "base": schemas.scan_out(older),
        "head": schemas.scan_out(newer),
        "new": [schemas.finding_out(f) for f in diff.new],
        "still_open": [schemas.finding_out(f) for f in diff.still_open],
        "fixed": [schemas.finding_out(f) for f in diff.fixed],
    }


ROUTES: list[ControllerRouterHandler] = [
    list_targets_api,
    create_target_api,
    get_target_api,
    update_target_api,
    delete_target_api,
    verify_target_api,
    get_schedule_api,
    put_schedule_api,
    target_trend_api,
    launch_scan_api,
    import_api,
    list_scans_api,
    get_scan_api,
    cancel_scan_api,
    list_findings_api,
    get_finding_api,
    update_finding_api,
    compare_api,
]
