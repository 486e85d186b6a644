"""Entry points of the analytics feature: where its reads go, the admin cache, the days window."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.analytics.admin import admin_analytics
from spyglass.analytics.dashboard import user_dashboard
from spyglass.analytics.freshness import dashboard_stamp
from spyglass.analytics.series import Series
from spyglass.config import Settings
from spyglass.core.db import utcnow
from spyglass.core.errors import InvalidInput, NotFound
from spyglass.core.services import Services

CACHE_NAMESPACE = "analytics"


@asynccontextmanager
async def analytics_session(services: Services) -> AsyncIterator[AsyncSession]:
    """The read session every analytics query runs in.

    Analytics only reads, so this is the one place to point at a read replica when one is configured.
    """
    async with services.db.session(replica_ok=True) as session:
        yield session


def parse_days(value: str | None, settings: Settings) -> int:
    """The window in days from ``?days=`` (the default when absent); InvalidInput when out of range."""
    if value is None or value == "":
        return settings.analytics_default_days
    limit = settings.analytics_max_days
    text = value.strip()
    if not text.isdigit() or not 1 <= int(text) <= limit:
        raise InvalidInput(detail={"days": f"Choose a whole number of days from 1 to {limit}."})
    return int(text)


async def dashboard_for(services: Services, *, user_id: int, days: int) -> dict[str, Any]:
    """One user's dashboard, cached per user and window for ``analytics_dashboard_cache_seconds``.

    The cache key carries :func:`dashboard_stamp`, so a new listing, a finished scan or a finding's new
    status shows at the next read; only what changes without touching the user's rows (another user's
    search marking a shared listing gone) can be up to that many seconds old.
    """
    ttl = services.settings.analytics_dashboard_cache_seconds
    now = utcnow()

    async def load() -> dict[str, Any]:
        overview = await _compute_dashboard(services, user_id=user_id, days=days)
        return {"computed": utcnow().timestamp(), "overview": overview}

    if ttl <= 0:
        return await _compute_dashboard(services, user_id=user_id, days=days)
    async with analytics_session(services) as session:
        stamp = await dashboard_stamp(session, user_id)
    key = f"dashboard:{user_id}:{days}:{now.date().isoformat()}:{stamp}"
    entry = await services.cache.get_or_load(CACHE_NAMESPACE, key, load)
    if now.timestamp() - entry["computed"] > ttl:
        await services.cache.invalidate(CACHE_NAMESPACE, key)
        entry = await services.cache.get_or_load(CACHE_NAMESPACE, key, load)
    return cast(dict[str, Any], entry["overview"])


async def _compute_dashboard(services: Services, *, user_id: int, days: int) -> dict[str, Any]:
    settings = services.settings
    return await user_dashboard(
        lambda: analytics_session(services),
        user_id=user_id,
        days=days,
        now=utcnow(),
        best_deals=settings.analytics_best_deals,
        buckets=settings.analytics_histogram_buckets,
        # SQLite has one writer and cheap local reads: a second connection would only add overhead
        parallel=services.db.backend == "postgresql",
    )


async def admin_overview(services: Services, *, days: int) -> dict[str, Any]:
    """The admin analytics, computed at most once per ``cache_ttl_analytics`` per window."""

    async def load() -> dict[str, Any]:
        computed = await admin_analytics(
            lambda: analytics_session(services),
            days=days,
            now=utcnow(),
            top=services.settings.analytics_top_limit,
            parallel=services.db.backend == "postgresql",
        )
        return {**computed, "computed_at": utcnow().isoformat()}

    return await services.cache.get_or_load(CACHE_NAMESPACE, f"admin:{days}", load)


async def refresh_admin(services: Services) -> None:
    """Forget the cached admin analytics; the next read computes them again."""
    await services.cache.clear_namespace(CACHE_NAMESPACE)


def find_series(overview: dict[str, Any], name: str) -> Series:
    """The series called ``name`` of a dashboard, or NotFound."""
    for series in overview["series"]:
        if series["name"] == name:
            return series
    raise NotFound(f"No such series: {name[:64]!r}.")
