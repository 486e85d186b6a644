"""Digests: events a channel takes in digest mode wait as ``digest`` deliveries; once the oldest is
``notifications_digest_hours`` old they become one ``digest`` notification for that channel.

Writing the digest notification and marking its entries ``digested`` happen in one transaction, and
the digest's key names the newest entry, so a re-run after a crash creates nothing twice."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import update

from spyglass.core.db import utcnow
from spyglass.notifications import outbox, repository
from spyglass.notifications.models import Channel, Delivery, DeliveryStatus
from spyglass.notifications.rendering import EVENT_DIGEST

if TYPE_CHECKING:
    from spyglass.core.services import Services

MAX_ENTRIES = 200
MAX_CHANNELS_PER_PASS = 500


async def send_due_digests(services: Services) -> int:
    """Turn every channel's due digest into one outbox notification; returns how many were written."""
    older_than = utcnow() - timedelta(hours=services.settings.notifications_digest_hours)
    written = 0
    async with services.db.session() as session:
        channel_ids = await repository.pending_digests(session, older_than=older_than, limit=MAX_CHANNELS_PER_PASS)
    for channel_id in channel_ids:
        async with services.db.session(write=True) as session:
            channel = await session.get(Channel, channel_id)
            entries = await repository.digest_entries(session, channel_id=channel_id, limit=MAX_ENTRIES)
            if channel is None or not entries:
                continue
            await outbox.notify(
                session,
                user_id=channel.user_id,
                event=EVENT_DIGEST,
                payload={
                    "channel_id": channel.id,
                    "entries": merge_entries([(n.event, n.payload) for _, n in entries]),
                },
                key=f"digest:{channel.id}:{entries[-1][0].id}",
            )
            await session.execute(
                update(Delivery)
                .where(Delivery.id.in_([d.id for d, _ in entries]), Delivery.status == DeliveryStatus.DIGEST.value)
                .values(status=DeliveryStatus.DIGESTED.value, updated_at=utcnow())
            )
            written += 1
    return written


def merge_entries(items: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Digest entries in order; new-listing entries of one saved search become one (counts summed,
    listings concatenated) so a search that ran many times reads as one line."""
    merged: list[dict[str, Any]] = []
    by_search: dict[Any, dict[str, Any]] = {}
    for event, payload in items:
        search_id = payload.get("search_id") if event == outbox.EVENT_NEW_LISTINGS else None
        if search_id is None:
            merged.append({"event": event, "payload": payload})
            continue
        listings = list(payload.get("listings") or [])
        count = _count(payload, listings)
        entry = by_search.get(search_id)
        if entry is None:
            entry = {"event": event, "payload": {**payload, "count": count, "listings": listings}}
            by_search[search_id] = entry
            merged.append(entry)
        else:
            combined = entry["payload"]
            combined["count"] += count
            combined["listings"] = combined["listings"] + listings
    return merged


def _count(payload: dict[str, Any], listings: list[Any]) -> int:
    count = payload.get("count")
    return count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else len(listings)
