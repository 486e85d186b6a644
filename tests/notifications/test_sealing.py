"""Apprise URLs are stored encrypted (Fernet, key from the app secret); delivery opens them; rows stored
in clear before encryption still deliver and are sealed when the channel is next saved."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text, update

from spyglass.accounts.models import User
from spyglass.core.services import Services
from spyglass.notifications import outbox
from spyglass.notifications.models import Channel, DeliveryStatus
from spyglass.notifications.sealing import PREFIX, UnreadableTarget, open_target, seal_target
from spyglass.notifications.service import ChannelInput, update_channel
from tests.notifications.helpers import deliveries, drain, emit, make_channel
from tests.support.factories import create_user
from tests.support.http_server import LocalHttpServer


async def _stored_target(services: Services, channel_id: int) -> str:
    async with services.db.session() as session:
        raw = await session.scalar(text("SELECT target FROM notification_channels WHERE id = :id"), {"id": channel_id})
    assert isinstance(raw, str)
    return raw


async def test_apprise_url_is_encrypted_at_rest_and_still_delivers(
    services: Services, webhook: LocalHttpServer
) -> None:
    bob = await create_user(services, username="bob", email="bob@example.com")
    url = f"json://127.0.0.1:{webhook.port}/hook?token=s3cret-bot-token"
    channel = await make_channel(services, bob, "apprise", url, events={outbox.EVENT_PRICE_DROP: "instant"})

    stored = await _stored_target(services, channel.id)
    assert stored != url and stored.startswith(PREFIX)
    assert "s3cret-bot-token" not in stored and "127.0.0.1" not in stored
    assert open_target(services.settings.secret(), stored) == url

    await emit(services, bob.id, outbox.EVENT_PRICE_DROP, {"title": "Lamp"}, "drop:1")
    await drain(services)
    [request] = [r for r in webhook.requests if r.path == "/hook"]
    assert json.loads(request.body)["title"] == "Price drop: Lamp"
    assert [d.status for d in await deliveries(services)] == [DeliveryStatus.DELIVERED.value]


async def test_a_row_stored_in_clear_delivers_and_is_sealed_on_save(
    services: Services, webhook: LocalHttpServer
) -> None:
    bob = await create_user(services, username="bob", email="bob@example.com")
    url = f"json://127.0.0.1:{webhook.port}/hook"
    channel = await make_channel(services, bob, "apprise", url, events={outbox.EVENT_PRICE_DROP: "instant"})
    async with services.db.session(write=True) as session:  # as written before encryption existed
        await session.execute(update(Channel).where(Channel.id == channel.id).values(target=url))

    await emit(services, bob.id, outbox.EVENT_PRICE_DROP, {"title": "Lamp"}, "drop:1")
    await drain(services)
    assert len([r for r in webhook.requests if r.path == "/hook"]) == 1

    async with services.db.session(write=True) as session:
        account = await session.get(User, bob.id)
        assert account is not None
        await update_channel(
            session, settings=services.settings, user=account, channel_id=channel.id, data=ChannelInput(label="Hook")
        )
    stored = await _stored_target(services, channel.id)
    assert stored.startswith(PREFIX) and open_target(services.settings.secret(), stored) == url


async def test_email_targets_stay_readable(services: Services) -> None:
    ann = await create_user(services, username="ann", email="ann@example.com")
    channel = await make_channel(services, ann, "email", "ann@example.com")
    assert await _stored_target(services, channel.id) == "ann@example.com"


def test_sealing_is_keyed_by_the_secret() -> None:
    secret, other = "a" * 20 + "bcdefghijklmnop", "z" * 20 + "yxwvutsrqponmlk"
    sealed = seal_target(secret, "tgram://123:abc/456")
    assert seal_target(secret, sealed) == sealed  # sealing twice does not double-encrypt
    assert seal_target(secret, "tgram://123:abc/456") != sealed  # a fresh IV each time
    assert open_target(secret, sealed) == "tgram://123:abc/456"
    with pytest.raises(UnreadableTarget):
        open_target(other, sealed)


async def test_an_unreadable_target_fails_with_a_reason(services: Services, webhook: LocalHttpServer) -> None:
    bob = await create_user(services, username="bob", email="bob@example.com")
    url = f"json://127.0.0.1:{webhook.port}/hook"
    channel = await make_channel(services, bob, "apprise", url, events={outbox.EVENT_PRICE_DROP: "instant"})
    foreign = seal_target("q" * 20 + "rstuvwxyzABCDEFG", url)  # sealed under another app secret
    async with services.db.session(write=True) as session:
        await session.execute(update(Channel).where(Channel.id == channel.id).values(target=foreign))
    await emit(services, bob.id, outbox.EVENT_PRICE_DROP, {"title": "Lamp"}, "drop:1")
    await drain(services)
    [delivery] = await deliveries(services)
    assert delivery.status == DeliveryStatus.FAILED.value and "app secret" in (delivery.error or "")
    assert webhook.requests == []
