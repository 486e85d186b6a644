"""The dispatcher as an engine job (woken by commits in its process), metrics, and account emails
leaving through the outbox."""

from __future__ import annotations

import asyncio

import pytest
from aiosmtpd.controller import Controller
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from spyglass.core.services import Services
from spyglass.engine import engine as engine_module
from spyglass.engine import service as engine_service
from spyglass.engine.engine import Engine
from spyglass.engine.kinds import SYSTEM_SCHEDULES
from spyglass.engine.models import Run, RunStatus
from spyglass.notifications import outbox
from spyglass.notifications.models import Notification, NotificationStatus
from spyglass.notifications.tasks import DIGEST_KIND, DISPATCH_KIND
from tests.notifications.helpers import emit, make_channel, notifications
from tests.support.factories import create_user
from tests.support.smtp import SmtpServer, _CollectingHandler, first_link
from tests.support.web import post_form


async def wait_for(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_dispatch_job_delivers_what_is_committed_while_it_runs(
    services: Services, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert SYSTEM_SCHEDULES[DISPATCH_KIND] == 60 and DIGEST_KIND in SYSTEM_SCHEDULES
    # The scheduled job on its own (no resident dispatcher in the process), with its linger.
    monkeypatch.delitem(engine_module._RESIDENT_LOOPS, "notifications")
    services.settings = services.settings.model_copy(update={"notifications_linger_seconds": 3.0})
    ann = await create_user(services, username="ann", email="ann@example.com")
    await make_channel(services, ann, "email", "ann@example.com", events={outbox.EVENT_PRICE_DROP: "instant"})
    engine = Engine(services, mode="embedded", concurrency=4)
    await engine.start()
    try:
        async with services.db.session(write=True) as session:
            run = await engine_service.enqueue_run(session, kind=DISPATCH_KIND, user_id=None, payload={})
        engine.dispatcher.wake()

        async def running() -> bool:
            async with services.db.session() as session:
                row = await session.get(Run, run.id)
                return row is not None and row.status == RunStatus.RUNNING.value

        await wait_for(running)
        await emit(services, ann.id, outbox.EVENT_PRICE_DROP, {"title": "Lamp"}, "drop:1")

        async def delivered() -> bool:
            return [n.status for n in await notifications(services)] == [NotificationStatus.DELIVERED.value]

        await wait_for(delivered)

        async def finished() -> bool:
            async with services.db.session() as session:
                row = await session.get(Run, run.id)
                return row is not None and row.status == RunStatus.SUCCEEDED.value

        await wait_for(finished)
    finally:
        await engine.stop(grace_seconds=1)
    assert len(smtp_server.messages_to("ann@example.com")) == 1
    metrics = services.metrics.render().decode()
    assert 'spyglass_notifications_sent_total{channel="email"} 1.0' in metrics
    assert 'spyglass_notification_delivery_latency_seconds_count{channel="email"} 1.0' in metrics


async def test_account_emails_leave_through_the_outbox_and_the_link_is_scrubbed(
    client: AsyncTestClient[Litestar], services: Services, smtp_server: SmtpServer
) -> None:
    password = "violet tractor lantern"
    response = await post_form(
        client,
        "/register",
        {"username": "carol", "email": "carol@example.com", "password": password, "password_confirm": password},
    )
    assert response.status_code == 201
    message = smtp_server.wait_for_message(to="carol@example.com")
    link = first_link(message)
    assert "/verify-email?token=" in link
    assert message["List-Unsubscribe"]
    assert str(message["X-Spyglass-Notification"]).strip().startswith("account.verify_email:")
    async with services.db.session() as session:
        [row] = (await session.scalars(select(Notification))).all()
    assert row.event == outbox.EVENT_VERIFY_EMAIL and row.status == NotificationStatus.DELIVERED.value
    assert row.payload["link"] is None and row.payload["to"] == "carol@example.com"
    assert link.split("token=")[1] not in str(row.payload)


async def test_account_email_is_retried_when_the_mail_server_was_down(
    client: AsyncTestClient[Litestar], services: Services, smtp_server: SmtpServer
) -> None:
    from tests.notifications.helpers import drain

    await create_user(services, username="dave", email="dave@example.com")
    smtp_server.stop()
    try:
        response = await post_form(client, "/password/forgot", {"email": "dave@example.com"})
        assert response.status_code == 200
        [row] = await notifications(services)
        assert row.status == NotificationStatus.PENDING.value and row.last_error
        assert row.payload["link"]  # kept until it is sent
    finally:
        # A stopped aiosmtpd controller cannot start again: the same address gets a new one.
        smtp_server._controller = Controller(
            _CollectingHandler(smtp_server), hostname=smtp_server.host, port=smtp_server.port
        )
        smtp_server.start()
    await asyncio.sleep(0.15)  # past the test settings' backoff cap
    await drain(services)
    message = smtp_server.wait_for_message(to="dave@example.com")
    assert "/password/reset?token=" in first_link(message)
    [row] = await notifications(services)
    assert row.status == NotificationStatus.DELIVERED.value and row.payload["link"] is None


async def test_embedded_engine_keeps_a_dispatcher_alive_between_scheduled_runs(
    services: Services, smtp_server: SmtpServer
) -> None:
    # No linger: a scheduled dispatch run ends at once and the next is a minute away, so only the
    # resident dispatcher can deliver what is committed after the engine started.
    services.settings = services.settings.model_copy(update={"notifications_linger_seconds": 0.0})
    ann = await create_user(services, username="ann", email="ann@example.com")
    await make_channel(services, ann, "email", "ann@example.com", events={outbox.EVENT_PRICE_DROP: "instant"})
    engine = Engine(services, mode="embedded", concurrency=4)
    await engine.start()
    try:
        for number in range(3):
            await emit(services, ann.id, outbox.EVENT_PRICE_DROP, {"title": f"Lamp {number}"}, f"drop:{number}")

            async def delivered(count: int = number + 1) -> bool:
                return len(smtp_server.messages_to("ann@example.com")) == count

            await wait_for(delivered, timeout=15.0)
    finally:
        await engine.stop(grace_seconds=1)
    assert all(task.done() for task in engine._resident_tasks) and engine._resident_tasks == []
