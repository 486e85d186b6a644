"""Mail is built with the fast compat32 classes and sent over reused SMTP connections: non-ASCII subjects,
names and bodies still arrive intact, and a dispatch batch does not open one connection per message."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from spyglass.config import Settings
from spyglass.core.mail import Mail
from spyglass.core.services import Services
from spyglass.notifications import outbox
from tests.conftest import make_settings
from tests.notifications.helpers import drain, emit, make_channel
from tests.support.factories import create_user
from tests.support.smtp import free_port, message_text


class PeerRecorder:
    """An SMTP server that keeps each message with the client address (host, port) of its connection."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.peers: list[tuple[str, int]] = []
        self.port = free_port()

    async def handle_DATA(self, _server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        self.messages.append(message_from_bytes(raw, policy=policy.default))
        self.peers.append(tuple(session.peer))
        return "250 Message accepted for delivery"


@pytest.fixture
def recorder() -> Iterator[PeerRecorder]:
    handler = PeerRecorder()
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def settings(tmp_path: Path, database_url: str, recorder: PeerRecorder) -> Settings:
    return make_settings(
        tmp_path,
        database_url,
        smtp_host="127.0.0.1",
        smtp_port=recorder.port,
        smtp_starttls=False,
        smtp_ssl=False,
        mail_from="Spyglass Élan <noreply@spyglass.test>",
        notifications_send_concurrency=2,
    )


async def test_non_ascii_subject_name_and_body_arrive_intact(services: Services, recorder: PeerRecorder) -> None:
    zoe = await create_user(services, username="zoe", email="zoe@example.com")
    await make_channel(services, zoe, "email", "zoe@example.com", events={outbox.EVENT_PRICE_DROP: "instant"})
    title = "Vélo électrique ☕ — Zoë’s “pick” 自転車"
    await emit(services, zoe.id, outbox.EVENT_PRICE_DROP, {"title": title}, "drop:1")
    await drain(services)

    [message] = recorder.messages
    assert message["Subject"] == f"Price drop: {title}"
    [sender] = message["From"].addresses
    assert sender.display_name == "Spyglass Élan" and sender.addr_spec == "noreply@spyglass.test"
    assert message["To"].addresses[0].addr_spec == "zoe@example.com"
    assert title in message_text(message)
    html = message.get_body(preferencelist=("html",))
    assert html is not None and "Vélo électrique" in str(html.get_content())
    assert message["List-Unsubscribe"].startswith("<http")


async def test_header_injection_is_flattened(services: Services, recorder: PeerRecorder) -> None:
    await services.mailer.send(Mail(to="ann@example.com", subject="Hi\r\nBcc: eve@example.com", text="body"))
    [message] = recorder.messages
    assert message["Bcc"] is None and message["Subject"] == "Hi  Bcc: eve@example.com"


async def test_one_batch_reuses_smtp_connections(services: Services, recorder: PeerRecorder) -> None:
    ann = await create_user(services, username="ann", email="ann@example.com")
    await make_channel(services, ann, "email", "ann@example.com", events={outbox.EVENT_PRICE_DROP: "instant"})
    for number in range(8):
        await emit(services, ann.id, outbox.EVENT_PRICE_DROP, {"title": f"Lamp {number}"}, f"drop:{number}")
    await drain(services)

    assert sorted(str(m["Subject"]) for m in recorder.messages) == [f"Price drop: Lamp {n}" for n in range(8)]
    # Eight messages, two sends at a time: at most two connections, not eight.
    assert len(set(recorder.peers)) <= 2
