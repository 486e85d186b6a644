"""Retention jobs: old finished runs and market listings gone for a while are deleted in batches.

Each batch is its own short write transaction, so neither SQLite's single writer nor PostgreSQL's row locks
are held for long, and a sweep interrupted by a crash simply continues on its next run (deleting what is
already gone deletes nothing: the jobs are idempotent). The audit log has its own sweep (audit/tasks.py).

What else goes with a deleted row is decided by the foreign keys: a listing takes its matches, price
history, favourites and alerts with it (ON DELETE CASCADE); a deleted run leaves its scan with no run
(ON DELETE SET NULL). A deleted listing that anchors a cross-post group (``group_id`` names it) first hands
the group to its oldest remaining member, so the group survives instead of falling apart (the foreign key's
ON DELETE SET NULL is the backstop).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.core.db import utcnow
from spyglass.engine.kinds import JobKind, RetryPolicy, register_kind, register_system_schedule
from spyglass.engine.models import Run, RunStatus
from spyglass.market.models import Listing, ListingStatus

if TYPE_CHECKING:
    from sqlalchemy.sql import Select

    from spyglass.core.services import Services
    from spyglass.engine.context import RunContext

logger = logging.getLogger("spyglass.retention")

RUNS_KIND = "retention.runs"
LISTINGS_KIND = "retention.gone_listings"
TERMINAL = [RunStatus.SUCCEEDED.value, RunStatus.FAILED.value, RunStatus.CANCELLED.value]


async def _delete_in_batches(
    services: Services,
    model: Any,
    ids: Select[Any],
    batch_size: int,
    before_delete: Callable[[AsyncSession, list[int]], Awaitable[None]] | None = None,
) -> int:
    deleted = 0
    while True:
        async with services.db.session(write=True) as session:
            batch = list((await session.scalars(ids.order_by(model.id).limit(batch_size))).all())
            if batch:
                if before_delete is not None:
                    await before_delete(session, batch)
                await session.execute(delete(model).where(model.id.in_(batch)))
        deleted += len(batch)
        if len(batch) < batch_size:
            return deleted


async def purge_finished_runs(services: Services) -> int:
    """Delete runs that finished more than ``retention_runs_days`` ago; the number deleted."""
    cutoff = utcnow() - timedelta(days=services.settings.retention_runs_days)
    old = select(Run.id).where(Run.status.in_(TERMINAL), Run.finished_at < cutoff)
    return await _delete_in_batches(services, Run, old, services.settings.retention_batch_size)


async def regroup_before_delete(session: AsyncSession, doomed: list[int]) -> None:
    """Move each group anchored by a listing in ``doomed`` to its oldest member that is not in ``doomed``."""
    survivors = (
        await session.execute(
            select(Listing.group_id, func.min(Listing.id))
            .where(Listing.group_id.in_(doomed), Listing.id.not_in(doomed))
            .group_by(Listing.group_id)
        )
    ).all()
    for old_anchor, new_anchor in survivors:
        await session.execute(update(Listing).where(Listing.group_id == old_anchor).values(group_id=new_anchor))


async def purge_gone_listings(services: Services) -> int:
    """Delete listings marked gone and not seen for ``retention_gone_listings_days``; the number deleted."""
    cutoff = utcnow() - timedelta(days=services.settings.retention_gone_listings_days)
    old = select(Listing.id).where(Listing.status == ListingStatus.GONE.value, Listing.last_seen_at < cutoff)
    return await _delete_in_batches(
        services, Listing, old, services.settings.retention_batch_size, before_delete=regroup_before_delete
    )


async def runs_retention(ctx: RunContext) -> dict[str, Any]:
    deleted = await purge_finished_runs(ctx.services)
    logger.info("run retention deleted %d runs", deleted, extra={"deleted": deleted})
    return {"deleted": deleted}


async def listings_retention(ctx: RunContext) -> dict[str, Any]:
    deleted = await purge_gone_listings(ctx.services)
    logger.info("listing retention deleted %d gone listings", deleted, extra={"deleted": deleted})
    return {"deleted": deleted}


register_kind(
    JobKind(
        name=RUNS_KIND,
        handler=runs_retention,
        timeout_seconds=1800,
        retry=RetryPolicy(max_attempts=3, base_seconds=60, cap_seconds=900),
        description="Deletes finished runs older than SPYGLASS_RETENTION_RUNS_DAYS.",
    )
)
register_kind(
    JobKind(
        name=LISTINGS_KIND,
        handler=listings_retention,
        timeout_seconds=1800,
        retry=RetryPolicy(max_attempts=3, base_seconds=60, cap_seconds=900),
        description="Deletes market listings gone for SPYGLASS_RETENTION_GONE_LISTINGS_DAYS.",
    )
)
register_system_schedule(RUNS_KIND, interval_seconds=3600)
register_system_schedule(LISTINGS_KIND, interval_seconds=3600)
