"""Audit retention deletes exactly the events older than the cut-off, in one statement."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from spyglass.audit.models import AuditEvent
from spyglass.audit.retention import purge_audit_events, run_retention
from spyglass.core.db import utcnow
from spyglass.core.services import Services
from tests.conftest import make_settings


async def add_events(services: Services, ages_in_days: list[float]) -> None:
    now = utcnow()
    async with services.db.session(write=True) as session:
        for age in ages_in_days:
            session.add(AuditEvent(created_at=now - timedelta(days=age), action="test.event", details={"age": age}))


async def remaining_ages(services: Services) -> list[float]:
    async with services.db.session() as session:
        events = (await session.scalars(select(AuditEvent).order_by(AuditEvent.created_at))).all()
        return sorted((float(e.details["age"]) for e in events), reverse=True)


async def test_purge_deletes_only_events_before_the_cutoff(services: Services) -> None:
    await add_events(services, [400, 30.001, 29.999, 1, 0])
    cutoff = utcnow() - timedelta(days=30)
    async with services.db.session(write=True) as session:
        assert await purge_audit_events(session, older_than=cutoff) == 2
    assert await remaining_ages(services) == [29.999, 1, 0]
    async with services.db.session(write=True) as session:
        assert await purge_audit_events(session, older_than=cutoff) == 0


async def test_purge_refuses_a_naive_cutoff(services: Services) -> None:
    async with services.db.session(write=True) as session:
        with pytest.raises(ValueError, match="timezone-aware"):
            await purge_audit_events(session, older_than=utcnow().replace(tzinfo=None))


async def test_run_retention_uses_the_configured_days(
    tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    services = Services.build(make_settings(tmp_path, database_url, audit_retention_days=7))
    try:
        await add_events(services, [8, 7.01, 6.99, 0.5])
        with caplog.at_level(logging.INFO, logger="spyglass.audit.retention"):
            assert await run_retention(services) == 2
        assert await remaining_ages(services) == [6.99, 0.5]
        assert any("purged 2 events" in message for message in caplog.messages)
    finally:
        await services.close()
