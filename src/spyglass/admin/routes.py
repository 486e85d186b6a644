"""The admin pages under ``/admin`` (admins only; everyone else gets a 404), and the admin API's
routes from ``admin.api_routes``. Changes are CSRF-protected POST forms that flash a message and
redirect back (post/redirect/get)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, QueryParameter
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.auth import CurrentUser, forget_user, require_admin
from spyglass.admin import service
from spyglass.admin.api_routes import ROUTES as API_ROUTES
from spyglass.admin.schemas import (
    ROLES,
    PageNumber,
    PageSize,
    UserId,
    known_actions,
    parse_audit_filters,
    parse_user_query,
)
from spyglass.admin.stats import dashboard_totals
from spyglass.admin.system import system_report
from spyglass.core.db import utcnow
from spyglass.core.errors import Forbidden, InvalidInput
from spyglass.core.pagination import Page, PageRequest
from spyglass.core.services import Services
from spyglass.market.quotas import parse_override
from spyglass.web.templating import flash

FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
Req = Request[Any, Any, Any]


def _empty_page(request: PageRequest) -> Page[Any]:
    return Page(items=[], page=request.page, size=request.size, total=0)


def _pager_query(values: dict[str, Any], size: int | None) -> dict[str, Any]:
    query = {key: value for key, value in values.items() if value not in (None, "")}
    if size is not None:
        query["size"] = size
    return query


async def commit_and_forget(db: AsyncSession, services: Services, user_id: int) -> None:
    """Commit a user-row change, then drop the cached user: in this order, so no concurrent
    request can put the old row back into the cache between the two."""
    await db.commit()
    await forget_user(services, user_id)


class AdminPages(Controller):
    """Dashboard, users, audit log, cache and system pages."""

    path = "/admin"
    guards = [require_admin]
    include_in_schema = False

    @get("/", name="admin:dashboard")
    async def dashboard(self, db: AsyncSession) -> Template:
        """Totals and the latest activity."""
        totals = await dashboard_totals(db, now=utcnow())
        recent = await service.recent_activity(db=db)
        return Template("admin/dashboard.html", context={"section": "dashboard", "totals": totals, "recent": recent})

    @get("/users", name="admin:users")
    async def users(
        self,
        db: AsyncSession,
        services: Services,
        q: str | None = None,
        role: str | None = None,
        active: str | None = None,
        page: PageNumber = None,
        size: PageSize = None,
    ) -> Template:
        """Search and filter users."""
        request = service.page_request(services, page, size)
        filters = {"q": q or "", "role": role or "", "active": active or ""}
        errors: dict[str, str] = {}
        try:
            query = parse_user_query(search=q, role=role, active=active)
            found = await service.list_users(db=db, query=query, page=request)
        except InvalidInput as exc:
            errors, found = dict(exc.detail), _empty_page(request)
        context = {
            "section": "users",
            "filters": filters,
            "errors": errors,
            "roles": ROLES,
            "found": found,
            "pager_query": _pager_query(filters, size),
        }
        return Template("admin/users.html", context=context, status_code=422 if errors else 200)

    @get("/users/{user_id:int}", name="admin:user")
    async def user_detail(
        self, db: AsyncSession, services: Services, me: CurrentUser, user_id: UserId, page: PageNumber = None
    ) -> Template:
        """A user's profile, admin actions, rate limits and activity."""
        target = await service.get_user(db=db, user_id=user_id)
        limits = await service.rate_limits(services=services, user=target)
        activity = await service.user_activity(
            db=db, user_id=target.id, page=service.page_request(services, page, None)
        )
        context = {
            "section": "users",
            "target": target,
            "is_me": target.id == me.id,
            "limits": limits,
            "market_quotas": await service.market_quotas_of(db=db, services=services, user_id=target.id),
            "settings": services.settings,
            "activity": activity,
        }
        return Template("admin/user_detail.html", context=context)

    @post("/users/{user_id:int}/market-quotas", name="admin:user-market-quotas")
    async def set_market_quotas(
        self, request: Req, db: AsyncSession, services: Services, me: CurrentUser, user_id: UserId, data: FormData
    ) -> Redirect:
        """Set a user's market quotas (empty fields: the global settings)."""
        fields = {name: data.get(name) for name in ("max_searches", "min_interval_seconds")}
        try:
            override = parse_override(fields)
        except InvalidInput as exc:
            return _refused(request, exc, user_id)
        await service.set_market_quotas(
            db=db, services=services, admin=me, user_id=user_id, override=override, connection=request
        )
        target = await service.get_user(db=db, user_id=user_id)
        flash(request, f"The market quotas of {target.username} are saved.", "success")
        return _back_to(user_id)

    @post("/users/{user_id:int}/role", name="admin:user-role")
    async def change_role(
        self, request: Req, db: AsyncSession, services: Services, me: CurrentUser, user_id: UserId, data: FormData
    ) -> Redirect:
        """Make a user an admin, or a regular user again."""
        role = str(data.get("role", "")).strip().lower()
        try:
            changed = await service.change_role(db=db, admin=me, user_id=user_id, role=role, connection=request)
        except (Forbidden, InvalidInput) as exc:
            return _refused(request, exc, user_id)
        target = await service.get_user(db=db, user_id=user_id)
        await commit_and_forget(db, services, user_id)
        title = "an admin" if role == "admin" else "a regular user"
        flash(request, f"{target.username} is {'now' if changed else 'already'} {title}.", "success")
        return _back_to(user_id)

    @post("/users/{user_id:int}/deactivate", name="admin:user-deactivate")
    async def deactivate(
        self, request: Req, db: AsyncSession, services: Services, me: CurrentUser, user_id: UserId
    ) -> Redirect:
        """Deactivate an account: its sessions and API tokens stop working at once."""
        try:
            changed = await service.deactivate_user(db=db, admin=me, user_id=user_id, connection=request)
        except Forbidden as exc:
            return _refused(request, exc, user_id)
        target = await service.get_user(db=db, user_id=user_id)
        await commit_and_forget(db, services, user_id)
        if changed:
            flash(
                request, f"{target.username} is deactivated; their sessions and API tokens no longer work.", "success"
            )
        else:
            flash(request, f"{target.username} was already deactivated.", "info")
        return _back_to(user_id)

    @post("/users/{user_id:int}/reactivate", name="admin:user-reactivate")
    async def reactivate(
        self, request: Req, db: AsyncSession, services: Services, me: CurrentUser, user_id: UserId
    ) -> Redirect:
        """Let a deactivated user sign in again."""
        changed = await service.reactivate_user(db=db, admin=me, user_id=user_id, connection=request)
        target = await service.get_user(db=db, user_id=user_id)
        await commit_and_forget(db, services, user_id)
        message = "is reactivated and can sign in again" if changed else "was already active"
        flash(request, f"{target.username} {message}.", "success" if changed else "info")
        return _back_to(user_id)

    @post("/users/{user_id:int}/rate-limits/reset", name="admin:user-rate-limits-reset")
    async def reset_rate_limits(
        self, request: Req, db: AsyncSession, services: Services, me: CurrentUser, user_id: UserId
    ) -> Redirect:
        """Empty every rate-limit window of the user."""
        await service.reset_rate_limits(db=db, services=services, admin=me, user_id=user_id, connection=request)
        target = await service.get_user(db=db, user_id=user_id)
        flash(request, f"The rate limits of {target.username} are reset.", "success")
        return _back_to(user_id)

    @get("/audit", name="admin:audit")
    async def audit(
        self,
        db: AsyncSession,
        services: Services,
        username: str | None = None,
        action: str | None = None,
        date_from: Annotated[str | None, QueryParameter(name="from", required=False)] = None,
        date_to: Annotated[str | None, QueryParameter(name="to", required=False)] = None,
        page: PageNumber = None,
        size: PageSize = None,
    ) -> Template:
        """The audit log, filtered by user, action and dates."""
        request = service.page_request(services, page, size)
        filters = {"username": username or "", "action": action or "", "from": date_from or "", "to": date_to or ""}
        errors: dict[str, str] = {}
        try:
            parsed = parse_audit_filters(username=username, action=action, date_from=date_from, date_to=date_to)
            found = await service.search_audit(db=db, filters=parsed, page=request)
        except InvalidInput as exc:
            errors, found = dict(exc.detail), _empty_page(request)
        context = {
            "section": "audit",
            "filters": filters,
            "errors": errors,
            "actions": known_actions(),
            "found": found,
            "pager_query": _pager_query(filters, size),
        }
        return Template("admin/audit.html", context=context, status_code=422 if errors else 200)

    @get("/cache", name="admin:cache")
    async def cache(self, services: Services) -> Template:
        """Cache backend, TTLs and hit/miss counts per namespace."""
        ttls = services.cache.describe()["ttls"]
        rows = [
            {
                "name": name,
                "ttl": services.cache.ttl(name) if name in ttls else None,
                "stats": services.cache.stats.get(name),
            }
            for name in service.cache_namespaces(services)
        ]
        return Template(
            "admin/cache.html", context={"section": "cache", "backend": services.cache.backend_name, "rows": rows}
        )

    @post("/cache/clear", name="admin:cache-clear")
    async def clear_cache(
        self, request: Req, db: AsyncSession, services: Services, me: CurrentUser, data: FormData
    ) -> Redirect:
        """Clear one namespace (``namespace`` field) or all of them (``all`` field)."""
        namespace = None if data.get("all") else str(data.get("namespace", "")).strip()
        try:
            cleared = await service.clear_cache(
                db=db, services=services, admin=me, namespace=namespace, connection=request
            )
        except InvalidInput as exc:
            flash(request, exc.detail.get("namespace", exc.message), "error")
            return Redirect(path="/admin/cache", status_code=303)
        what = "Every cache namespace was" if namespace is None else f"The {cleared[0]} cache was"
        flash(request, f"{what} cleared.", "success")
        return Redirect(path="/admin/cache", status_code=303)

    @get("/system", name="admin:system")
    async def system(self, db: AsyncSession, services: Services) -> Template:
        """Database, versions, migrations, Redis and backends."""
        report = await system_report(db=db, services=services)
        return Template("admin/system.html", context={"section": "system", "report": report})


def _back_to(user_id: int) -> Redirect:
    return Redirect(path=f"/admin/users/{user_id}", status_code=303)


def _refused(request: Req, exc: Forbidden | InvalidInput, user_id: int) -> Redirect:
    message = exc.message
    if isinstance(exc, InvalidInput) and isinstance(exc.detail, dict):
        message = " ".join(str(value) for value in exc.detail.values()) or message
    flash(request, message, "error")
    return _back_to(user_id)


ROUTES: list[ControllerRouterHandler] = [AdminPages, *API_ROUTES]
