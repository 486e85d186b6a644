"""Job kinds of the feedback feature: ``admin.alerts``, run every minute in both modes."""

from __future__ import annotations

from typing import Any

from spyglass.engine.context import RunContext
from spyglass.engine.kinds import JobKind, RetryPolicy, register_kind, register_system_schedule
from spyglass.feedback.admin_alerts import check_and_alert

ADMIN_ALERTS_KIND = "admin.alerts"
ADMIN_ALERTS_INTERVAL_SECONDS = 60


async def admin_alerts(ctx: RunContext) -> dict[str, Any]:
    """Tell admins about stopped workers, failure spikes and queue backlogs (idempotent per window)."""
    return await check_and_alert(ctx.services)


register_kind(
    JobKind(
        name=ADMIN_ALERTS_KIND,
        handler=admin_alerts,
        timeout_seconds=50,
        retry=RetryPolicy(max_attempts=2, base_seconds=5, cap_seconds=30),
        description="Alerts admins when workers stop, runs fail a lot or the queue backs up.",
    )
)
register_system_schedule(ADMIN_ALERTS_KIND, interval_seconds=ADMIN_ALERTS_INTERVAL_SECONDS)
