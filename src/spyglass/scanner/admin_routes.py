"""The administrators' side of scan targets: ``/admin/scanner/targets`` (every user's targets, vouch
for one or withdraw the vouch) and ``/api/v1/admin/scanner/targets``. Admins only; everyone else gets
a 404, like the rest of the admin area. The rules live in ``scanner.vouching``."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.params import JSONBody, QueryParameter
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.auth import CurrentUser, require_admin
from spyglass.core.errors import Conflict, InvalidInput
from spyglass.core.pagination import Page, paginate
from spyglass.core.services import Services
from spyglass.scanner import vouching
from spyglass.scanner.params import Id, PageNumber, PageSize
from spyglass.scanner.queries import page_request
from spyglass.web.api_docs import error_responses
from spyglass.web.templating import flash

Req = Request[Any, Any, Any]
ADMIN_TAGS = ["admin"]
Search = Annotated[str | None, QueryParameter(description="Host, target name or owner's username contains.")]
VouchedOnly = Annotated[bool, QueryParameter(description="Only the targets an administrator vouches for.")]
#: What the admin API's vouch and withdraw routes share: admins only, 200 with the target, these errors.
API_CHANGE: dict[str, Any] = {
    "guards": [require_admin],
    "tags": ADMIN_TAGS,
    "status_code": 200,
    "responses": error_responses(400, 401, 404, 409, 422, 429),
}


class ReasonIn(msgspec.Struct, forbid_unknown_fields=True):
    """Why an administrator vouches for a target or withdraws the vouch (3-500 characters; audited)."""

    reason: str


async def _search(
    db: AsyncSession, services: Services, q: str | None, vouched: bool, page: int, size: int | None
) -> Page[vouching.AdminTarget]:
    statement = vouching.targets_statement(vouching.parse_search(q), vouched_only=vouched)
    found = await paginate(db, statement, page_request(services, page, size))
    items = await vouching.with_owners(db, found.items)
    return Page(items=items, page=found.page, size=found.size, total=found.total)


@get("/admin/scanner/targets", guards=[require_admin], include_in_schema=False)
async def admin_targets_page(
    db: AsyncSession,
    services: Services,
    q: str | None = None,
    vouched: bool = False,
    page: PageNumber = 1,
    size: PageSize = None,
) -> Template:
    """Every user's scan targets, newest first, searchable by host, name and owner."""
    errors: dict[str, str] = {}
    try:
        found = await _search(db, services, q, vouched, page, size)
    except InvalidInput as exc:
        errors, found = dict(exc.detail), Page(items=[], page=1, size=1, total=0)
    query: dict[str, Any] = {key: value for key, value in {"q": q or "", "vouched": vouched}.items() if value}
    if size is not None:
        query["size"] = size
    context = {
        "section": "targets",
        "filters": {"q": q or "", "vouched": vouched},
        "errors": errors,
        "found": found,
        "pager_query": query,
        "settings": services.settings,
    }
    return Template("admin/targets.html", context=context, status_code=422 if errors else 200)


async def _detail(
    db: AsyncSession, services: Services, target_id: int, *, errors: dict[str, str] | None = None, reason: str = ""
) -> Template:
    found = await vouching.get_admin_target(db, target_id=target_id)
    context = {
        "section": "targets",
        "found": found,
        "info": found.to_dict(services.settings),
        "history": await vouching.vouch_history(db, target=found.target),
        "errors": errors or {},
        "reason": reason,
    }
    return Template("admin/target.html", context=context, status_code=422 if errors else 200)


def _back_to(target_id: int) -> Redirect:
    """After a form: see the target's page again (with the flashed outcome)."""
    return Redirect(f"/admin/scanner/targets/{target_id}", status_code=303)


@get("/admin/scanner/targets/{target_id:int}", guards=[require_admin], include_in_schema=False)
async def admin_target_page(db: AsyncSession, services: Services, target_id: Id) -> Template:
    """A target's owner, verification and vouch history, with the vouch or withdraw form."""
    return await _detail(db, services, target_id)


