"""Liveness, readiness and Prometheus metrics endpoints."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import MediaType, Response, get
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from spyglass.core.services import Services

READY_TIMEOUT_SECONDS = 3.0


@get("/health", media_type=MediaType.JSON, opt={"rate_limit": "none"}, include_in_schema=False, sync_to_thread=False)
def health() -> dict[str, str]:
    """Liveness: the process answers. Touches no database."""
    return {"status": "ok"}


async def readiness_checks(services: Services) -> dict[str, str]:
    """``ok`` or the reason for each dependency the app needs to serve requests."""
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            async with services.db.session() as session:
                await session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}: {exc}"[:300]
    if services.settings.redis_url:
        try:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS):
                ok = await services.cache.ping()
            checks["redis"] = "ok" if ok else "unavailable: no answer to PING"
        except Exception as exc:
            checks["redis"] = f"unavailable: {type(exc).__name__}"
    return checks


@get("/ready", media_type=MediaType.JSON, opt={"rate_limit": "none"}, include_in_schema=False)
async def ready(services: Services) -> Response[dict[str, Any]]:
    """Readiness: 200 when the database (and Redis, when configured) answer; 503 with the reasons otherwise."""
    checks = await readiness_checks(services)
    healthy = all(value == "ok" for value in checks.values())
    return Response(
        {"status": "ok" if healthy else "unavailable", "checks": checks}, status_code=200 if healthy else 503
    )


@get("/metrics", opt={"rate_limit": "none"}, include_in_schema=False)
async def metrics(services: Services) -> Response[bytes]:
    """Prometheus text exposition."""
    return Response(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)


ROUTES = [health, ready, metrics]
