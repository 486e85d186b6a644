"""HTTP routes of the scanner feature: the JSON API under ``/api/v1/scanner`` and the pages under
``/scanner`` (targets with verification instructions, scan launcher, live scan page, results with
filters, finding page, history and trend, scan comparison).

Every lookup is scoped to the signed-in user; another user's ids answer 404.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from litestar import Request, delete, get, patch, post
from litestar.datastructures import UploadFile
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT, HTTP_303_SEE_OTHER
from litestar.types import ControllerRouterHandler
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.auth import CurrentUser, require_user
from spyglass.core.errors import InvalidInput
from spyglass.core.pagination import PageRequest, paginate
from spyglass.core.services import Services
from spyglass.core.tenancy import owned_by
from spyglass.scanner import findings, import_service, schemas, service, web_reports
from spyglass.scanner.contract import SEVERITIES
from spyglass.scanner.models import Finding, FindingStatus, Scan, ScanStatus, ScanTarget
from spyglass.web.api_docs import error_responses
from spyglass.web.templating import flash

Id = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="The object's id.")]
PageNumber = Annotated[int, QueryParameter(ge=1, le=100_000, description="Page number, from 1.")]
PageSize = Annotated[int | None, QueryParameter(ge=1, le=1000, description="Items per page (capped by the server).")]
TAGS = ["Security scans"]
CONTROLS = {"rate_limit": "bot_controls"}
TREND_POINTS = 30
SECRET_FORM_FIELDS = {"_csrf_token", "auth_password", "auth_cookie", "auth_header_value", "auth_username"}


def _page(services: Services, page: int, size: int | None = None) -> PageRequest:
    settings = services.settings
    return PageRequest.from_query(page, size, default_size=settings.default_page_size, max_size=settings.max_page_size)


# --- shared queries ----------------------------------------------------------------------------


async def _targets(db: AsyncSession, services: Services, user_id: int, page: int, size: int | None = None) -> Any:
    statement = owned_by(select(ScanTarget), ScanTarget, user_id).order_by(
        ScanTarget.created_at.desc(), ScanTarget.id.desc()
    )
    return await paginate(db, statement, _page(services, page, size))


async def _scans(
    db: AsyncSession, services: Services, user_id: int, page: int, size: int | None = None, target_id: int | None = None
) -> Any:
    statement = owned_by(select(Scan), Scan, user_id).order_by(Scan.created_at.desc(), Scan.id.desc())
    if target_id is not None:
        statement = statement.where(Scan.target_id == target_id)
    result = await paginate(db, statement, _page(services, page, size))
    for scan in result.items:
        await service.sync_with_run(db, scan)
    return result


def _finding_filters(severity: str | None, status: str | None, check: str | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    if severity and severity not in SEVERITIES:
        errors["severity"] = "Choose critical, high, medium, low or info."
    if status and status not in {s.value for s in FindingStatus}:
        errors["status"] = "Choose open, fixed, false_positive or accepted_risk."
    if check and len(check) > 64:
        errors["check"] = "A check id is at most 64 characters."
    if errors:
        raise InvalidInput(detail=errors)
    return {k: v for k, v in {"severity": severity, "status": status, "check": check}.items() if v}


async def _findings(
    db: AsyncSession, services: Services, scan: Scan, filters: dict[str, str], page: int, size: int | None = None
) -> Any:
    statement = select(Finding).where(Finding.scan_id == scan.id, Finding.user_id == scan.user_id)
    if "severity" in filters:
        statement = statement.where(Finding.severity == filters["severity"])
    if "status" in filters:
        statement = statement.where(Finding.status == filters["status"])
    if "check" in filters:
        statement = statement.where(Finding.type_id == filters["check"])
    statement = statement.order_by(Finding.priority.desc(), Finding.id)
    return await paginate(db, statement, _page(services, page, size))


async def _trend(db: AsyncSession, target: ScanTarget) -> list[Scan]:
    """The target's last finished scans, oldest first (history and trend)."""
    statement = (
        select(Scan)
        .where(Scan.target_id == target.id, Scan.user_id == target.user_id, Scan.finished_at.is_not(None))
        .order_by(Scan.created_at.desc(), Scan.id.desc())
        .limit(TREND_POINTS)
    )
    return list(reversed((await db.scalars(statement)).all()))