@post("/admin/scanner/targets/{target_id:int}/vouch", guards=[require_admin], include_in_schema=False)
async def admin_vouch_form(
    request: Req, db: AsyncSession, services: Services, me: CurrentUser, target_id: Id
) -> Template | Redirect:
    """Vouch for a target: it counts as verified until an administrator withdraws it."""
    reason = str((await request.form()).get("reason", ""))
    try:
        found = await vouching.vouch(db, admin=me, target_id=target_id, reason=reason, connection=request)
    except InvalidInput as exc:
        return await _detail(db, services, target_id, errors=dict(exc.detail), reason=reason)
    except Conflict as exc:
        flash(request, exc.message, "info")
        return _back_to(target_id)
    flash(request, f"You vouch for {found.target.base_url}; {found.owner} may run active scans on it.", "success")
    return _back_to(target_id)


@post("/admin/scanner/targets/{target_id:int}/withdraw", guards=[require_admin], include_in_schema=False)
async def admin_withdraw_form(
    request: Req, db: AsyncSession, services: Services, me: CurrentUser, target_id: Id
) -> Template | Redirect:
    """Withdraw the vouch: active scans of the target are refused again (queued or running ones cancelled)."""
    reason = str((await request.form()).get("reason", ""))
    try:
        found, cancelled = await vouching.withdraw(
            db, settings=services.settings, admin=me, target_id=target_id, reason=reason, connection=request
        )
    except InvalidInput as exc:
        return await _detail(db, services, target_id, errors=dict(exc.detail), reason=reason)
    except Conflict as exc:
        flash(request, exc.message, "info")
        return _back_to(target_id)
    stopped = f" {len(cancelled)} active scan(s) of it cancelled." if cancelled else ""
    flash(request, f"The vouch for {found.target.base_url} is withdrawn.{stopped}", "success")
    return _back_to(target_id)


# ---------- admin JSON API ----------


@get("/api/v1/admin/scanner/targets", guards=[require_admin], tags=ADMIN_TAGS, summary="List scan targets (admins)")
async def api_admin_list_targets(
    db: AsyncSession,
    services: Services,
    q: Search = None,
    vouched: VouchedOnly = False,
    page: PageNumber = 1,
    size: PageSize = None,
) -> dict[str, Any]:
    """Every user's scan targets, newest first (no scan-login secrets), filtered by a search text."""
    found = await _search(db, services, q, vouched, page, size)
    return found.to_dict([item.to_dict(services.settings) for item in found.items])


@get(
    "/api/v1/admin/scanner/targets/{target_id:int}",
    guards=[require_admin],
    tags=ADMIN_TAGS,
    summary="A scan target (admins)",
)
async def api_admin_get_target(db: AsyncSession, services: Services, target_id: Id) -> dict[str, Any]:
    """Any user's target, with how it is verified."""
    return (await vouching.get_admin_target(db, target_id=target_id)).to_dict(services.settings)


@post("/api/v1/admin/scanner/targets/{target_id:int}/vouch", summary="Vouch for a scan target (admins)", **API_CHANGE)
async def api_admin_vouch(
    request: Req, db: AsyncSession, services: Services, me: CurrentUser, target_id: Id, data: JSONBody[ReasonIn]
) -> dict[str, Any]:
    """Mark the target verified by an administrator (method ``admin``) until withdrawn; audited with the
    reason. 409 when an administrator already vouches for it."""
    found = await vouching.vouch(db, admin=me, target_id=target_id, reason=data.reason, connection=request)
    return found.to_dict(services.settings)


@post(
    "/api/v1/admin/scanner/targets/{target_id:int}/withdraw",
    summary="Withdraw the vouch for a scan target (admins)",
    **API_CHANGE,
)
async def api_admin_withdraw(
    request: Req, db: AsyncSession, services: Services, me: CurrentUser, target_id: Id, data: JSONBody[ReasonIn]
) -> dict[str, Any]:
    """Withdraw an administrator's vouch: the target is unverified again and its queued or running active
    scans are cancelled (``cancelled_scans``); audited with the reason. 409 when nobody vouches for it."""
    found, cancelled = await vouching.withdraw(
        db, settings=services.settings, admin=me, target_id=target_id, reason=data.reason, connection=request
    )
    return {**found.to_dict(services.settings), "cancelled_scans": cancelled}


ROUTES: list[ControllerRouterHandler] = [
    admin_targets_page,
    admin_target_page,
    admin_vouch_form,
    admin_withdraw_form,
    api_admin_list_targets,
    api_admin_get_target,
    api_admin_vouch,
    api_admin_withdraw,
]
