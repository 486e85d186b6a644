"""The scanner's pages under ``/scanner``: targets with verification instructions, the scan launcher,
the live scan page with results and filters, the finding page, history and trend, scan comparison.
Forms post with the CSRF token; errors come back on the form with a message per field."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER
from litestar.types import ControllerRouterHandler
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.auth import CurrentUser, require_user
from spyglass.core.errors import InvalidInput
from spyglass.core.services import Services
from spyglass.scanner import findings, import_service, schedules, schemas, service, verification
from spyglass.scanner.contract import SEVERITIES
from spyglass.scanner.models import Finding, FindingStatus, Scan, ScanStatus, ScanTarget
from spyglass.scanner.params import CONTROLS, BaseScan, HeadScan, Id, PageNumber
from spyglass.scanner.queries import (
    compare,
    finding_filters,
    get_finding,
    latest_scans,
    list_findings,
    list_scans,
    list_targets,
    trend,
    verify,
)
from spyglass.web.templating import flash

SECRET_FORM_FIELDS = {"_csrf_token", "auth_password", "auth_cookie", "auth_header_value", "auth_username"}


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
    targets = await list_targets(db, services, me.id, page)
    latest = await latest_scans(db, me.id, [target.id for target in targets.items])
    return Template(
        "scanner/targets.html",
        context={
            "targets": targets,
            "latest": latest,
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
    scans = await list_scans(db, services, me.id, 1, 20, target.id)
    return Template(
        "scanner/target.html",
        context={
            "target": target,
            "info": schemas.target_out(target, services.settings),
            "scans": scans,
            "trend": await trend(db, target),
            "families": sorted(service.known_families().items()),
            "dns_possible": not verification.is_ip_address(target.host),
            "errors": errors or {},
            "limits": service.LIMITS,
            "form": _target_form(target),
            "schedule": await schedules.get_schedule(db, target),
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
    target, result = await verify(services, me.id, target_id, submitted.get("method") or None)
    if result.verified:
        flash(request, f"Ownership of {target.host} is proven. {result.message}", "success")
    elif service.is_admin_vouched(target):
        flash(request, f"No proof found ({result.message}) The target stays verified by an administrator.", "info")
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


@post("/scanner/targets/{target_id:int}/schedule", guards=[require_user], include_in_schema=False, opt=CONTROLS)
async def schedule_form(
    request: Request[Any, Any, Any], db: AsyncSession, services: Services, me: CurrentUser, target_id: Id
) -> Template | Redirect:
    target = await service.get_target(db, user_id=me.id, target_id=target_id)
    submitted = await request.form()
    raw = {
        "enabled": submitted.get("enabled") == "true",
        "interval_hours": str(submitted.get("interval_hours", "")),
        "profile": submitted.get("schedule_profile"),
        "families": submitted.getall("schedule_families", []),
    }
    try:
        saved = await schedules.save_schedule(db, settings=services.settings, target=target, raw=raw)
    except InvalidInput as exc:
        await db.rollback()
        errors = {f"schedule_{key}": message for key, message in exc.detail.items()}
        return await _target_page(db, services, me, target_id, errors=errors, status_code=422)
    every = f"every {saved.interval_hours} hours" if saved.interval_hours != 1 else "every hour"
    message = f"Recurring {saved.profile} scan {every}." if saved.enabled else "Recurring scans stopped."
    flash(request, message, "success")
    return Redirect(f"/scanner/targets/{target_id}", status_code=HTTP_303_SEE_OTHER)


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
    filters = finding_filters(severity or None, status or None, check or None)
    results = await list_findings(db, services, scan, filters, page)
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
            "fixed": await findings.fixed_by_scan(db, scan),
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
    finding = await get_finding(db, me.id, finding_id)
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
    finding = await get_finding(db, me.id, finding_id)
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
    base: BaseScan,
    head: HeadScan,
) -> Template:
    """Two scans of a target side by side: new, still open and fixed findings."""
    older, newer, diff = await compare(db, me.id, base, head)
    target = await service.get_target(db, user_id=me.id, target_id=newer.target_id)
    return Template("scanner/compare.html", context={"older": older, "newer": newer, "diff": diff, "target": target})


ROUTES: list[ControllerRouterHandler] = [
    targets_page,
    create_target_form,
    target_page,
    edit_target_form,
    delete_target_form,
    verify_target_form,
    launch_scan_form,
    schedule_form,
    import_form,
    scan_page,
    cancel_scan_form,
    finding_page,
    finding_status_form,
    compare_page,
]
