"""Audit retention runs as an engine job with a system schedule, in both modes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from spyglass.audit.models import AuditEvent
from spyglass.audit.tasks import RETENTION_KIND
from spyglass.core.db import utcnow
from spyglass.core.services import Services
from spyglass.engine import service
from spyglass.engine.engine import Engine
from spyglass.engine.kinds import SYSTEM_SUBJECT_ID
from spyglass.engine.models import Run, RunStatus, Schedule
from tests.engine.helpers import wait_until


async def test_retention_job_deletes_only_expired_events(services: Services) -> None:
    days = services.settings.audit_retention_days
    async with services.db.session(write=True) as session:
        session.add(AuditEvent(action="auth.login", created_at=utcnow() - timedelta(days=days + 1)))
        session.add(AuditEvent(action="auth.logout", created_at=utcnow() - timedelta(days=days - 1)))
        run = await service.enqueue_run(session, kind=RETENTION_KIND, user_id=None)
        run_id = run.id
    engine = Engine(services, mode="embedded", concurrency=2)
    await engine.start()
    try:

        async def finished() -> bool:
            async with services.db.session() as session:
                found = await session.get(Run, run_id)
                return found is not None and RunStatus(found.status).is_terminal

        await wait_until(finished)
        async with services.db.session() as session:
            done = await session.get(Run, run_id)
            actions = (await session.scalars(select(AuditEvent.action))).all()
            schedule = await session.scalar(
                select(Schedule).where(Schedule.kind == RETENTION_KIND, Schedule.subject_id == SYSTEM_SUBJECT_ID)
            )
    finally:
        await engine.stop(grace_seconds=1)
    assert done is not None and done.status == RunStatus.SUCCEEDED.value
    assert done.stats == {"deleted": 1}
    assert actions == ["auth.logout"]
    # The leader created the hourly system schedule, first due an interval from now.
    assert schedule is not None and schedule.interval_seconds == 3600 and schedule.user_id is None
    assert schedule.next_run_at > utcnow() + timedelta(minutes=55)
