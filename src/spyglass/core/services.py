"""The long-lived services of one Spyglass process, built once from the settings and shared by
the web app, the CLI and (later) the workers."""

from __future__ import annotations

from dataclasses import dataclass, field

from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore

from spyglass.accounts.auth import Authenticator
from spyglass.config import Settings
from spyglass.core.cache import Cache
from spyglass.core.db import Database
from spyglass.core.fetch import Fetcher
from spyglass.core.mail import Mailer
from spyglass.core.metrics import Metrics
from spyglass.core.ratelimit import RateLimiter
from spyglass.core.replica import ReplicaRouting, recent_writers
from spyglass.core.session_store import ReplicatedRedisStore
from spyglass.engine.events import RunEvents
from spyglass.engine.metrics import EngineMetrics


@dataclass
class Services:
    """Everything a request or a job needs besides its own data."""

    settings: Settings
    db: Database
    metrics: Metrics
    cache: Cache
    limiter: RateLimiter
    mailer: Mailer
    session_store: Store
    run_events: RunEvents
    fetcher: Fetcher
    authenticator: Authenticator = field(init=False)
    engine_metrics: EngineMetrics = field(init=False)

    def __post_init__(self) -> None:
        self.authenticator = Authenticator(self)
        self.engine_metrics = EngineMetrics(self.metrics)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        metrics = Metrics()
        return cls(
            settings=settings,
            db=_database(settings, metrics),
            metrics=metrics,
            cache=Cache(
                redis_url=settings.redis_url,
                ttls={
                    "users": settings.cache_ttl_sessions,
                    "tokens": settings.cache_ttl_sessions,
                    "settings": settings.cache_ttl_settings,
                    "views": settings.cache_ttl_views,
                    "view_versions": max(settings.cache_ttl_views, 3600),
                    "analytics": settings.cache_ttl_analytics,
                },
                metrics=metrics,
            ),
            limiter=RateLimiter(
                limits={
                    "api": settings.rate_limit_api,
                    "bot_controls": settings.rate_limit_bot_controls,
                    "settings": settings.rate_limit_settings,
                    "login": settings.rate_limit_login,
                    "register": settings.rate_limit_register,
                    "feedback": settings.rate_limit_feedback,
                },
                redis_url=settings.redis_url,
                metrics=metrics,
                enabled=settings.rate_limit_enabled,
            ),
            mailer=Mailer(settings),
            session_store=_session_store(settings),
            run_events=RunEvents(settings.redis_url),
            fetcher=Fetcher(settings),
        )

    async def close(self) -> None:
        await self.fetcher.aclose()
        await self.run_events.close()
        await self.cache.close()
        if isinstance(self.session_store, ReplicatedRedisStore):
            await self.session_store.close()
        await self.db.dispose()


def _database(settings: Settings, metrics: Metrics) -> Database:
    """The primary database, and the read replica with its routing when one is configured."""
    pool_size, pool_timeout = settings.database_pool_size, settings.database_pool_timeout_seconds
    if not settings.database_replica_url:
        return Database(settings.resolved_database_url, pool_size=pool_size, pool_timeout=pool_timeout)
    routing = ReplicaRouting(
        recent_writers(settings.redis_url, settings.database_replica_read_your_writes_seconds),
        retry_seconds=settings.database_replica_retry_seconds,
        reads=metrics.counter(
            "spyglass_db_replica_reads_total",
            "Reads that could use the replica, by where they went (replica, own-write, replica-down).",
            ["target"],
        ),
    )
    return Database(
        settings.resolved_database_url,
        pool_size=pool_size,
        pool_timeout=pool_timeout,
        replica_url=settings.database_replica_url,
        routing=routing,
        replica_connect_timeout=settings.database_replica_connect_timeout_seconds,
    )


def _session_store(settings: Settings) -> Store:
    if settings.redis_url:
        return ReplicatedRedisStore(settings.redis_url, namespace="spyglass:sessions")
    return MemoryStore()
