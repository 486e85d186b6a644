"""Audit log retention: events older than ``settings.audit_retention_days`` are deleted.

``run_retention`` is meant for the periodic maintenance loop; it opens its own
short write transaction so it never holds a request's session.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.audit.repository import delete_events_before
from spyglass.core.db import utcnow

if TYPE_CHECKING:
    from spyglass.core.services import Services

logger = logging.getLogger("spyglass.audit.retention")


async def purge_audit_events(session: AsyncSession, *, older_than: datetime) -> int:
    """Delete the audit events created before ``older_than`` (one statement); the number deleted."""
    if older_than.tzinfo is None:
        raise ValueError("older_than must be timezone-aware (use spyglass.core.db.utcnow())")
    return await delete_events_before(session, older_than)


async def run_retention(services: Services) -> int:
    """Apply the configured retention in its own transaction; logs and returns the number deleted."""
    days = services.settings.audit_retention_days
    cutoff = utcnow() - timedelta(days=days)
    async with services.db.session(write=True) as session:
        deleted = await purge_audit_events(session, older_than=cutoff)
    logger.info(
        "audit retention purged %d events older than %d days",
        deleted,
        days,
        extra={"deleted": deleted, "retention_days": days, "cutoff": cutoff.isoformat()},
    )
    return deleted
