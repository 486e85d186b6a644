"""The dashboard: user totals computed in SQL, totals registered by other features, recent activity."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.models import User
from spyglass.admin.stats import dashboard_totals, register_total, unregister_total
from spyglass.audit.models import AuditEvent
from spyglass.audit.service import AuditAction, record
from spyglass.core.db import utcnow
from spyglass.core.services import Services
from tests.admin.conftest import Client
from tests.support.factories import create_user


async def _set(services: Services, user: User, **values: object) -> None:
    async with services.db.session(write=True) as session:
        await session.execute(update(User).where(User.id == user.id).values(**values))


def card(html: str, key: str) -> int:
    match = re.search(rf'data-total="{key}">\s*<span class="card-value">(\d+)</span>', html)
    assert match, f"no card {key}"
    return int(match.group(1))


async def test_user_totals(services: Services, admin_client: Client, admin: User) -> None:
    now = utcnow()
    seen_now = await create_user(services, username="seen_now")
    await _set(services, seen_now, last_seen_at=now - timedelta(hours=2))
    login_recent = await create_user(services, username="login_recent")
    await _set(services, login_recent, last_login_at=now - timedelta(hours=23), created_at=now - timedelta(days=10))
    month = await create_user(services, username="month")
    await _set(services, month, last_seen_at=now - timedelta(days=20), created_at=now - timedelta(days=40))
    old = await create_user(services, username="old", active=False)
    await _set(services, old, last_seen_at=now - timedelta(days=45), created_at=now - timedelta(days=90))

    async with services.db.session() as session:
        totals = {t.key: t.value for t in await dashboard_totals(session, now=now)}
    # root signs in through admin_client, so root counts as active in the last 24 hours.
    assert totals == {"users": 5, "active_24h": 3, "active_30d": 4, "new_7d": 2, "deactivated": 1}

    page = await admin_client.get("/admin")
    assert page.status_code == 200
    assert card(page.text, "users") == 5 and card(page.text, "deactivated") == 1
    assert card(page.text, "active_30d") == 4


@pytest.fixture
def registered() -> Iterator[None]:
    async def count_events(session: AsyncSession) -> int:
        return int(await session.scalar(select(func.count()).select_from(AuditEvent)) or 0)

    register_total("audit_events", "Audit events", count_events)
    try:
        yield
    finally:
        unregister_total("audit_events")


async def test_registered_totals_appear(registered: None, admin_client: Client) -> None:
    page = await admin_client.get("/admin")
    assert "Audit events" in page.text
    assert card(page.text, "audit_events") >= 1  # at least the sign-in of root
    with pytest.raises(ValueError, match="already registered"):
        register_total("audit_events", "Again", lambda session: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError):
        register_total("users", "Users again", lambda session: None)  # type: ignore[arg-type,return-value]


async def test_recent_activity_shows_the_last_20_events_with_names(
    services: Services, admin_client: Client, admin: User, member: User
) -> None:
    async with services.db.session(write=True) as session:
        for number in range(25):
            record(session, AuditAction.SETTINGS_CHANGED, user_id=member.id, actor_id=admin.id, details={"n": number})
    page = await admin_client.get("/admin")
    rows = page.text.split("<tbody>", 1)[1].split("</tbody>", 1)[0].count("<tr>")
    assert rows == 20
    assert "n: 24" in page.text and "n: 5" in page.text and "n: 4<" not in page.text
    assert f'<a href="/admin/users/{member.id}">alice</a>' in page.text
    assert f'<a href="/admin/users/{admin.id}">root</a>' in page.text
