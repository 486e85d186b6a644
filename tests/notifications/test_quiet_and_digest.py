"""Quiet hours hold notifications back until the window ends; digest mode gathers events into one message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import update

from spyglass.core.db import utcnow
from spyglass.core.services import Services
from spyglass.notifications import outbox
from spyglass.notifications.digest import send_due_digests
from spyglass.notifications.models import Delivery, DeliveryStatus, Notification, NotificationStatus
from spyglass.notifications.quiet_hours import quiet_until
from tests.notifications.helpers import deliveries, drain, emit, make_channel, notifications
from tests.support.factories import create_user
from tests.support.smtp import SmtpServer, message_text


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def test_quiet_window_end_in_the_channels_time_zone() -> None:
    # 23:30 in Paris (winter, UTC+1) is inside 22:00-07:00; the window ends at 07:00 Paris = 06:00 UTC.
    now = datetime(2026, 1, 10, 22, 30, tzinfo=UTC)
    assert quiet_until(now, 22 * 60, 7 * 60, "Europe/Paris") == datetime(2026, 1, 11, 6, 0, tzinfo=UTC)
    # 06:59 Paris is still quiet, 07:00 is not.
    assert quiet_until(datetime(2026, 1, 11, 5, 59, tzinfo=UTC), 22 * 60, 7 * 60, "Europe/Paris") is not None
    assert quiet_until(datetime(2026, 1, 11, 6, 0, tzinfo=UTC), 22 * 60, 7 * 60, "Europe/Paris") is None
    # A daytime window that does not wrap midnight.
    assert quiet_until(datetime(2026, 1, 11, 13, 0, tzinfo=UTC), 12 * 60, 14 * 60, "UTC") == datetime(
        2026, 1, 11, 14, 0, tzinfo=UTC
    )
    assert quiet_until(now, None, None, "UTC") is None


async def test_quiet_hours_defer_without_counting_an_attempt(services: Services, smtp_server: SmtpServer) -> None:
    ann = await create_user(services, username="ann", email="ann@example.com")
    local_now = utcnow()
    start = (local_now.hour * 60 + local_now.minute - 5) % 1440
    end = (start + 120) % 1440
    channel = await make_channel(
        services,
        ann,
        "email",
        "ann@example.com",
        events={outbox.EVENT_PRICE_DROP: "instant"},
        quiet_start=f"{start // 60:02d}:{start % 60:02d}",
        quiet_end=f"{end // 60:02d}:{end % 60:02d}",
        timezone="UTC",
    )
    await emit(services, ann.id, outbox.EVENT_PRICE_DROP, {"title": "Lamp"}, "drop:1")
    await drain(services)
    [row] = await notifications(services)
    assert row.status == NotificationStatus.PENDING.value and row.attempts == 0
    assert row.next_attempt_at > utcnow() + timedelta(minutes=100)
    assert smtp_server.messages == [] and await deliveries(services) == []

    # The window is over (quiet hours removed, and the row due again): it goes out once.
    async with services.db.session(write=True) as session:
        await session.execute(update(Notification).values(next_attempt_at=utcnow()))
        await session.execute(
            update(type(channel))
            .values(quiet_start_minute=None, quiet_end_minute=None)
            .where(type(channel).id == channel.id)
        )
    await drain(services)
    [row] = await notifications(services)
    assert row.status == NotificationStatus.DELIVERED.value
    assert len(smtp_server.messages_to("ann@example.com")) == 1


async def test_digest_mode_gathers_events_into_one_email(services: Services, smtp_server: SmtpServer) -> None:
    ann = await create_user(services, username="ann", email="ann@example.com")
    await make_channel(
        services,
        ann,
        "email",
        "ann@example.com",
        events={outbox.EVENT_NEW_LISTINGS: "digest", outbox.EVENT_PRICE_DROP: "instant"},
    )
    for number in (1, 2):
        listing = {"id": number, "title": f"<b>Bike {number}</b>", "price": 100 * number, "currency": "USD",
                   "url": f"https://shop.example/{number}", "marketplace": "ebay"}  # fmt: skip
        await emit(
            services,
            ann.id,
            outbox.EVENT_NEW_LISTINGS,
            {"search_id": 1, "search_name": "Bikes", "listings": [listing]},
            f"listings:{number}",
        )
    await drain(services)
    assert smtp_server.messages == []
    assert {d.status for d in await deliveries(services)} == {DeliveryStatus.DIGEST.value}
    assert await send_due_digests(services) == 0  # not old enough yet

    async with services.db.session(write=True) as session:
        await session.execute(update(Delivery).values(created_at=utcnow() - timedelta(hours=25)))
    assert await send_due_digests(services) == 1
    assert await send_due_digests(services) == 0  # a re-run writes nothing twice
    await drain(services)
    message = smtp_server.wait_for_message(to="ann@example.com")
    assert message["Subject"] == "Spyglass digest: 1 update(s)"  # one search: its two runs merge
    text = message_text(message)
    assert "<b>Bike 1</b>" in text and "Bike 2" in text
    html = html_of(message)
    assert "&lt;b&gt;Bike 1&lt;/b&gt;" in html
    statuses = sorted(d.status for d in await deliveries(services))
    assert statuses == ["delivered", "digested", "digested"]
