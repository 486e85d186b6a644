"""The facts on the admin system page: database, versions, migrations, Redis and the backends in use."""

from __future__ import annotations

import asyncio
import platform
from dataclasses import dataclass
from functools import cache

from sqlalchemy.ext.asyncio import AsyncSession

from spyglass import __version__
from spyglass.admin import repository
from spyglass.core.migrations import head_revision
from spyglass.core.services import Services

REDIS_PING_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class SystemReport:
    """What the system page shows."""

    database_backend: str
    database_version: str
    spyglass_version: str
    python_version: str
    migration_current: str | None
    migration_head: str | None
    redis_configured: bool
    redis_reachable: bool | None
    session_backend: str
    cache_backend: str
    rate_limit_backend: str

    @property
    def migrations_up_to_date(self) -> bool:
        return self.migration_current == self.migration_head


@cache
def _head() -> str | None:
    return head_revision()


def _storage_kind(obj: object) -> str:
    return "redis" if "redis" in type(obj).__name__.lower() else "memory"


async def _redis_reachable(services: Services) -> bool:
    try:
        async with asyncio.timeout(REDIS_PING_TIMEOUT_SECONDS):
            return await services.cache.ping()
    except TimeoutError:
        return False


async def system_report(*, db: AsyncSession, services: Services) -> SystemReport:
    """Collect the system facts (reads the migration head from the packaged scripts once per process)."""
    redis_configured = services.settings.redis_url is not None
    return SystemReport(
        database_backend=services.db.backend,
        database_version=await repository.database_version(db),
        spyglass_version=__version__,
        python_version=f"{platform.python_implementation()} {platform.python_version()}",
        migration_current=await repository.migration_revision(db),
        migration_head=await asyncio.to_thread(_head),
        redis_configured=redis_configured,
        redis_reachable=await _redis_reachable(services) if redis_configured else None,
        session_backend=_storage_kind(services.session_store),
        cache_backend=services.cache.backend_name,
        rate_limit_backend=_storage_kind(services.limiter.storage),
    )
