"""Job kinds of the notifications feature, registered with the engine at import time.

- ``notifications.dispatch`` (every minute): delivers the outbox, then keeps watching it for
  ``notifications_linger_seconds`` (woken at once by commits in the same process, polling otherwise),
  so delivery latency does not wait for the next schedule.
- Every engine that executes runs (``spyglass serve``, each ``spyglass worker``) keeps a resident
  dispatcher alive as long as it runs, so there is no gap between two scheduled runs; the scheduled job
  then has nothing to do in that process. Several workers share the outbox through the claims (leases,
  ``FOR UPDATE SKIP LOCKED``) and are all woken by PostgreSQL's NOTIFY (``wake.py``).
- ``notifications.digest`` (every 15 minutes): turns due digests into notifications.
- ``notifications.weekly_summary`` (hourly): last week's summary for subscribed users, once per week each.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from spyglass.engine.context import RunContext
from spyglass.engine.engine import register_resident_loop
from spyglass.engine.kinds import JobKind, RetryPolicy, register_kind, register_system_schedule
from spyglass.notifications.digest import send_due_digests
from spyglass.notifications.dispatcher import OutboxDispatcher
from spyglass.notifications.summary import send_weekly_summaries

if TYPE_CHECKING:
    from spyglass.core.services import Services

DISPATCH_KIND = "notifications.dispatch"
DIGEST_KIND = "notifications.digest"
SUMMARY_KIND = "notifications.weekly_summary"
DISPATCH_INTERVAL_SECONDS = 60
DIGEST_INTERVAL_SECONDS = 900
SUMMARY_INTERVAL_SECONDS = 3600


#: Services whose process runs a resident dispatcher right now (the scheduled job skips those).
_resident: set[int] = set()


async def resident_dispatch(services: Services) -> None:
    """Deliver the outbox for as long as the engine runs: woken at once by commits in this process and, on
    PostgreSQL, in any other."""
    _resident.add(id(services))
    try:
        await OutboxDispatcher(services).run(linger_seconds=math.inf)
    finally:
        _resident.discard(id(services))


async def dispatch(ctx: RunContext) -> dict[str, Any]:
    """Deliver pending notifications (a crashed run's claims are taken over once their lease ends)."""
    if id(ctx.services) in _resident:
        return {"processed": 0, "resident": True}
    dispatcher = OutboxDispatcher(ctx.services)
    processed = await dispatcher.run(linger_seconds=ctx.services.settings.notifications_linger_seconds)
    return {"processed": processed}


async def digest(ctx: RunContext) -> dict[str, Any]:
    """Write the digests that are due."""
    return {"digests": await send_due_digests(ctx.services)}


async def weekly_summary(ctx: RunContext) -> dict[str, Any]:
    """Queue last week's summaries (idempotent per user and week)."""
    return {"users": await send_weekly_summaries(ctx.services)}


register_kind(
    JobKind(
        name=DISPATCH_KIND,
        handler=dispatch,
        # Linger (at most 3000 s by the settings' bound) plus time to finish the last batch.
        timeout_seconds=3300,
        retry=RetryPolicy(max_attempts=2, base_seconds=5, cap_seconds=30),
        description="Delivers the notification outbox to email and Apprise channels.",
    )
)
register_kind(
    JobKind(
        name=DIGEST_KIND,
        handler=digest,
        timeout_seconds=600,
        retry=RetryPolicy(max_attempts=3, base_seconds=30, cap_seconds=300),
        description="Gathers events of channels in digest mode into one notification.",
    )
)
register_kind(
    JobKind(
        name=SUMMARY_KIND,
        handler=weekly_summary,
        timeout_seconds=1800,
        retry=RetryPolicy(max_attempts=3, base_seconds=60, cap_seconds=600),
        description="Sends each subscribed user a summary of last week.",
    )
)
register_resident_loop("notifications", resident_dispatch)
register_system_schedule(DISPATCH_KIND, interval_seconds=DISPATCH_INTERVAL_SECONDS)
register_system_schedule(SUMMARY_KIND, interval_seconds=SUMMARY_INTERVAL_SECONDS)
register_system_schedule(DIGEST_KIND, interval_seconds=DIGEST_INTERVAL_SECONDS)