async def _compare(db: AsyncSession, user_id: int, base: int, head: int) -> tuple[Scan, Scan, findings.ScanDiff]:
    older = await service.get_scan(db, user_id=user_id, scan_id=base)
    newer = await service.get_scan(db, user_id=user_id, scan_id=head)
    if older.target_id != newer.target_id:
        raise InvalidInput("Compare two scans of the same target.", detail={"head": "Another target's scan."})
    return older, newer, await findings.compare_scans(db, older=older, newer=newer)


async def _verify(services: Services, user_id: int, target_id: int, method: Any) -> tuple[ScanTarget, Any]:
    """Check a target's proof without holding a write transaction during the network round-trips."""
    chosen = service.parse_method(method)
    async with services.db.session() as session:
        target = await service.get_target(session, user_id=user_id, target_id=target_id)
        session.expunge(target)
    from spyglass.scanner import verification

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


# --- JSON API ------------------------------------------------------------------------------------


@get("/api/v1/scanner/targets", guards=[require_user], tags=TAGS, summary="List your scan targets")
async def list_targets_api(
    db: AsyncSession, services: Services, me: CurrentUser, page: PageNumber = 1, size: PageSize = None
) -> dict[str, Any]:
    """Your targets, newest first; scan logins are masked."""
    result = await _targets(db, services, me.id, page, size)
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
    target, result = await _verify(services, me.id, target_id, data.method if data else None)
    return {
        "verified": result.verified,
        "method": result.method.value if result.method else None,
        "message": result.message,
        "target": schemas.target_out(target, services.settings),
    }


@get("/api/v1/scanner/targets/{target_id:int}/trend", guards=[require_user], tags=TAGS, summary="A target's trend")
async def target_trend_api(db: AsyncSession, me: CurrentUser, target_id: Id) -> dict[str, Any]:
    """Risk score and findings by severity of the target's last finished scans, oldest first."""
    target = await service.get_target(db, user_id=me.id, target_id=target_id)
    return {"target_id": target.id, "scans": [schemas.scan_out(scan) for scan in await _trend(db, target)]}


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
    target_id: Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1)] = None,
) -> dict[str, Any]:
    """Your scans, newest first, optionally of one target."""
    result = await _scans(db, services, me.id, page, size, target_id)
    return result.to_dict([schemas.scan_out(scan) for scan in result.items])


@get("/api/v1/scanner/scans/{scan_id:int}", guards=[require_user], tags=TAGS, summary="A scan")
async def get_scan_api(db: AsyncSession, me: CurrentUser, scan_id: Id) -> dict[str, Any]:
    """A scan's status, counts and risk score (its run's live progress is at /api/v1/runs/{run_id})."""
    return schemas.scan_out(await service.get_scan(db, user_id=me.id, scan_id=scan_id))


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
    result = await _findings(db, services, scan, _finding_filters(severity, status, check), page, size)
    return result.to_dict([schemas.finding_out(f) for f in result.items])


@get("/api/v1/scanner/findings/{finding_id:int}", guards=[require_user], tags=TAGS, summary="A finding")
async def get_finding_api(db: AsyncSession, me: CurrentUser, finding_id: Id) -> dict[str, Any]:
    """A finding with its evidence (marked parts between [[ and ]]), priority reasons and remediation."""
    finding = await _get_finding(db, me.id, finding_id)
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
    finding = await _get_finding(db, me.id, finding_id)
    status, note, until = findings.parse_status_change(
        status=data.status, note=data.note, accepted_days=data.accepted_days
    )
    await findings.change_status(db, finding=finding, status=status, note=note, accepted_until=until)
    return schemas.finding_out(finding, full=True)


@get("/api/v1/scanner/compare", guards=[require_user], tags=TAGS, summary="Compare two scans")
async def compare_api(
    db: AsyncSession,
    me: CurrentUser,
    base: Annotated[int, QueryParameter(ge=1, le=2**63 - 1, description="The older scan.")],
    head: Annotated[int, QueryParameter(ge=1, le=2**63 - 1, description="The newer scan.")],
) -> dict[str, Any]:
    """Findings new in ``head``, still open in both, and fixed (only in ``base``), matched by fingerprint."""
    older, newer, diff = await _compare(db, me.id, base, head)
    return {
        "base": schemas.scan_out(older),
        "head": schemas.scan_out(newer),
        "new": [schemas.finding_out(f) for f in diff.new],
        "still_open": [schemas.finding_out(f) for f in diff.still_open],
        "fixed": [schemas.finding_out(f) for f in diff.fixed],
    }


async def _get_finding(db: AsyncSession, user_id: int, finding_id: int) -> Finding:
    from spyglass.core.tenancy import get_owned

    return await get_owned(db, Finding, finding_id, user_id, what="finding")


