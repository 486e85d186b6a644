"""HTTP routes of the analytics feature: the user dashboard, the admin analytics, their JSON series
and CSV exports. Charts are drawn in the browser (static/js/analytics.js) from the JSON endpoints."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.auth import CurrentUser, require_admin, require_user
from spyglass.analytics import service
from spyglass.analytics.series import to_csv
from spyglass.audit.service import record
from spyglass.core.services import Services
from spyglass.web.templating import flash

_SERIES_NAME = re.compile(r"[a-z_]{1,64}")


def _csv_response(series: dict[str, Any], prefix: str) -> Response[str]:
    return Response(
        content=to_csv(series),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{prefix}-{series["name"]}.csv"'},
    )


def _series_name(name: str) -> str:
    return name if _SERIES_NAME.fullmatch(name) else "-"  # an unknown name: find_series answers 404


@get("/api/v1/analytics", guards=[require_user], summary="Your dashboard: cards and series")
async def dashboard_api(services: Services, me: CurrentUser, days: str | None = None) -> dict[str, Any]:
    """Cards (active searches, new listings today, best deals, open findings, latest risk) and every series."""
    window = service.parse_days(days, services.settings)
    return await service.dashboard_for(services, user_id=me.id, days=window)


@get("/api/v1/analytics/series", guards=[require_user], summary="One series of your dashboard")
async def dashboard_series_api(
    services: Services, me: CurrentUser, name: str, days: str | None = None
) -> dict[str, Any]:
    window = service.parse_days(days, services.settings)
    overview = await service.dashboard_for(services, user_id=me.id, days=window)
    return service.find_series(overview, _series_name(name))


@get("/api/v1/analytics/series.csv", guards=[require_user], summary="One series of your dashboard as CSV")
async def dashboard_series_csv(
    services: Services, me: CurrentUser, name: str, days: str | None = None
) -> Response[str]:
    window = service.parse_days(days, services.settings)
    overview = await service.dashboard_for(services, user_id=me.id, days=window)
    return _csv_response(service.find_series(overview, _series_name(name)), "spyglass")


@get("/api/v1/admin/analytics", guards=[require_admin], summary="Admin analytics: cards and series (admins)")
async def admin_api(services: Services, days: str | None = None) -> dict[str, Any]:
    """Platform-wide aggregates, cached for ``cache_ttl_analytics`` seconds (``computed_at`` says when)."""
    return await service.admin_overview(services, days=service.parse_days(days, services.settings))


@get("/api/v1/admin/analytics/series", guards=[require_admin], summary="One admin series (admins)")
async def admin_series_api(services: Services, name: str, days: str | None = None) -> dict[str, Any]:
    overview = await service.admin_overview(services, days=service.parse_days(days, services.settings))
    return service.find_series(overview, _series_name(name))


@get("/api/v1/admin/analytics/series.csv", guards=[require_admin], summary="One admin series as CSV")
async def admin_series_csv(services: Services, name: str, days: str | None = None) -> Response[str]:
    overview = await service.admin_overview(services, days=service.parse_days(days, services.settings))
    return _csv_response(service.find_series(overview, _series_name(name)), "spyglass-admin")


@post("/api/v1/admin/analytics/refresh", guards=[require_admin], status_code=200, summary="Recompute (admins)")
async def admin_refresh_api(
    request: Request[Any, Any, Any], services: Services, db: AsyncSession, me: CurrentUser
) -> dict[str, Any]:
    """Forget the cached admin analytics; the next read computes them from the database."""
    await service.refresh_admin(services)
    record(db, "admin.analytics_refreshed", actor_id=me.id, connection=request)
    return {"refreshed": True}


@get("/dashboard", guards=[require_user], include_in_schema=False)
async def dashboard_page(services: Services, me: CurrentUser, days: str | None = None) -> Template:
    """Your dashboard: cards, then each chart with its table and CSV link."""
    window = service.parse_days(days, services.settings)
    overview = await service.dashboard_for(services, user_id=me.id, days=window)
    return Template(
        "analytics/dashboard.html",
        context={"overview": overview, "days": window, "source": "/api/v1/analytics", "choices": _choices(services)},
    )


@get("/admin/analytics", guards=[require_admin], include_in_schema=False)
async def admin_page(services: Services, days: str | None = None) -> Template:
    """Platform analytics for admins, with a button that recomputes them."""
    window = service.parse_days(days, services.settings)
    overview = await service.admin_overview(services, days=window)
    return Template(
        "analytics/admin.html",
        context={
            "section": "analytics",
            "overview": overview,
            "days": window,
            "source": "/api/v1/admin/analytics",
            "choices": _choices(services),
            "cache_seconds": services.settings.cache_ttl_analytics,
        },
    )


@post("/admin/analytics/refresh", guards=[require_admin], include_in_schema=False)
async def admin_refresh_page(
    request: Request[Any, Any, Any], services: Services, db: AsyncSession, me: CurrentUser
) -> Redirect:
    await service.refresh_admin(services)
    record(db, "admin.analytics_refreshed", actor_id=me.id, connection=request)
    flash(request, "Analytics recomputed.", "success")
    return Redirect("/admin/analytics", status_code=303)


def _choices(services: Services) -> list[int]:
    """The windows offered on the pages (the default first, then the usual ones within the limit)."""
    settings = services.settings
    usual = [7, 30, 90, 365]
    return sorted({settings.analytics_default_days, *(d for d in usual if d <= settings.analytics_max_days)})


ROUTES = [
    dashboard_api,
    dashboard_series_api,
    dashboard_series_csv,
    admin_api,
    admin_series_api,
    admin_series_csv,
    admin_refresh_api,
    dashboard_page,
    admin_page,
    admin_refresh_page,
]
