"""Market searches in digest mode flag their new-listing alerts; the dispatcher batches those into the digest
even on channels subscribed "instant", and one search's runs read as one merged entry."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import update

from spyglass.accounts.models import User
from spyglass.core.db import utcnow
from spyglass.core.services import Services
from spyglass.market import alerts
from spyglass.market.models import AlertMode, Listing, SavedSearch
from spyglass.notifications import outbox
from spyglass.notifications.digest import merge_entries, send_due_digests
from spyglass.notifications.models import Delivery, DeliveryStatus
from tests.notifications.helpers import deliveries, drain, make_channel
from tests.support.factories import create_user
from tests.support.smtp import SmtpServer, message_text


async def _search_run(services: Services, user: User, mode: AlertMode, titles: list[str], name: str) -> None:
    """One market search run that found ``titles``, announced through the market feature's own code."""
    async with services.db.session(write=True) as session:
        search = SavedSearch(user_id=user.id, name=name, keywords="bike", interval_seconds=3600, alert_mode=mode.value)
        session.add(search)
        found = [
            Listing(marketplace="jsonld", external_id=f"{name}-{t}", url=f"https://shop.example/{t}", title=t,
                    price=Decimal("120.00"), currency="EUR")
            for t in titles
        ]  # fmt: skip
        session.add_all(found)
        await session.flush()
        await alerts.new_listings(session, search=search, listings=found)


async def test_digest_flag_batches_even_on_an_instant_channel(services: Services, smtp_server: SmtpServer) -> None:
    ann = await create_user(services, username="ann", email="ann@example.com")
    await make_channel(services, ann, "email", "ann@example.com", events={outbox.EVENT_NEW_LISTINGS: "instant"})

    await _search_run(services, ann, AlertMode.DIGEST, ["Cargo bike"], "Quiet search")
    await _search_run(services, ann, AlertMode.INSTANT, ["Road bike"], "Loud search")
    await drain(services)

    # The instant search went out at once; the digest search waits for the digest.
    [instant] = smtp_server.messages_to("ann@example.com")
    assert "Road bike" in message_text(instant) and "Cargo bike" not in message_text(instant)
    assert sorted(d.status for d in await deliveries(services)) == ["delivered", "digest"]

    async with services.db.session(write=True) as session:
        await session.execute(update(Delivery).values(created_at=utcnow() - timedelta(hours=25)))
    assert await send_due_digests(services) == 1
    await drain(services)
    digest = smtp_server.wait_for_message(to="ann@example.com", count=2)
    assert digest["Subject"] == "Spyglass digest: 1 update(s)"
    assert "Cargo bike" in message_text(digest) and "Road bike" not in message_text(digest)
    statuses = sorted(d.status for d in await deliveries(services))
    assert statuses == ["delivered", "delivered", DeliveryStatus.DIGESTED.value]


def test_digest_merges_the_runs_of_one_search() -> None:
    first = {"search_id": 7, "search_name": "Bikes", "count": 2, "listings": [{"title": "A"}, {"title": "B"}]}
    other = {"title": "Lamp"}
    second = {"search_id": 7, "search_name": "Bikes", "count": 60, "listings": [{"title": "C"}]}
    third = {"search_id": 8, "search_name": "Cars", "count": 1, "listings": [{"title": "D"}]}
    merged = merge_entries(
        [
            (outbox.EVENT_NEW_LISTINGS, first),
            (outbox.EVENT_PRICE_DROP, other),
            (outbox.EVENT_NEW_LISTINGS, second),
            (outbox.EVENT_NEW_LISTINGS, third),
        ]
    )
    assert [entry["event"] for entry in merged] == [
        outbox.EVENT_NEW_LISTINGS,
        outbox.EVENT_PRICE_DROP,
        outbox.EVENT_NEW_LISTINGS,
    ]
    assert merged[0]["payload"]["count"] == 62
    assert [item["title"] for item in merged[0]["payload"]["listings"]] == ["A", "B", "C"]
    assert merged[2]["payload"]["count"] == 1
    assert first["listings"] == [{"title": "A"}, {"title": "B"}]  # the stored payloads are not changed