# --- pages ---------------------------------------------------------------------------------------


def _form_to_target(form: Any) -> dict[str, Any]:
    """The target form's fields in the shape ``service.clean_target`` takes."""
    raw: dict[str, Any] = {key: str(form.get(key, "")) for key in ("name", "base_url")}
    for key in ("include_paths", "exclude_paths"):
        raw[key] = str(form.get(key, ""))
    for key in service.LIMITS:
        if str(form.get(key, "")).strip():
            raw[key] = str(form.get(key))
    kind = str(form.get("auth_kind", ""))
    if kind == "none" or not kind:
        raw["auth"] = None
    else:
        fields: dict[str, str] = {}
        for prefix in ("username", "password"):
            name = str(form.get(f"auth_{prefix}_field", "")).strip()
            if name:
                fields[name] = str(form.get(f"auth_{prefix}", ""))
        raw["auth"] = {
            "kind": kind,
            "cookie": str(form.get("auth_cookie", "")),
            "header_name": str(form.get("auth_header_name", "")),
            "header_value": str(form.get("auth_header_value", "")),
            "login_url": str(form.get("auth_login_url", "")),
            "fields": fields,
        }
    return raw


async def _targets_page(
    db: AsyncSession,
    services: Services,
    me: CurrentUser,
    page: int = 1,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    targets = await _targets(db, services, me.id, page)
    return Template(
        "scanner/targets.html",
        context={
            "targets": targets,
            "is_verified": lambda t: service.is_verified(services.settings, t),
            "form": form or {},
            "errors": errors or {},
            "limits": service.LIMITS,
        },
        status_code=status_code,
    )


@get("/scanner/targets", guards=[require_user], include_in_schema=False)
async def targets_page(db: AsyncSession, services: Services, me: CurrentUser, page: PageNumber = 1) -> Template:
    """Your targets and the form to add one."""
    return await _targets_page(db, services, me, page)


@post("/scanner/targets", guards=[require_user], include_in_schema=False)
async def create_target_form(
    request: Request[Any, Any, Any], db: AsyncSession, services: Services, me: CurrentUser
) -> Template | Redirect:
    submitted = await request.form()
    form = {key: str(value) for key, value in submitted.items() if key not in SECRET_FORM_FIELDS}
    try:
        clean = service.clean_target(_form_to_target(submitted), settings=services.settings)
        target = await service.create_target(
            db, settings=services.settings, fetcher=services.fetcher, user_id=me.id, data=clean
        )
    except InvalidInput as exc:
        return await _targets_page(db, services, me, form=form, errors=exc.detail, status_code=422)
    flash(request, f"Target “{target.name}” added. Prove you own it to run active scans.", "success")
    return Redirect(f"/scanner/targets/{target.id}", status_code=HTTP_303_SEE_OTHER)


async def _target_page(
    db: AsyncSession,
    services: Services,
    me: CurrentUser,
    target_id: int,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    target = await service.get_target(db, user_id=me.id, target_id=target_id)
    scans = await _scans(db, services, me.id, 1, 20, target.id)
    return Template(
        "scanner/target.html",
        context={
            "target": target,
            "info": schemas.target_out(target, services.settings),
            "scans": scans,
            "trend": await _trend(db, target),
            "families": sorted(service.known_families().items()),
            "errors": errors or {},
            "limits": service.LIMITS,
            "form": _target_form(target),
        },
        status_code=status_code,
    )


def _target_form(target: ScanTarget) -> dict[str, Any]:
    """The edit form's values: everything but the scan login's secrets."""
    form: dict[str, Any] = {
        "name": target.name,
        "base_url": target.base_url,
        "include_paths": "\n".join(target.include_paths or []),
        "exclude_paths": "\n".join(target.exclude_paths or []),
        **{key: getattr(target, key) for key in service.LIMITS},
    }
    auth = target.auth or {}
    form["auth_kind"] = auth.get("kind", "none")
    form["auth_header_name"] = auth.get("header_name", "")
    form["auth_login_url"] = auth.get("login_url", "")
    names = list((auth.get("fields") or {}).keys())
    form["auth_username_field"] = names[0] if names else ""
    form["auth_password_field"] = names[1] if len(names) > 1 else ""
    return form


@get("/scanner/targets/{target_id:int}", guards=[require_user], include_in_schema=False)
async def target_page(db: AsyncSession, services: Services, me: CurrentUser, target_id: Id) -> Template:
    """A target: verification instructions, scan launcher, settings, history and trend."""
    return await _target_page(db, services, me, target_id)


@post("/scanner/targets/{target_id:int}/edit", guards=[require_user], include_in_schema=False)
async def edit_target_form(
    request: Request[Any, Any, Any], db: AsyncSession, services: Services, me: CurrentUser, target_id: Id
) -> Template | Redirect:
    target = await service.get_target(db, user_id=me.id, target_id=target_id)
    submitted = await request.form()
    try:
        clean = service.clean_target(
            _form_to_target(submitted), settings=services.settings, partial=True, existing=target
        )
        await service.update_target(db, fetcher=services.fetcher, target=target, data=clean)
    except InvalidInput as exc:
        await db.rollback()
        return await _target_page(db, services, me, target_id, errors=exc.detail, status_code=422)
    flash(request, "Target saved.", "success")
    return Redirect(f"/scanner/targets/{target_id}", status_code=HTTP_303_SEE_OTHER)


@post("/scanner/targets/{target_id:int}/delete", guards=[require_user], include_in_schema=False)
async def delete_target_form(
    request: Request[Any, Any, Any], db: AsyncSession, me: CurrentUser, target_id: Id
) -> Redirect:
    target = await service.get_target(db, user_id=me.id, target_id=target_id)
    await service.delete_target(db, target=target)
    flash(request, f"Target “{target.name}” deleted with its scans.", "success")
    return Redirect("/scanner/targets", status_code=HTTP_303_SEE_OTHER)


@post("/scanner/targets/{target_id:int}/verify", guards=[require_user], include_in_schema=False, opt=CONTROLS)
async def verify_target_form(
    request: Request[Any, Any, Any], services: Services, me: CurrentUser, target_id: Id
) -> Redirect:
    submitted = await request.form()
    target, result = await _verify(services, me.id, target_id, submitted.get("method") or None)
    if result.verified:
        flash(request, f"Ownership of {target.host} is proven. {result.message}", "success")
    else:
        flash(request, f"Not verified yet: {result.message}", "error")
    return Redirect(f"/scanner/targets/{target_id}", status_code=HTTP_303_SEE_OTHER)


@post("/scanner/targets/{target_id:int}/scans", guards=[require_user], include_in_schema=False, opt=CONTROLS)
async def launch_scan_form(
    request: Request[Any, Any, Any], db: AsyncSession, services: Services, me: CurrentUser, target_id: Id
) -> Redirect:
    target = await service.get_target(db, user_id=me.id, target_id=target_id)
    submitted = await request.form()
    profile, families, active = service.parse_launch(submitted.get("profile"), submitted.getall("families", []))
    scan = await service.launch_scan(
        db, settings=services.settings, target=target, profile=profile, families=families, active=active
    )
    return Redirect(f"/scanner/scans/{scan.id}", status_code=HTTP_303_SEE_OTHER)


@post("/scanner/targets/{target_id:int}/imports", guards=[require_user], include_in_schema=False, opt=CONTROLS)
async def import_form(
    request: Request[Any, Any, Any], db: AsyncSession, services: Services, me: CurrentUser, target_id: Id
) -> Template | Redirect:
    target = await service.get_target(db, user_id=me.id, target_id=target_id)
    submitted = await request.form()
    upload = submitted.get("file")
    content = await upload.read() if isinstance(upload, UploadFile) else b""
    try:
        source, found = import_service.parse_upload(content, str(submitted.get("format", "")))
    except InvalidInput as exc:
        errors = exc.detail if isinstance(exc.detail, dict) else {"file": exc.message}
        return await _target_page(db, services, me, target_id, errors=errors, status_code=422)
    result = await import_service.import_findings(db, target=target, source=source, imported=found)
    skipped = f" ({result.skipped_other_hosts} about other hosts left out)" if result.skipped_other_hosts else ""
    flash(request, f"Imported {result.imported} findings from {result.source}{skipped}.", "success")
    return Redirect(f"/scanner/scans/{result.scan.id}", status_code=HTTP_303_SEE_OTHER)


@get("/scanner/scans/{scan_id:int}", guards=[require_user], include_in_schema=False)
async def scan_page(
    db: AsyncSession,
    services: Services,
    me: CurrentUser,
    scan_id: Id,
    page: PageNumber = 1,
    severity: str | None = None,
    status: str | None = None,
    check: str | None = None,
) -> Template:
    """A scan: live progress while it runs, then its findings with filters."""
    scan = await service.get_scan(db, user_id=me.id, scan_id=scan_id)
    target = await service.get_target(db, user_id=me.id, target_id=scan.target_id)
    filters = _finding_filters(severity or None, status or None, check or None)
    results = await _findings(db, services, scan, filters, page)
    checks = (
        await db.execute(
            select(Finding.type_id, Finding.title)
            .where(Finding.scan_id == scan.id)
            .group_by(Finding.type_id, Finding.title)
        )
    ).all()
    earlier = (
        await db.scalars(
            select(Scan.id)
            .where(Scan.target_id == scan.target_id, Scan.user_id == me.id, Scan.id < scan.id)
            .order_by(Scan.id.desc())
            .limit(1)
        )
    ).first()
    return Template(
        "scanner/scan.html",
        context={
            "scan": scan,
            "target": target,
            "results": results,
            "filters": filters,
            "checks": sorted(checks),
            "severities": SEVERITIES,
            "statuses": [s.value for s in FindingStatus],
            "running": not ScanStatus(scan.status).is_terminal,
            "previous_scan_id": earlier,
        },
    )


@post("/scanner/scans/{scan_id:int}/cancel", guards=[require_user], include_in_schema=False, opt=CONTROLS)
async def cancel_scan_form(request: Request[Any, Any, Any], db: AsyncSession, me: CurrentUser, scan_id: Id) -> Redirect:
    scan = await service.get_scan(db, user_id=me.id, scan_id=scan_id)
    run_status = await service.cancel_scan(db, scan=scan, user_id=me.id)
    flash(request, "Scan cancelled." if run_status == "cancelled" else "Stopping the scan…", "success")
    return Redirect(f"/scanner/scans/{scan_id}", status_code=HTTP_303_SEE_OTHER)


@get("/scanner/findings/{finding_id:int}", guards=[require_user], include_in_schema=False)
async def finding_page(db: AsyncSession, me: CurrentUser, finding_id: Id) -> Template:
    """A finding: evidence with the matching part marked, the priority's reasons, remediation, status."""
    finding = await _get_finding(db, me.id, finding_id)
    return _finding_template(finding)


def _finding_template(finding: Finding, errors: dict[str, str] | None = None, status_code: int = 200) -> Template:
    return Template(
        "scanner/finding.html",
        context={
            "finding": finding,
            "info": schemas.finding_out(finding, full=True),
            "highlight": schemas.highlight,
            "statuses": [s.value for s in FindingStatus],
            "errors": errors or {},
        },
        status_code=status_code,
    )


@post("/scanner/findings/{finding_id:int}/status", guards=[require_user], include_in_schema=False)
async def finding_status_form(
    request: Request[Any, Any, Any], db: AsyncSession, me: CurrentUser, finding_id: Id
) -> Template | Redirect:
    finding = await _get_finding(db, me.id, finding_id)
    submitted = await request.form()
    try:
        status, note, until = findings.parse_status_change(
            status=str(submitted.get("status", "")),
            note=str(submitted.get("note", "")),
            accepted_days=str(submitted.get("accepted_days", "")),
        )
    except InvalidInput as exc:
        return _finding_template(finding, errors=exc.detail, status_code=422)
    await findings.change_status(db, finding=finding, status=status, note=note, accepted_until=until)
    flash(request, f"Finding marked {status.replace('_', ' ')}.", "success")
    return Redirect(f"/scanner/findings/{finding_id}", status_code=HTTP_303_SEE_OTHER)


@get("/scanner/compare", guards=[require_user], include_in_schema=False)
async def compare_page(
    db: AsyncSession,
    me: CurrentUser,
    base: Annotated[int, QueryParameter(ge=1, le=2**63 - 1)],
    head: Annotated[int, QueryParameter(ge=1, le=2**63 - 1)],
) -> Template:
    """Two scans of a target side by side: new, still open and fixed findings."""
    older, newer, diff = await _compare(db, me.id, base, head)
    target = await service.get_target(db, user_id=me.id, target_id=newer.target_id)
    return Template("scanner/compare.html", context={"older": older, "newer": newer, "diff": diff, "target": target})


ROUTES: Sequence[ControllerRouterHandler] = [
    list_targets_api,
    create_target_api,
    get_target_api,
    update_target_api,
    delete_target_api,
    verify_target_api,
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
    targets_page,
    create_target_form,
    target_page,
    edit_target_form,
    delete_target_form,
    verify_target_form,
    launch_scan_form,
    import_form,
    scan_page,
    cancel_scan_form,
    finding_page,
    finding_status_form,
    compare_page,
    *web_reports.ROUTES,
]
