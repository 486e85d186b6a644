"""Admin alerts: tell every active admin when workers stop heartbeating, when the share of failed runs
spikes, or when due runs wait too long in the queue.

The ``admin.alerts`` job (``tasks.py``) runs :func:`check_and_alert` every minute. Each alert is one
outbox notification per admin under a key that names the condition and its window, so a re-run (a
retried job, two leaders, a condition that lasts) never tells an admin twice:

- a stopped worker: once per stop (the key holds the worker and its last heartbeat);
- a failure spike or a backlog: once per ``admin_alert_repeat_seconds`` window while it lasts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.models import Role, User
from spyglass.config import Settings
from spyglass.core.db import utcnow
from spyglass.core.services import Services
from spyglass.engine.models import Run, RunStatus, WorkerHeartbeat
from spyglass.notifications.outbox import EVENT_ADMIN_ALERT, notify

__all__ = ["EVENT_ADMIN_ALERT", "Alert", "check_and_alert", "find_alerts", "notify_admins"]

WORKER_STOPPED = "worker_stopped"
FAILURE_SPIKE = "failure_spike"
QUEUE_BACKLOG = "queue_backlog"


@dataclass(frozen=True)
class Alert:
    """One condition worth an admin's attention; ``key`` identifies it within its window."""

    condition: str
    key: str
    title: str
    detail: str
    severity: str = "warning"

    def payload(self, base_url: str) -> dict[str, Any]:
        return {
            "condition": self.condition,
            "title": self.title,
            "detail": self.detail,
            "severity": self.severity,
            "link": f"{base_url}/admin/engine",
        }


def window_of(now: datetime, seconds: int) -> int:
    """The number of the ``seconds``-long window ``now`` falls in (the same for every process)."""
    return int(now.timestamp()) // seconds


async def stopped_workers(session: AsyncSession, *, settings: Settings, now: datetime) -> list[Alert]:
    """One alert per worker whose last heartbeat is older than ``admin_alert_worker_stale_seconds``."""
    stale_before = now - timedelta(seconds=settings.admin_alert_worker_stale_seconds)
    workers = await session.scalars(
        select(WorkerHeartbeat).where(WorkerHeartbeat.last_seen_at < stale_before).order_by(WorkerHeartbeat.worker_id)
    )
    alerts = []
    for worker in workers:
        silent = int((now - worker.last_seen_at).total_seconds())
        alerts.append(
            Alert(
                condition=WORKER_STOPPED,
                key=f"{WORKER_STOPPED}:{worker.worker_id}:{int(worker.last_seen_at.timestamp())}",
                title=f"Worker {worker.worker_id} stopped heartbeating",
                detail=(
                    f"The worker {worker.worker_id} (host {worker.hostname}, pid {worker.pid}, {worker.mode} mode) "
                    f"last reported {silent} s ago, at {worker.last_seen_at:%Y-%m-%d %H:%M:%S} UTC, with "
                    f"{worker.running} runs in hand. Its runs go back to the queue when their leases expire."
                ),
                severity="critical",
            )
        )
    return alerts


async def failure_spike(session: AsyncSession, *, settings: Settings, now: datetime) -> Alert | None:
    """An alert when, of the runs finished in the last ``admin_alert_failure_window_seconds`` (at least
    ``admin_alert_failure_min_runs``), the share that failed reaches ``admin_alert_failure_rate``."""
    since = now - timedelta(seconds=settings.admin_alert_failure_window_seconds)
    rows = await session.execute(
        select(Run.status, func.count())
        .where(
            Run.finished_at >= since,
            Run.finished_at <= now,
            Run.status.in_([RunStatus.SUCCEEDED.value, RunStatus.FAILED.value]),
        )
        .group_by(Run.status)
    )
    counts = {status: int(count) for status, count in rows.all()}
    failed = counts.get(RunStatus.FAILED.value, 0)
    finished = failed + counts.get(RunStatus.SUCCEEDED.value, 0)
    if finished < settings.admin_alert_failure_min_runs or failed / finished < settings.admin_alert_failure_rate:
        return None
    minutes = settings.admin_alert_failure_window_seconds // 60
    window = window_of(now, settings.admin_alert_repeat_seconds)
    return Alert(
        condition=FAILURE_SPIKE,
        key=f"{FAILURE_SPIKE}:{window}",
        title=f"{failed / finished:.0%} of runs failed in the last {minutes} minutes",
        detail=(
            f"{failed} of the {finished} runs that finished in the last {minutes} minutes failed "
            f"(alert threshold {settings.admin_alert_failure_rate:.0%}). The failed runs and their errors "
            "are on the jobs page."
        ),
    )


async def queue_backlog(session: AsyncSession, *, settings: Settings, now: datetime) -> Alert | None:
    """An alert when at least ``admin_alert_queue_count`` queued runs were due more than
    ``admin_alert_queue_wait_seconds`` ago."""
    due_before = now - timedelta(seconds=settings.admin_alert_queue_wait_seconds)
    waiting, oldest = (
        await session.execute(
            select(func.count(), func.min(Run.not_before)).where(
                Run.status == RunStatus.QUEUED.value, Run.not_before < due_before
            )
        )
    ).one()
    if not waiting or waiting < settings.admin_alert_queue_count:
        return None
    oldest_wait = int((now - oldest).total_seconds()) if isinstance(oldest, datetime) else 0
    window = window_of(now, settings.admin_alert_repeat_seconds)
    return Alert(
        condition=QUEUE_BACKLOG,
        key=f"{QUEUE_BACKLOG}:{window}",
        title=f"{waiting} runs are waiting in the queue",
        detail=(
            f"{waiting} queued runs have been due for more than {settings.admin_alert_queue_wait_seconds} s; "
            f"the oldest for {oldest_wait} s. Workers may be down or too few for the load."
        ),
    )


async def find_alerts(session: AsyncSession, *, settings: Settings, now: datetime) -> list[Alert]:
    """Every condition that holds now."""
    alerts = await stopped_workers(session, settings=settings, now=now)
    for check in (failure_spike, queue_backlog):
        if (alert := await check(session, settings=settings, now=now)) is not None:
            alerts.append(alert)
    return alerts


async def active_admin_ids(session: AsyncSession) -> list[int]:
    return list(
        await session.scalars(
            select(User.id).where(User.role == Role.ADMIN.value, User.is_active.is_(True)).order_by(User.id)
        )
    )


async def notify_admins(session: AsyncSession, *, settings: Settings, alerts: list[Alert]) -> int:
    """Queue each alert for each active admin (idempotent per admin and key); returns how many were queued."""
    admins = await active_admin_ids(session) if alerts else []
    for alert in alerts:
        for admin_id in admins:
            await notify(
                session,
                user_id=admin_id,
                event=EVENT_ADMIN_ALERT,
                payload=alert.payload(settings.base_url),
                key=f"admin-alert:{alert.key}:{admin_id}",
            )
    return len(alerts) * len(admins)


async def check_and_alert(services: Services, *, now: datetime | None = None) -> dict[str, Any]:
    """Look for every condition and tell the admins, in one transaction; returns what was found."""
    now = now or utcnow()
    async with services.db.session(write=True) as session:
        alerts = await find_alerts(session, settings=services.settings, now=now)
        queued = await notify_admins(session, settings=services.settings, alerts=alerts)
    return {"alerts": [alert.key for alert in alerts], "notifications": queued}
