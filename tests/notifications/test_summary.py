"""The weekly summary: one per subscribed user and week, whatever how often the job runs."""

from __future__ import annotations

from datetime import UTC, datetime

from spyglass.core.services import Services
from spyglass.notifications import outbox
from spyglass.notifications.summary import previous_week, send_weekly_summaries
from tests.notifications.helpers import drain, make_channel, notifications
from tests.support.factories import create_user
from tests.support.smtp import SmtpServer, message_text


def test_previous_week_is_the_last_complete_iso_week() -> None:
    # Wednesday 2026-12-02 → the week of Monday 2026-11-23 .. Monday 2026-11-30.
    name, start, end = previous_week(datetime(2026, 12, 2, 15, 30, tzinfo=UTC))
    assert (name, start, end) == ("2026-W48", datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC))
    # A Monday just after midnight already summarises the week that ended.
    assert previous_week(datetime(2026, 11, 30, 0, 5, tzinfo=UTC))[0] == "2026-W48"
    assert previous_week(datetime(2027, 1, 4, 9, 0, tzinfo=UTC))[0] == "2026-W53"


async def test_subscribed_users_get_one_summary_per_week(services: Services, smtp_server: SmtpServer) -> None:
    ann = await create_user(services, username="ann", email="ann@example.com")
    bob = await create_user(services, username="bob", email="bob@example.com")
    await make_channel(services, ann, "email", ann.email, events={outbox.EVENT_WEEKLY_SUMMARY: "instant"})
    await make_channel(services, bob, "email", bob.email, events={outbox.EVENT_PRICE_DROP: "instant"})
    now = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)

    assert await send_weekly_summaries(services, now=now) == 1
    await send_weekly_summaries(services, now=now.replace(hour=11))  # the next hourly run: same week
    [row] = await notifications(services)
    assert row.user_id == ann.id and row.idempotency_key == f"weekly:{ann.id}:2026-W48"
    assert row.payload == {"period": "2026-W48", "listings": 0, "scans": 0, "findings": 0}
    await drain(services)
    message = smtp_server.wait_for_message(to="ann@example.com")
    assert message["Subject"] == "Your Spyglass week"
    assert "- scans: 0" in message_text(message)
    assert smtp_server.messages_to("bob@example.com") == []
