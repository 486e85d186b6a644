"""Admin analytics: platform-wide aggregates over users, runs, schedules, notifications, feedback,
marketplaces, scans and findings. Each series reads a window of days through an indexed timestamp."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Float, bindparam, case, cast, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.models import User
from spyglass.analytics.dashboard import SessionOpener, read_all, severity_rank
from spyglass.analytics.series import Series, make_series
from spyglass.analytics.sql import day_of, seconds_between, window_start
from spyglass.engine.models import Run, RunStatus
from spyglass.feedback.models import Feedback, FeedbackKind, FeedbackStatus
from spyglass.market.models import Listing
from spyglass.market.service import SEARCH_KIND
from spyglass.notifications.models import Delivery, DeliveryStatus
from spyglass.scanner.models import Finding, Scan, ScanStatus

ACTIVE_WINDOWS = (1, 7, 30)


async def admin_analytics(
    open_session: SessionOpener, *, days: int, now: datetime, top: int = 10, parallel: bool = False
) -> dict[str, Any]:
    """Cards and series of the admin analytics page over the last ``days`` days (UTC).

    Each figure is one query in its own session from ``open_session``; with ``parallel`` (PostgreSQL)
    up to ``dashboard.PARALLEL_READS`` of them run at once.
    """
    since = window_start(days, now)
    parts: list[Callable[[AsyncSession, str], Awaitable[Any]]] = [
        lambda s, d: active_users(s, now),
        lambda s, d: notification_totals(s, since),
        lambda s, d: signups_per_day(s, since, d),
        lambda s, d: runs_per_day(s, since, d),
        lambda s, d: schedule_lag(s, since, d),
        lambda s, d: notifications_per_day(s, since, d),
        lambda s, d: feedback_statistics(s),
        lambda s, d: marketplace_errors(s, since, d, top),
        lambda s, d: kinds_by_failures(s, since, top),
        lambda s, d: listings_per_day(s, since, d),
        lambda s, d: scans_per_day(s, since, d),
        lambda s, d: findings_by_severity(s, since),
    ]
    values = await read_all(open_session, parts, parallel=parallel)
    cards = {"active_users": values[0], "notifications": values[1]}
    return {"days": days, "since": since.date().isoformat(), "cards": cards, "series": list(values[2:])}


async def active_users(session: AsyncSession, now: datetime) -> dict[str, int]:
    """Users seen (signed in or making requests) within the last 1, 7 and 30 days."""
    result: dict[str, int] = {}
    for days in ACTIVE_WINDOWS:
        cutoff = now - timedelta(days=days)
        seen = or_(User.last_seen_at >= cutoff, User.last_login_at >= cutoff)
        result[f"{days}d"] = int(await session.scalar(select(func.count()).select_from(User).where(seen)) or 0)
    return result


async def notification_totals(session: AsyncSession, since: datetime) -> dict[str, int]:
    """Deliveries sent and failed in the window."""
    statement = (
        select(Delivery.status, func.count())
        .where(
            Delivery.created_at >= since,
            Delivery.status.in_([DeliveryStatus.DELIVERED.value, DeliveryStatus.FAILED.value]),
        )
        .group_by(Delivery.status)
    )
    counts = {row[0]: row[1] for row in await session.execute(statement)}
    return {"sent": counts.get(DeliveryStatus.DELIVERED.value, 0), "failed": counts.get(DeliveryStatus.FAILED.value, 0)}


async def signups_per_day(session: AsyncSession, since: datetime, dialect: str) -> Series:
    day = day_of(User.created_at, dialect).label("day")
    statement = select(day, func.count()).where(User.created_at >= since).group_by(day).order_by(day)
    rows = (await session.execute(statement)).all()
    return make_series("signups_per_day", "Sign-ups per day", ["day", "signups"], rows, chart="bar")


async def runs_per_day(session: AsyncSession, since: datetime, dialect: str) -> Series:
    """Finished runs per day and kind: how many, how many succeeded or failed, and how long they took."""
    day = day_of(Run.finished_at, dialect).label("day")
    succeeded = func.sum(case((Run.status == RunStatus.SUCCEEDED.value, 1), else_=0))
    failed = func.sum(case((Run.status == RunStatus.FAILED.value, 1), else_=0))
    duration = func.avg(seconds_between(Run.started_at, Run.finished_at, dialect))
    statement = (
        select(day, Run.kind, func.count(), succeeded, failed, duration)
        .where(Run.finished_at >= since)
        .group_by(day, Run.kind)
        .order_by(day, Run.kind)
    )
    rows = [
        (r[0], r[1], r[2], int(r[3]), int(r[4]), round(100.0 * int(r[3]) / r[2], 1), _round(r[5], 3))
        for r in (await session.execute(statement)).all()
    ]
    return make_series(
        "runs_per_day",
        "Finished runs per day and kind",
        ["day", "kind", "runs", "succeeded", "failed", "success_rate", "average_seconds"],
        rows,
        y=["runs"],
        group="kind",
        chart="bar",
        stacked=True,
    )


async def schedule_lag(session: AsyncSession, since: datetime, dialect: str) -> Series:
    """How late scheduled runs started after they were due (``started_at - not_before``), per day."""
    day = day_of(Run.finished_at, dialect).label("day")
    lag = seconds_between(Run.not_before, Run.started_at, dialect)
    statement = (
        select(day, func.count(), func.avg(lag), func.max(lag))
        .where(Run.finished_at >= since, Run.schedule_id.is_not(None), Run.started_at.is_not(None))
        .group_by(day)
        .order_by(day)
    )
    rows = [(r[0], r[1], _round(r[2], 3), _round(r[3], 3)) for r in (await session.execute(statement)).all()]
    return make_series(
        "schedule_lag",
        "Schedule lag (seconds from due to started)",
        ["day", "runs", "average_seconds", "longest_seconds"],
        rows,
        y=["average_seconds", "longest_seconds"],
    )


async def notifications_per_day(session: AsyncSession, since: datetime, dialect: str) -> Series:
    day = day_of(Delivery.created_at, dialect).label("day")
    sent = func.sum(case((Delivery.status == DeliveryStatus.DELIVERED.value, 1), else_=0))
    failed = func.sum(case((Delivery.status == DeliveryStatus.FAILED.value, 1), else_=0))
    statement = select(day, sent, failed).where(Delivery.created_at >= since).group_by(day).order_by(day)
    rows = [(r[0], int(r[1]), int(r[2])) for r in (await session.execute(statement)).all()]
    return make_series(
        "notifications_per_day",
        "Notifications sent and failed per day",
        ["day", "sent", "failed"],
        rows,
        y=["sent", "failed"],
        chart="bar",
    )


async def feedback_statistics(session: AsyncSession) -> Series:
    """All feedback by kind: how many in each status, how many rated and the average rating."""
    statuses = [status.value for status in FeedbackStatus]
    columns: list[Any] = [func.count()] + [func.sum(case((Feedback.status == s, 1), else_=0)) for s in statuses]
    columns += [func.count(Feedback.rating), func.avg(cast(Feedback.rating, Float))]
    statement = select(Feedback.kind, *columns).group_by(Feedback.kind)
    found = {r[0]: r for r in (await session.execute(statement)).all()}
    order = [kind.value for kind in FeedbackKind] + sorted(set(found) - {kind.value for kind in FeedbackKind})
    rows = []
    for kind in order:
        if kind in found:
            row = found[kind]
            counts = [int(value or 0) for value in row[1 : 2 + len(statuses)]]
            rows.append([kind, *counts, int(row[-2]), _round(row[-1], 2)])
    return make_series(
        "feedback",
        "Feedback by kind and status",
        ["kind", "total", *statuses, "rated", "average_rating"],
        rows,
        chart="bar",
        y=statuses,
        stacked=True,
    )


# Failing marketplaces of market runs: a succeeded run lists the ones that failed in stats.errors; a failed
# run failed on every marketplace of its search. JSON is expanded with each backend's table function.
_MARKETPLACE_ERRORS = {
    "sqlite": """
        SELECT e.key AS marketplace, count(*) AS errors FROM runs, json_each(runs.stats, '$.errors') AS e
        WHERE runs.kind = :kind AND runs.status = 'succeeded' AND runs.finished_at >= :since
          AND json_type(runs.stats, '$.errors') = 'object'
        GROUP BY e.key
        UNION ALL
        SELECT m.value, count(*) FROM runs JOIN market_searches s ON s.id = runs.subject_id,
          json_each(s.marketplaces) AS m
        WHERE runs.kind = :kind AND runs.status = 'failed' AND runs.finished_at >= :since
        GROUP BY m.value""",
    "postgresql": """
        SELECT e.key AS marketplace, count(*) AS errors FROM runs,
          json_each(CASE WHEN json_typeof(runs.stats -> 'errors') = 'object' THEN runs.stats -> 'errors'
                         ELSE '{}'::json END) AS e
        WHERE runs.kind = :kind AND runs.status = 'succeeded' AND runs.finished_at >= :since
        GROUP BY e.key
        UNION ALL
        SELECT m.value, count(*) FROM runs JOIN market_searches s ON s.id = runs.subject_id,
          json_array_elements_text(s.marketplaces) AS m(value)
        WHERE runs.kind = :kind AND runs.status = 'failed' AND runs.finished_at >= :since
        GROUP BY m.value""",
}


async def marketplace_errors(session: AsyncSession, since: datetime, dialect: str, top: int) -> Series:
    """Marketplaces (adapters) by how many market runs failed on them in the window, most first."""
    statement = text(_MARKETPLACE_ERRORS[dialect]).bindparams(
        bindparam("since", type_=Run.__table__.c.finished_at.type), kind=SEARCH_KIND
    )
    totals: dict[str, int] = {}
    for name, errors in (await session.execute(statement, {"since": since})).all():
        totals[name] = totals.get(name, 0) + int(errors)
    rows = sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:top]
    return make_series("marketplace_errors", "Marketplaces by errors", ["marketplace", "errors"], rows, chart="bar")


async def kinds_by_failures(session: AsyncSession, since: datetime, top: int) -> Series:
    """Job kinds by failed runs in the window, most first."""
    failures = func.count().label("failures")
    statement = (
        select(Run.kind, failures)
        .where(Run.finished_at >= since, Run.status == RunStatus.FAILED.value)
        .group_by(Run.kind)
        .order_by(failures.desc(), Run.kind)
        .limit(top)
    )
    rows = (await session.execute(statement)).all()
    return make_series("kinds_by_failures", "Job kinds by failed runs", ["kind", "failed_runs"], rows, chart="bar")


async def listings_per_day(session: AsyncSession, since: datetime, dialect: str) -> Series:
    day = day_of(Listing.first_seen_at, dialect).label("day")
    statement = (
        select(day, Listing.marketplace, func.count())
        .where(Listing.first_seen_at >= since)
        .group_by(day, Listing.marketplace)
        .order_by(day, Listing.marketplace)
    )
    rows = (await session.execute(statement)).all()
    return make_series(
        "listings_per_day",
        "New listings per day and marketplace (all users)",
        ["day", "marketplace", "listings"],
        rows,
        group="marketplace",
        chart="bar",
        stacked=True,
    )


async def scans_per_day(session: AsyncSession, since: datetime, dialect: str) -> Series:
    day = day_of(Scan.created_at, dialect).label("day")
    succeeded = func.sum(case((Scan.status == ScanStatus.SUCCEEDED.value, 1), else_=0))
    failed = func.sum(case((Scan.status == ScanStatus.FAILED.value, 1), else_=0))
    statement = select(day, func.count(), succeeded, failed).where(Scan.created_at >= since).group_by(day).order_by(day)
    rows = [(r[0], r[1], int(r[2]), int(r[3])) for r in (await session.execute(statement)).all()]
    return make_series(
        "scans_per_day", "Scans per day", ["day", "scans", "succeeded", "failed"], rows, y=["scans"], chart="bar"
    )


async def findings_by_severity(session: AsyncSession, since: datetime) -> Series:
    """Findings recorded in the window by severity (each scan's row counts: a trend of what scans report)."""
    statement = select(Finding.severity, func.count()).where(Finding.created_at >= since).group_by(Finding.severity)
    rows = sorted((await session.execute(statement)).all(), key=lambda r: severity_rank(r[0]))
    return make_series("findings_by_severity", "Findings by severity", ["severity", "findings"], rows, chart="bar")


def _round(value: Any, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)
