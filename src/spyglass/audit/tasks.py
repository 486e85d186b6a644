"""Audit jobs: the retention sweep, run by the engine every hour in both modes."""

from __future__ import annotations

from typing import Any

from spyglass.audit.retention import run_retention
from spyglass.engine.context import RunContext
from spyglass.engine.kinds import JobKind, RetryPolicy, register_kind, register_system_schedule

RETENTION_KIND = "audit.retention"


async def retention(ctx: RunContext) -> dict[str, Any]:
    """Delete audit events older than ``SPYGLASS_AUDIT_RETENTION_DAYS``."""
    return {"deleted": await run_retention(ctx.services)}


register_kind(
    JobKind(
        name=RETENTION_KIND,
        handler=retention,
        timeout_seconds=600,
        retry=RetryPolicy(max_attempts=3, base_seconds=60, cap_seconds=900),
        description="Deletes audit events older than the retention period.",
    )
)
register_system_schedule(RETENTION_KIND, interval_seconds=3600)
