"""End to end through the real outbox dispatcher and a real SMTP server (aiosmtpd on 127.0.0.1): the
answer to feedback reaches the user's mailbox, escaped in HTML, and an admin alert reaches each admin."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import cast

import pytest

from spyglass.accounts.models import Role, User
from spyglass.config import Settings
from spyglass.core.db import utcnow
from spyglass.core.services import Services
from spyglass.engine.models import WorkerHeartbeat
from spyglass.feedback import onboarding
from spyglass.feedback.admin_alerts import check_and_alert
from spyglass.feedback.models import Feedback
from spyglass.notifications.dispatcher import OutboxDispatcher
from tests.conftest import make_settings
from tests.feedback.conftest import Client
from tests.support.factories import create_user
from tests.support.smtp import SmtpServer, message_text
from tests.support.web import post_form


@pytest.fixture
def settings(tmp_path: Path, database_url: str, smtp_server: SmtpServer) -> Settings:
    return make_settings(tmp_path, database_url, **smtp_server.settings_overrides())


async def drain(services: Services) -> None:
    dispatcher = OutboxDispatcher(services)
    while await dispatcher.dispatch_batch() > 0:
        pass


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None, "the message has no HTML part"
    return cast(EmailMessage, part).get_content()


async def test_the_answer_is_emailed_to_the_user(
    services: Services, smtp_server: SmtpServer, admin_client: Client, alice: User
) -> None:
    async with services.db.session(write=True) as session:
        feedback = Feedback(user_id=alice.id, kind="question", message="Can I export <listings>?")
        session.add(feedback)
    answer = "Yes: Listings → Export. <script>alert(1)</script>"
    assert (
        await post_form(admin_client, f"/admin/feedback/{feedback.id}/answer", {"answer": answer})
    ).status_code == 303
    await drain(services)
    message = smtp_server.wait_for_message(to="alice@example.test")
    assert "An answer to your feedback" in str(message["Subject"])
    assert answer in message_text(message)
    html = html_of(message)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert f"/feedback/{feedback.id}" in html
    await drain(services)  # nothing is sent twice
    assert len(smtp_server.messages_to("alice@example.test")) == 1


async def test_an_admin_alert_is_emailed_to_each_active_admin(services: Services, smtp_server: SmtpServer) -> None:
    await create_user(services, username="ada", email="ada@example.test", role=Role.ADMIN)
    await create_user(services, username="old", email="old@example.test", role=Role.ADMIN, active=False)
    await create_user(services, username="joe", email="joe@example.test")
    async with services.db.session(write=True) as session:
        seen = utcnow() - timedelta(minutes=5)
        session.add(
            WorkerHeartbeat(
                worker_id="w-1", hostname="node-7", pid=7, mode="distributed", concurrency=4, last_seen_at=seen
            )
        )
    await check_and_alert(services)
    await check_and_alert(services)
    await drain(services)
    message = smtp_server.wait_for_message(to="ada@example.test")
    assert "Worker w-1 stopped heartbeating" in str(message["Subject"])
    assert "host node-7" in message_text(message)
    assert len(smtp_server.messages_to("ada@example.test")) == 1
    assert smtp_server.messages_to("old@example.test") == [] and smtp_server.messages_to("joe@example.test") == []


async def test_the_welcome_email_is_sent_once_per_account(
    services: Services, smtp_server: SmtpServer, alice: User
) -> None:
    for _ in range(2):  # asked twice (a retried request): one email
        async with services.db.session(write=True) as session:
            await onboarding.send_welcome(
                session,
                user_id=alice.id,
                username=alice.username,
                email=alice.email,
                base_url=services.settings.base_url,
            )
    await drain(services)
    message = smtp_server.wait_for_message(to="alice@example.test")
    assert str(message["Subject"]) == "Welcome to Spyglass"
    text = message_text(message)
    assert "Hello alice," in text and "The checklist on your home page keeps track." in text
    assert f"{services.settings.base_url}/" in text
    assert len(smtp_server.messages_to("alice@example.test")) == 1
