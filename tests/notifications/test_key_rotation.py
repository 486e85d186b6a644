"""Rotating the app secret: sealed Apprise URLs open with the previous secrets meanwhile, and
``spyglass notifications rotate-key`` re-encrypts them all with the new one — in batches, resumable,
audited, never printing a target."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from spyglass.audit.models import AuditEvent
from spyglass.cli import app
from spyglass.config import Settings
from spyglass.core.services import Services
from spyglass.notifications import outbox, repository
from spyglass.notifications.models import Channel, DeliveryStatus
from spyglass.notifications.rotation import KEYS_ROTATED, RotationReport, rotate_channel_keys
from spyglass.notifications.sealing import PREFIX, UnreadableTarget, open_target, reseal, seal_target
from spyglass.notifications.unsubscribe import Unsubscribe, make_token, read_token
from tests.conftest import TEST_SECRET
from tests.notifications.helpers import deliveries, drain, emit, make_channel
from tests.support.cli_env import cli_env  # noqa: F401 - fixture
from tests.support.factories import create_user
from tests.support.http_server import LocalHttpServer

NEW_SECRET = "rotated-secret-key-9876543210-ZYXWVUTSRQPONM"
LOST_SECRET = "lost-secret-key-0000000000-qwertyuiopasdfgh"
runner = CliRunner()


@pytest.fixture
def rotating_cli(
    cli_env: Callable[[str], Path],  # noqa: F811 - fixture
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[str], None]:
    """Sets the CLI's environment for a rotation: the test database, ``NEW_SECRET`` as the app secret and
    the given text as SPYGLASS_NOTIFICATIONS_PREVIOUS_SECRET_KEYS."""

    def configure(previous: str) -> None:
        cli_env(database_url)
        monkeypatch.setenv("SPYGLASS_SECRET_KEY", NEW_SECRET)
        monkeypatch.setenv("SPYGLASS_NOTIFICATIONS_PREVIOUS_SECRET_KEYS", previous)

    return configure


def _rotated(settings: Settings) -> Settings:
    """``settings`` after the secret changed to ``NEW_SECRET``, with the test secret listed as the previous key."""
    update = {"secret_key": SecretStr(NEW_SECRET), "notifications_previous_secret_keys": SecretStr(TEST_SECRET)}
    return settings.model_copy(update=update)


async def _targets(services: Services) -> dict[int, str]:
    async with services.db.session() as session:
        rows = await session.execute(text("SELECT id, target FROM notification_channels ORDER BY id"))
        return {channel_id: target for channel_id, target in rows.all()}


async def _apprise_channels(services: Services, port: int, count: int) -> list[Channel]:
    owner = await create_user(services, username="bob", email="bob@example.com")
    return [
        await make_channel(
            services,
            owner,
            "apprise",
            f"json://127.0.0.1:{port}/hook?token=tok-{number}-s3cret",
            events={outbox.EVENT_PRICE_DROP: "instant"},
        )
        for number in range(count)
    ]


def test_reseal_moves_a_target_to_the_current_key_once() -> None:
    old = seal_target(TEST_SECRET, "tgram://123:abc/456")
    with pytest.raises(UnreadableTarget):
        open_target(NEW_SECRET, old)
    assert open_target(NEW_SECRET, old, previous=(TEST_SECRET,)) == "tgram://123:abc/456"

    new = reseal(NEW_SECRET, old, previous=(TEST_SECRET,))
    assert new is not None and new.startswith(PREFIX) and new != old
    assert open_target(NEW_SECRET, new) == "tgram://123:abc/456"  # no previous key needed any more
    assert reseal(NEW_SECRET, new, previous=(TEST_SECRET,)) is None  # already current: nothing to write
    clear = reseal(NEW_SECRET, "ntfy://topic")  # a row kept in clear is sealed
    assert clear is not None and open_target(NEW_SECRET, clear) == "ntfy://topic"
    with pytest.raises(UnreadableTarget):
        reseal(NEW_SECRET, seal_target(LOST_SECRET, "ntfy://topic"), previous=(TEST_SECRET,))


async def test_previous_keys_keep_deliveries_working_before_the_rotation(
    services: Services, webhook: LocalHttpServer
) -> None:
    [channel] = await _apprise_channels(services, webhook.port, 1)
    services.settings = _rotated(services.settings)
    await emit(services, channel.user_id, outbox.EVENT_PRICE_DROP, {"title": "Lamp"}, "drop:1")
    await drain(services)
    assert [d.status for d in await deliveries(services)] == [DeliveryStatus.DELIVERED.value]
    assert len([r for r in webhook.requests if r.path == "/hook"]) == 1


async def test_rotate_key_command_reseals_every_target_in_batches_audited_and_quiet(
    services: Services, webhook: LocalHttpServer, rotating_cli: Callable[[str], None]
) -> None:
    channels = await _apprise_channels(services, webhook.port, 5)
    ann = await create_user(services, username="ann", email="ann@example.com")
    email = await make_channel(services, ann, "email", "ann@example.com")
    clear_url = f"json://127.0.0.1:{webhook.port}/hook?token=clear-s3cret"
    async with services.db.session(write=True) as session:  # a row from before encryption existed
        await session.execute(update(Channel).where(Channel.id == channels[4].id).values(target=clear_url))
    before = await _targets(services)
    rotating_cli(f" {LOST_SECRET} , {TEST_SECRET} ")

    dry = runner.invoke(app, ["notifications", "rotate-key", "--batch-size", "2", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "5 would be re-encrypted" in dry.stdout
    assert await _targets(services) == before

    result = runner.invoke(app, ["notifications", "rotate-key", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "5 Apprise channel(s) checked: 5 re-encrypted, 0 already current" in result.stdout
    assert "batch 3: up to channel" in result.output  # 5 channels, 2 per transaction
    for secret in ("s3cret", "token", TEST_SECRET, NEW_SECRET, "127.0.0.1"):
        assert secret not in result.output
    after = await _targets(services)
    assert after[email.id] == "ann@example.com"
    for number, channel in enumerate(channels):
        assert after[channel.id].startswith(PREFIX) and after[channel.id] != before[channel.id]
        expected = clear_url if number == 4 else f"json://127.0.0.1:{webhook.port}/hook?token=tok-{number}-s3cret"
        assert open_target(NEW_SECRET, after[channel.id]) == expected  # the new key alone opens it

    async with services.db.session() as session:
        events = list((await session.scalars(select(AuditEvent).where(AuditEvent.action == KEYS_ROTATED))).all())
    assert sorted(channel_id for event in events for channel_id in event.details["channels"]) == sorted(
        channel.id for channel in channels
    )
    assert len(events) == 3 and "s3cret" not in json.dumps([event.details for event in events])

    again = runner.invoke(app, ["notifications", "rotate-key"])
    assert again.exit_code == 0, again.output
    assert "0 re-encrypted, 5 already current" in again.stdout
    assert await _targets(services) == after

    # Deliveries work with the new secret alone once the previous keys are removed.
    services.settings = services.settings.model_copy(update={"secret_key": SecretStr(NEW_SECRET)})
    await emit(services, channels[0].user_id, outbox.EVENT_PRICE_DROP, {"title": "Lamp"}, "drop:after")
    await drain(services)
    assert {d.status for d in await deliveries(services)} == {DeliveryStatus.DELIVERED.value}


async def test_rotate_key_lists_targets_no_key_opens_and_exits_1(
    services: Services, webhook: LocalHttpServer, rotating_cli: Callable[[str], None]
) -> None:
    first, lost = await _apprise_channels(services, webhook.port, 2)
    foreign = seal_target(LOST_SECRET, "ntfy://private-topic")
    async with services.db.session(write=True) as session:
        await session.execute(update(Channel).where(Channel.id == lost.id).values(target=foreign))
    rotating_cli(TEST_SECRET)

    result = runner.invoke(app, ["notifications", "rotate-key"])

    assert result.exit_code == 1
    assert "1 re-encrypted" in result.stdout and "1 unreadable" in result.stdout
    assert f"No configured secret opens channel(s) {lost.id}:" in result.output
    assert "private-topic" not in result.output
    after = await _targets(services)
    assert after[lost.id] == foreign  # left as it was: its deliveries fail with the reason
    assert open_target(NEW_SECRET, after[first.id]).startswith("json://")


async def test_an_interrupted_rotation_resumes_and_never_overwrites_a_channel_saved_meanwhile(
    services: Services, webhook: LocalHttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    channels = await _apprise_channels(services, webhook.port, 4)
    settings = _rotated(services.settings)

    class Interrupted(Exception):
        pass

    def stop_after_first_batch(report: RotationReport, last_id: int) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        await rotate_channel_keys(services.db, settings, batch_size=2, progress=stop_after_first_batch)
    halfway = await _targets(services)
    assert open_target(NEW_SECRET, halfway[channels[0].id]) and open_target(NEW_SECRET, halfway[channels[1].id])
    with pytest.raises(UnreadableTarget):
        open_target(NEW_SECRET, halfway[channels[2].id])

    # The owner saves channel 3 between the read and the write: their value must stay.
    saved_by_owner = seal_target(NEW_SECRET, "ntfy://owners-new-topic")
    real_replace = repository.replace_target

    async def owner_saves_first(session: AsyncSession, *, channel_id: int, old: str, new: str) -> bool:
        """The owner's save commits between the rotation's read and its write (a real second transaction)."""
        if channel_id == channels[3].id:
            async with services.db.session(write=True) as other:
                await other.execute(update(Channel).where(Channel.id == channel_id).values(target=saved_by_owner))
        return await real_replace(session, channel_id=channel_id, old=old, new=new)

    if services.db.backend == "sqlite":  # one writer at a time: the owner's save cannot interleave there
        report = await rotate_channel_keys(services.db, settings, batch_size=2)
        assert (report.current, report.resealed) == (2, 2)
        return
    monkeypatch.setattr(repository, "replace_target", owner_saves_first)
    report = await rotate_channel_keys(services.db, settings, batch_size=2)
    assert (report.current, report.resealed, report.changed_meanwhile) == (2, 1, 1)
    final = await _targets(services)
    assert final[channels[3].id] == saved_by_owner
    assert open_target(NEW_SECRET, final[channels[2].id]).endswith("tok-2-s3cret")


def test_unsubscribe_links_in_mail_sent_before_the_rotation_keep_working_while_the_old_key_is_listed() -> None:
    what = Unsubscribe(user_id=7, channel_id=3, event=outbox.EVENT_PRICE_DROP)
    token = make_token(TEST_SECRET, what)
    assert read_token(NEW_SECRET, token) is None
    assert read_token(NEW_SECRET, token, previous=(LOST_SECRET, TEST_SECRET)) == what
    assert read_token(NEW_SECRET, token[:-2] + "AA", previous=(TEST_SECRET,)) is None
